"""Network-free comparison of tonal-profile shapes: block length, envelope width, query stride.

    python -m benchmarks.profile_shapes --side tuning [--shapes 44x9/2 20x17/1 ...]

Written for issue 15 (eleventh session), to choose ``tonal_profile.BLOCK_FRAMES``,
``ENVELOPE_BINS`` and ``QUERY_STRIDE`` on the TUNING side of ``benchmarks.by_source``. Unlike
``benchmarks.profile_variants`` (which varies only the recording's analysis), a shape changes the
songs' profiles too, so every song's profiles are made again for each shape (from its |STFT|,
computed once). A shape is written ``FRAMESxENVELOPE/STRIDE``. Two sets of recordings:

* ``by-source``: the side's own recordings (``by_source.build_queries``, the same seeds and cache);
* ``harder``: new recordings of the same side's songs and noise, at -5, -8 and -11 dB (10-s, and
  5-s and 3-s cut from them; two excerpts per enrolled song, three per unknown), because on the
  side's own recordings every shape separates 90-94 % and the differences are a few recordings.

What is printed per shape and set is ``profile_variants.separability``: the share of enrolled
recordings whose right song is ranked first *and* leads the runner-up by at least the 95th
percentile of the unknown recordings' margins. The recording's steady part is taken out as the
product does (``tonal_profile.without_steady_part``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from benchmarks import by_source
from benchmarks.by_source import SIDES, build_queries, side_songs
from benchmarks.common import bench_cache, write_result
from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, ensure_corpus
from benchmarks.profile_variants import separability, truth_and_labels
from musicid_core import fingerprint as fp
from musicid_core import tonal_profile as tp

DEFAULT_SHAPES = ("44x9/2", "44x17/2", "32x13/2", "24x13/2", "20x17/2", "44x9/1", "24x13/1", "20x13/1", "20x17/1",
                  "24x17/1", "16x13/1", "32x13/1")
"""44x9/2 is the analysis before the eleventh session; 20x17/1 the one it chose."""
HARDER_SNRS = (-5, -8, -11)
HARDER_LENGTHS = {("plain", -5): (10, 5, 3), ("plain", -8): (10, 5), ("plain", -11): (10,)}


@dataclass(frozen=True)
class Shape:
    frames: int
    envelope: int
    stride: int

    @classmethod
    def parse(cls, text: str) -> "Shape":
        blocks, stride = text.split("/")
        frames, envelope = blocks.split("x")
        return cls(int(frames), int(envelope), int(stride))

    def __str__(self) -> str:
        return f"{self.frames}x{self.envelope}/{self.stride}"

    def profiles(self, power: np.ndarray, hop: int) -> np.ndarray:
        """``tonal_profile._block_profiles`` with this block length and envelope width."""
        count = 0 if power.shape[1] < self.frames else 1 + (power.shape[1] - self.frames) // hop
        if count == 0:
            return np.zeros((0, power.shape[0]), np.float32)
        running = np.concatenate([np.zeros((power.shape[0], 1)), np.cumsum(power, axis=1, dtype=np.float64)], axis=1)
        starts = np.arange(count) * hop
        log_power = np.log((running[:, starts + self.frames] - running[:, starts]) / self.frames + 1e-10)
        contrast = log_power - ndimage.uniform_filter1d(log_power, self.envelope, axis=0, mode="nearest")
        contrast -= contrast.mean(axis=0, keepdims=True)
        contrast /= np.linalg.norm(contrast, axis=0, keepdims=True) + 1e-9
        return contrast.T.astype(np.float32)


def song_power(audio: np.ndarray) -> np.ndarray:
    """A whole song's |STFT|^2 over the profiles' band, float32, computed in chunks of frames."""
    n_frames = 0 if audio.size < fp.N_FFT else 1 + (audio.size - fp.N_FFT) // fp.HOP
    parts = [np.zeros((fp.MAX_BIN - fp.MIN_BIN, 0), np.float32)]
    for first in range(0, n_frames, 2000):
        count = min(2000, n_frames - first)
        parts.append(fp.power_spectrum(audio[first * fp.HOP : (first + count - 1) * fp.HOP + fp.N_FFT]).astype(np.float32))
    return np.concatenate(parts, axis=1)


def harder_queries(side, enrolled, unknown) -> dict:  # type: ignore[no-untyped-def]
    """The side's songs at lower SNRs than ``by_source``'s, cached beside its recordings."""
    saved = by_source.SNRS, by_source.DRIFT_SNRS, by_source.QUERY_LENGTHS, by_source.queries_file
    by_source.SNRS, by_source.DRIFT_SNRS, by_source.QUERY_LENGTHS = HARDER_SNRS, (), HARDER_LENGTHS
    by_source.queries_file = lambda side, args: bench_cache() / f"profile-shapes-harder-v1-{side.name}.npz"
    try:
        return build_queries(side, enrolled, unknown, argparse.Namespace(excerpts=2, unknown_excerpts=3))
    finally:
        by_source.SNRS, by_source.DRIFT_SNRS, by_source.QUERY_LENGTHS, by_source.queries_file = saved


def evaluate(shape: Shape, songs_power: list[np.ndarray], queries_power: list[np.ndarray], truth: np.ndarray,
             labels: np.ndarray) -> dict:
    stride = tp.QUERY_STRIDE
    tp.QUERY_STRIDE = shape.stride  # what ProfileIndex.match_profiles aligns the query's blocks by
    try:
        index = tp.ProfileIndex.from_songs([shape.profiles(p, tp.BLOCK_HOP) for p in songs_power])
        scores = np.stack([index.match_profiles(shape.profiles(q, tp.BLOCK_HOP * shape.stride)).similarity for q in queries_power])
    finally:
        tp.QUERY_STRIDE = stride
    first, right, threshold = separability(scores, truth)
    enrolled = truth >= 0
    row = {"unknown_margin_p95": threshold, "separated": float(right[enrolled].mean()), "ranked_first": float(first[enrolled].mean())}
    for condition in sorted(set(labels)):
        mask = (labels == condition) & enrolled
        row[condition] = float(right[mask].mean())
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=sorted(SIDES), default="tuning")
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES))
    args = parser.parse_args(argv)
    from musicid_core.audio.decode import load_audio

    shapes = [Shape.parse(s) for s in args.shapes]
    side = SIDES[args.side]
    enrolled, unknown = side_songs(side, ensure_corpus(packages=SONG_PACKAGES + HELD_OUT_SONG_PACKAGES))
    sets = {"by-source": build_queries(side, enrolled, unknown, argparse.Namespace(excerpts=1, unknown_excerpts=2)),
            "harder": harder_queries(side, enrolled, unknown)}
    started = time.monotonic()
    songs_power = [song_power(load_audio(s.path)) for s in enrolled]
    print(f"songs' spectra in {time.monotonic() - started:.0f} s", flush=True)
    table: dict[str, dict] = {}
    for name, queries in sets.items():
        truth, labels = truth_and_labels(queries, enrolled)
        queries_power = []
        for i in range(len(truth)):
            audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
            queries_power.append(np.square(fp.query_magnitude(fp.central_segment(audio))))
        table[name] = {"enrolled_recordings": int((truth >= 0).sum()), "unknown_recordings": int((truth < 0).sum()), "shapes": {}}
        for shape in shapes:
            t = time.monotonic()
            row = evaluate(shape, songs_power, queries_power, truth, labels)
            table[name]["shapes"][str(shape)] = row
            print(f"{name:9s} {str(shape):8s} separated {row['separated']:6.1%}  ranked first {row['ranked_first']:6.1%}  "
                  f"(unknown p95 margin {row['unknown_margin_p95']:.3f}; {time.monotonic() - t:.0f} s)", flush=True)
    print("wrote", write_result(f"profile-shapes-{args.side}", {
        "kind": "profile-shapes", "side": args.side, "steady_share": tp.QUERY_STEADY_SHARE, "sets": table}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
