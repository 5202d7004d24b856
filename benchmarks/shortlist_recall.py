"""How often the shortlist's summaries keep the right song, per summary recipe: offline, no verdict.

    python -m benchmarks.shortlist_recall --size 10000 --side tuning [--recipes 16/8x5 16/8x4:raw ...]

Written for issue 14 (twelfth session), to set ``shortlist.SUMMARY_BLOCKS``, ``SUMMARY_HOP`` and
``QUERY_PARTS`` and whether a recording's parts leave out its steady part, on the TUNING side of
``benchmarks.scale``'s libraries. The library is built in memory as ``benchmarks.scale`` builds it
(its real songs first, then distractors derived from them, ``scale_data.derived_analysis``; only
their profiles are needed), the projection fitted on the same seeded sample of its songs
(``shortlist.fit_basis``), and every enrolled recording of the side (``scale_data.recordings``,
10-s phone recordings at 0 and -5 dB) is scored against every song's summaries with the product's
``shortlist.SummaryTable``. Printed per recipe and SNR: recordings whose right song is among the
best 15 / 60 / 120 / 240 songs, the mean log10 of its rank (0: first), a finer measure than the
counts at a few dozen recordings, and how many of the songs ranked above it are distractors
derived from that very song (``missed_120_without_own_variants``: of the recordings missing the
best 120, those that would miss it without them too). The exact checks and the verdict are not run: for those,
``benchmarks.scale``.

A recipe is written ``BLOCKS/HOPxPARTS``, with ``@DIMS`` for another number of principal
directions than 64 and ``:raw`` for parts averaged from the recording's profiles as analysed
(before the twelfth session) instead of without their steady part. ``--snrs`` makes (and caches)
recordings at other SNRs than the scale benchmark's 0 and -5 dB, e.g. a harder tuning set. The
shortlist module's constants are set to a recipe for its run and restored after.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import re
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from benchmarks import scale_data
from benchmarks.common import command_line, machine, write_result

TOPS = (15, 60, 120, 240)


@dataclass(frozen=True)
class Recipe:
    blocks: int
    hop: int
    parts: int
    steady_part_out: bool = True
    dims: int = 64

    @classmethod
    def parse(cls, text: str) -> "Recipe":
        found = re.fullmatch(r"(\d+)/(\d+)x(\d+)(@\d+)?(:raw)?", text)
        if found is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not BLOCKS/HOPxPARTS[@DIMS][:raw]")
        dims = int(found[4][1:]) if found[4] else 64
        return cls(int(found[1]), int(found[2]), int(found[3]), found[5] is None, dims)

    def __str__(self) -> str:
        return (f"{self.blocks}/{self.hop}x{self.parts}" + ("" if self.dims == 64 else f"@{self.dims}")
                + ("" if self.steady_part_out else ":raw"))


@contextlib.contextmanager
def recipe_in_force(recipe: Recipe) -> Iterator[None]:
    """The shortlist module's constants (and its steady-part step) set to ``recipe`` meanwhile."""
    from musicid_core import shortlist

    saved = shortlist.SUMMARY_BLOCKS, shortlist.SUMMARY_HOP, shortlist.QUERY_PARTS, shortlist.without_steady_part
    shortlist.SUMMARY_BLOCKS, shortlist.SUMMARY_HOP, shortlist.QUERY_PARTS = recipe.blocks, recipe.hop, recipe.parts
    if not recipe.steady_part_out:
        shortlist.without_steady_part = lambda query: query
    try:
        yield
    finally:
        shortlist.SUMMARY_BLOCKS, shortlist.SUMMARY_HOP, shortlist.QUERY_PARTS, shortlist.without_steady_part = saved


def library_profiles(size: int, snrs: tuple[int, ...]) -> tuple[list[np.ndarray], list[str]]:
    """Every song's int8 profiles of ``benchmarks.scale``'s library of ``size`` songs, and the ids
    of its real songs (the first ones)."""
    from musicid_core.fingerprint import Landmarks
    from musicid_core.song_index import SongAnalysis

    songs = scale_data.scale_songs()
    queried = {r.song_id for r in scale_data.recordings(songs, *_recording_args(snrs))}
    enrolled = sorted(songs.enrolled, key=lambda s: s.song_id not in queried)[:size]
    real = [(s.song_id, scale_data.real_analysis(s).profiles) for s in enrolled]
    pairs = list(itertools.islice(scale_data.variants(seed=0), scale_data.VARIANT_COUNT))
    no_landmarks = Landmarks(np.zeros(0, np.uint32), np.zeros(0, np.int32))
    profiles = [p for _, p in real]
    for k in range(len(real), size):
        base = real[(k - len(real)) % len(real)][1]
        semitones, tempo = pairs[(k - len(real)) % len(pairs)]
        profiles.append(scale_data.derived_analysis(SongAnalysis(no_landmarks, base), semitones, tempo).profiles)
    return profiles, [song_id for song_id, _ in real]


def _recording_args(snrs: tuple[int, ...]) -> tuple:
    """``benchmarks.scale``'s recordings (the same songs picked whatever the SNRs)."""
    from benchmarks.scale import RECORDINGS

    return RECORDINGS[0], RECORDINGS[1], tuple(snrs)


def base_songs(size: int, real: int) -> np.ndarray:
    """Per song of the library, the real song it is (real songs) or was derived from (distractors)."""
    k = np.arange(size)
    return np.where(k < real, k, (k - real) % max(real, 1))


def ranks(recipe: Recipe, profiles: list[np.ndarray], queries: list[tuple[int, np.ndarray]], real: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query (right song, its analysed profiles): how many songs score above the right one, and
    how many of those are distractors derived from the right song itself (its own pitch and tempo
    variants, which a real library would hardly hold)."""
    from musicid_core import fingerprint, shortlist
    from musicid_core.song_index import FIT_SONGS

    with recipe_in_force(recipe):
        size = len(profiles)
        sample = np.sort(np.random.default_rng(0).choice(size, min(FIT_SONGS, size), replace=False))
        basis = shortlist.fit_basis((profiles[int(k)] for k in sample), fingerprint.MAX_BIN - fingerprint.MIN_BIN, recipe.dims)
        summaries = [shortlist.song_summaries(p, basis) for p in profiles]
        starts = np.concatenate([[0], np.cumsum([s.shape[0] for s in summaries])])[:-1]
        table = shortlist.SummaryTable(basis, [(np.ascontiguousarray(np.concatenate(summaries).T), starts, np.arange(size))], size)
        base = base_songs(size, real)
        found, own = [], []
        for song, query in queries:
            scores = table.scores(query)
            above = scores > scores[song]
            found.append(int(above.sum()))
            own.append(int((above & (base == song)).sum()))
    return np.array(found), np.array(own)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--side", choices=("tuning", "held-out"), default="tuning")
    parser.add_argument("--snrs", type=int, nargs="+", default=None, help="default: benchmarks.scale's")
    parser.add_argument("--recipes", type=Recipe.parse, nargs="+", default=[Recipe.parse("16/8x4:raw"), Recipe.parse("16/8x5")])
    args = parser.parse_args(argv)
    from musicid_core.fingerprint import analyse_query

    from benchmarks.scale import RECORDINGS

    snrs_made = tuple(args.snrs) if args.snrs else RECORDINGS[2]
    started = time.monotonic()
    profiles, ids = library_profiles(args.size, snrs_made)
    recordings = [r for r in scale_data.recordings(scale_data.scale_songs(), *_recording_args(snrs_made))
                  if r.side == args.side and r.song_id is not None]
    queries = [(ids.index(r.song_id), analyse_query(r.audio).profiles) for r in recordings]
    snrs = np.array([r.snr_db for r in recordings])
    print(f"{args.size} songs, {args.side} side: {len(queries)} recordings ({time.monotonic() - started:.0f} s to prepare)", flush=True)
    rows = []
    for recipe in args.recipes:
        found, own = ranks(recipe, profiles, queries, len(ids))
        row = {"recipe": str(recipe)}
        for snr in sorted(set(snrs.tolist()), reverse=True):
            r, o = found[snrs == snr], own[snrs == snr]
            missed = r >= 120
            row[f"{snr:+d} dB"] = {"n": int(r.size), **{f"best_{k}": int((r < k).sum()) for k in TOPS},
                                   "mean_log10_rank": round(float(np.mean(np.log10(r + 1))), 3),
                                   "own_variants_above": int(o.sum()), "songs_above": int(r.sum()),
                                   "missed_120_without_own_variants": int(((r - o) >= 120)[missed].sum())}
        rows.append(row)
        print(f"{recipe}: " + "  ".join(f"{k}: best {'/'.join(str(v[f'best_{t}']) for t in TOPS)} of {v['n']}, "
                                        f"mean log rank {v['mean_log10_rank']}, own variants {v['own_variants_above']} of "
                                        f"{v['songs_above']} songs above" for k, v in row.items() if k != "recipe"), flush=True)
    suffix = "" if args.snrs is None else "-snr" + "_".join(map(str, snrs_made))
    print("wrote", write_result(f"shortlist-recall-{args.side}-{args.size}{suffix}", {
        "kind": "shortlist-recall", "size": args.size, "side": args.side, "tops": list(TOPS), "recipes": rows,
        "command": command_line(), "machine": machine()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
