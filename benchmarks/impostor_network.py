"""Does the calibration miss what the network adds? The verdict weighs the network's belief, but
the margins are calibrated on impostor recordings kept as analyses only (``training.fingerprints``),
so a stranger the network favours might pass more often than the calibration says.

    python -m benchmarks.impostor_network dump [--side tuning]    # the network's answers for every impostor
    python -m benchmarks.impostor_network report [--side tuning]  # by-source rows, margins calibrated per variant

``dump`` runs the side's cached by-source model (``benchmarks.by_source``) over each calibration
impostor recording (``training.fingerprints.impostor_recordings``, exactly as training makes them:
bundled negatives, the validation share of the library's noise, the default seed), at nominal
speed as the speed search keeps the network. ``report`` replays the by-source answers with the
product's own code (``benchmarks.speed_grid.grid_rows`` on ``speed_grid dump``'s evidence, the
shipped search 0.99/1.01), the margins calibrated with each ``VARIANTS`` entry: which impostors
count, and whether the network's answer is part of each impostor's claim
(``verdict.impostor_probability``). One negative clip in four (``ClipBank.split``) is never trained
on as the "not in your library" class: those are the impostors the network has not heard.
Written to ``benchmarks/results/impostor-network-<side>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import bench_cache, command_line, machine, write_result

HOLDOUT_EVERY = 4
"""``training.noise_bank.ClipBank.split``: negative clip ``i`` is validation-only when ``i % 4 == 0``."""
VARIANTS: dict[str, tuple[str, str]] = {
    "every impostor, analyses only (shipped)": ("all", "none"),
    "every impostor, network heard": ("all", "all"),
    "network heard on never-trained negatives, the rest analyses only": ("all", "untrained"),
    "never-trained negatives only, analyses only": ("untrained", "none"),
    "never-trained negatives only, network heard": ("untrained", "all"),
}
"""name: (which impostors count, whose network answer is part of its claim)."""
ORDER = [("plain", 10, 10), ("plain", 10, 5), ("plain", 10, 0), ("plain", 10, -5), ("plain", 5, 0),
         ("plain", 3, 5), ("drift", 10, 5), ("drift", 10, 0), ("drift", 5, 0), ("drift", 3, 5)]


def answers_file(side: str) -> Path:
    return bench_cache() / f"impostor-network-{side}.npz"


def dump(side_name: str) -> Path:
    from benchmarks.by_source import SIDES, side_root, side_songs, trained_library
    from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, ensure_corpus
    from musicid_core.features import recording_windows
    from musicid_core.library import Library
    from musicid_core.recognizer import Recognizer
    from training.fingerprints import impostor_recordings
    from training.noise_bank import load_negative_bank, load_noise_bank
    from training.train import TrainOptions

    side = SIDES[side_name]
    enrolled, _ = side_songs(side, ensure_corpus(packages=SONG_PACKAGES + HELD_OUT_SONG_PACKAGES))
    bundle, _, _ = trained_library(side, enrolled)
    recognizer = Recognizer(bundle)
    options = TrainOptions()
    noise = load_noise_bank(Library(side_root(side)), options.noise_packs).split()[1]
    network, clips = [], []
    for clip, audio in impostor_recordings(load_negative_bank(options.negatives_dir).clips, noise, options.seed):
        network.append(recognizer.song_probabilities(recording_windows(audio, recognizer.settings)).mean(axis=0))
        clips.append(clip)
    path = answers_file(side_name)
    np.savez(path, network=np.array(network), clip=np.array(clips))
    return path


def variant_inputs(data: dict, network: np.ndarray, clip: np.ndarray, which: str, heard: str) -> tuple[dict, list]:  # type: ignore[type-arg]
    """The evidence with only the variant's impostors, and each one's network answer or None."""
    untrained = clip % HOLDOUT_EVERY == 0
    keep = untrained if which == "untrained" else np.ones(len(clip), bool)
    kept = dict(data, impostor_counts=data["impostor_counts"][keep], impostor_similarity=data["impostor_similarity"][keep])
    songs = network[:, :-1]  # the last column is "not in your library"; the verdict sees songs only
    answers = [songs[i] if heard == "all" or (heard == "untrained" and untrained[i]) else None for i in np.flatnonzero(keep)]
    return kept, answers


def report(side_name: str) -> dict:
    from benchmarks.speed_grid import evidence_file, grid_rows
    from musicid_core import speed_search

    with np.load(evidence_file(side_name)) as f:
        data = {k: f[k] for k in f.files}
    with np.load(answers_file(side_name)) as f:
        network, clip = f["network"], f["clip"]
    if len(network) != len(data["impostor_counts"]):
        raise SystemExit(f"{len(network)} network answers for {len(data['impostor_counts'])} impostors: dump both again")
    out = {}
    for name, (which, heard) in VARIANTS.items():
        kept, answers = variant_inputs(data, network, clip, which, heard)
        rows = grid_rows(kept, speed_search.SPEEDS, impostor_networks=answers)
        out[name] = {k: rows[k] for k in ("fingerprint_margin", "profile_margin", "impostors_rejected", "conditions")}
        out[name]["impostors"] = len(answers)
    untrained = clip % HOLDOUT_EVERY == 0
    best = network[:, :-1].max(axis=1)
    return {"variants": out, "network_best_song_probability": {
        "never trained on, median / 90th / max": np.percentile(best[untrained], [50, 90, 100]).round(3).tolist(),
        "trained on, median / 90th / max": np.percentile(best[~untrained], [50, 90, 100]).round(3).tolist()}}


def print_report(side: str, result: dict) -> None:
    for name, v in result["variants"].items():
        keyed = {(r["condition"], r["length_s"], r["snr_db"]): r for r in v["conditions"]}
        right = sum(round(keyed[k]["right_match"] * 57) for k in ORDER if k in keyed)
        worst = min(keyed[k].get("unknown_answered_unknown", 1.0) for k in ORDER if k in keyed)
        print(f"[{side}] {name} ({v['impostors']} impostors): margins {v['fingerprint_margin']:.0f} / "
              f"{v['profile_margin']:.4f}; right match {right} of {57 * len(ORDER)}; worst unknown cell {worst:.1%}")
        for k in ORDER:
            r = keyed.get(k)
            if r is not None:
                print(f"    {k[0]:5s} {k[1]:2d}-s {k[2]:+3d} dB  top1 {r['top1']:.1%}  match {r['right_match']:.1%}  "
                      f"unknown {r.get('unknown_answered_unknown', float('nan')):.1%}")
    print(f"[{side}] network's best song probability for impostors: {result['network_best_song_probability']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["dump", "report"])
    parser.add_argument("--side", nargs="+", default=["tuning", "held-out"])
    args = parser.parse_args(argv)
    for side in args.side:
        if args.what == "dump":
            started = time.monotonic()
            print(f"[{side}] wrote {dump(side)} in {time.monotonic() - started:.0f} s", flush=True)
        else:
            result = report(side)
            print_report(side, result)
            write_result(f"impostor-network-{side}", {"command": command_line(), "machine": machine(), **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
