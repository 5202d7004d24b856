"""Network-free comparison of how a recording's aligned profile cosines are pooled into a score.

    python -m benchmarks.profile_aggregation --side tuning [--rules mean top-0.5 ...]

Written for issue 15 (fourteenth session). ``ProfileIndex.match_profiles`` scores a song at a
start by the *mean* cosine of the recording's blocks with the song's blocks laid under them. In a
room, some of a recording's quarter-second blocks are the music and some are a voice, a clatter
of dishes or a car: those blocks' cosines with the right song are near chance and pull its mean
towards the impostors'. The rules compared here pool the same aligned cosines differently:

* ``mean``: the product's rule;
* ``top-Q``: the mean of the best share Q of the recording's blocks at that start (a trimmed mean);
* ``z``: each of the recording's blocks z-scored against its cosines with every block of the
  library first (a block that resembles everything, a hum or a broad chord, counts less), then
  the mean; ``z-top-Q``: both;
* ``RULE/centre`` and ``RULE/startz``: each song's best start measured against the song's *other*
  starts for this recording (its best minus its mean over starts; or that over their spread). A
  long song has more starts for chance to pick the best of, and a song whose profiles resemble
  most music sits higher at every start: both made "hub" songs that outrank the right one on the
  held-out side (PsymongN5, among the longest UFO:AI tracks, was the profiles' first song for 79 of
  600 unknown recordings and outranked the right song in 20 of 73 misses, fourteenth session).

Songs are analysed as the product does (``tonal_profile.tonal_profiles``), recordings too
(``fingerprint.central_segment``, ``without_steady_part``, at most ``longest_query`` blocks). Two
sets, as ``benchmarks.profile_shapes``: the side's by-source recordings and its harder set (-5,
-8, -11 dB). Printed per rule and set: ``profile_variants.separability`` (right song first with a
lead above the unknown recordings' 95th-percentile margin) and the share ranked first.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.by_source import SIDES, build_queries, side_songs
from benchmarks.common import write_result
from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, ensure_corpus
from benchmarks.profile_shapes import harder_queries
from benchmarks.profile_variants import separability, truth_and_labels
from musicid_core import fingerprint as fp
from musicid_core import tonal_profile as tp

DEFAULT_RULES = ("mean", "top-0.75", "top-0.5", "top-0.35", "z", "z-top-0.75", "z-top-0.5", "mean/centre", "mean/startz")


class PaddedLibrary:
    """Every song's profiles in one (rows, bins) matrix with ``GAP_BLOCKS`` zero rows after each
    song, as ``ProfileIndex`` lays them out, and each song's own rows (where a start may fall)."""

    def __init__(self, per_song: list[np.ndarray]) -> None:
        lengths = np.array([p.shape[0] for p in per_song])
        self.starts = np.concatenate([[0], np.cumsum(lengths + tp.GAP_BLOCKS)])[:-1]
        self.lengths = lengths
        self.rows_t = np.zeros((per_song[0].shape[1], int(lengths.sum()) + tp.GAP_BLOCKS * len(per_song)), np.float32)
        for k, rows in enumerate(per_song):
            self.rows_t[:, self.starts[k] : self.starts[k] + lengths[k]] = rows.T
        self.real = np.zeros(self.rows_t.shape[1], bool)
        for k in range(len(per_song)):
            self.real[self.starts[k] : self.starts[k] + lengths[k]] = True

    def scores(self, query: np.ndarray, rules: list[str]) -> dict[str, np.ndarray]:
        """Per rule, each song's best start's pooled cosine."""
        n_songs = len(self.lengths)
        if query.shape[0] == 0:
            return {rule: np.zeros(n_songs) for rule in rules}
        products = np.ascontiguousarray(query @ self.rows_t)  # (blocks, rows)
        n_query, n_rows = products.shape
        out = {}
        for rule in rules:
            values = products
            pooling, _, per_song = rule.partition("/")
            if pooling == "z" or pooling.startswith("z-"):
                real = products[:, self.real]
                mean, spread = real.mean(axis=1, keepdims=True), real.std(axis=1, keepdims=True) + 1e-9
                values = np.where(self.real[None, :], (products - mean) / spread, 0.0).astype(np.float32)
            # aligned[r, s] = values[r, s + r]: block r of the recording under start s.
            width = n_rows - n_query + 1
            aligned = np.lib.stride_tricks.as_strided(
                values, shape=(n_query, width), strides=(values.strides[0] + values.strides[1], values.strides[1]))
            share = float(pooling.rsplit("-", 1)[1]) if "top-" in pooling else 1.0
            keep = max(1, int(round(share * n_query)))
            if keep >= n_query:
                pooled = aligned.mean(axis=0)
            else:
                pooled = -np.partition(-aligned, keep - 1, axis=0)[:keep].mean(axis=0)
            similarity = np.zeros(n_songs)
            for k in range(n_songs):
                if self.lengths[k]:
                    own = pooled[self.starts[k] : self.starts[k] + self.lengths[k]]
                    similarity[k] = own.max()
                    if per_song == "centre":
                        similarity[k] -= own.mean()
                    elif per_song == "startz":
                        similarity[k] = (similarity[k] - own.mean()) / (own.std() + 1e-9)
            out[rule] = similarity
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=sorted(SIDES), default="tuning")
    parser.add_argument("--rules", nargs="+", default=list(DEFAULT_RULES))
    parser.add_argument("--sets", nargs="+", default=["by-source", "harder"], choices=["by-source", "harder"])
    args = parser.parse_args(argv)
    from musicid_core.audio.decode import load_audio

    side = SIDES[args.side]
    enrolled, unknown = side_songs(side, ensure_corpus(packages=SONG_PACKAGES + HELD_OUT_SONG_PACKAGES))
    sets = {}
    if "by-source" in args.sets:
        sets["by-source"] = build_queries(side, enrolled, unknown, argparse.Namespace(excerpts=1, unknown_excerpts=2))
    if "harder" in args.sets:
        sets["harder"] = harder_queries(side, enrolled, unknown)
    started = time.monotonic()
    library = PaddedLibrary([tp.tonal_profiles(load_audio(s.path)) for s in enrolled])
    print(f"songs' profiles in {time.monotonic() - started:.0f} s", flush=True)
    table: dict[str, dict] = {}
    for name, queries in sets.items():
        truth, labels = truth_and_labels(queries, enrolled)
        scores = {rule: np.zeros((len(truth), len(enrolled))) for rule in args.rules}
        t = time.monotonic()
        for i in range(len(truth)):
            audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
            segment = fp.central_segment(audio)
            query = tp.without_steady_part(tp.longest_query(
                tp.tonal_profiles(segment, tp.BLOCK_HOP * tp.QUERY_STRIDE, fp.query_magnitude(segment))))
            for rule, values in library.scores(query, args.rules).items():
                scores[rule][i] = values
        print(f"{name}: {len(truth)} recordings in {time.monotonic() - t:.0f} s", flush=True)
        table[name] = {"enrolled_recordings": int((truth >= 0).sum()), "unknown_recordings": int((truth < 0).sum()), "rules": {}}
        for rule in args.rules:
            first, right, threshold = separability(scores[rule], truth)
            enrolled_mask = truth >= 0
            row = {"unknown_margin_p95": threshold, "separated": float(right[enrolled_mask].mean()),
                   "ranked_first": float(first[enrolled_mask].mean())}
            for condition in sorted(set(labels)):
                mask = (labels == condition) & enrolled_mask
                row[condition] = [float(right[mask].mean()), float(first[mask].mean())]
            table[name]["rules"][rule] = row
            print(f"{name:9s} {rule:11s} separated {row['separated']:6.1%}  ranked first {row['ranked_first']:6.1%}"
                  f"  (unknown p95 margin {threshold:.3f})", flush=True)
    print("wrote", write_result(f"profile-aggregation-{args.side}", {
        "kind": "profile-aggregation", "side": args.side, "sets": table}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
