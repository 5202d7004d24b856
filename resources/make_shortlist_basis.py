"""Fit the shortlist's projection (``resources/shortlist_basis.npy``), reproducibly.

``musicid_core.shortlist`` compares a recording with 5-s summaries of every song's tonal profiles
projected on their ``BASIS_DIMS`` principal directions. The directions are fitted here, once, on
the summaries of the benchmark's *tuning*-side songs only (Wesnoth, Drascula, Planet Blupi:
``benchmarks.scale_data.TUNING_ENROLLED``), so no held-out song shapes them; the file ships with
the program and every library's summaries are made with it.

    python resources/make_shortlist_basis.py [--out resources/shortlist_basis.npy]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def fit(profiles: list[np.ndarray], dims: int) -> np.ndarray:
    """Principal directions (uncentred: cosines are taken about the origin) of the unit-normed
    5-s means of the songs' profiles."""
    from musicid_core.shortlist import SUMMARY_BLOCKS, SUMMARY_HOP
    from musicid_core.tonal_profile import QUANTISATION

    means = []
    for rows in profiles:
        p = rows.astype(np.float32) / QUANTISATION
        running = np.concatenate([np.zeros((1, p.shape[1]), np.float32), np.cumsum(p, axis=0)])
        starts = np.arange(0, max(1, p.shape[0] - SUMMARY_BLOCKS + 1), SUMMARY_HOP)
        means.append(running[np.minimum(starts + SUMMARY_BLOCKS, p.shape[0])] - running[starts])
    x = np.concatenate(means)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-9
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return vt[:dims].T.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.scale_data import real_analysis, scale_songs
    from musicid_core.shortlist import BASIS_DIMS, BASIS_FILE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / BASIS_FILE)
    args = parser.parse_args(argv)
    songs = scale_songs()
    tuning = [s for s in songs.enrolled if songs.side[s.song_id] == "tuning"]
    basis = fit([real_analysis(s).profiles for s in tuning], BASIS_DIMS)
    np.save(args.out, basis, allow_pickle=False)
    print(f"{args.out}: {basis.shape} from {len(tuning)} tuning-side songs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
