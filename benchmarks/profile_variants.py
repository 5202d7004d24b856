"""Network-free comparison of ways to analyse a recording for the landmark and profile checks.

    python -m benchmarks.profile_variants --side tuning [--out FILE.npz]

Written for issue 15 (ninth session), to choose ``tonal_profile.QUERY_STEADY_SHARE`` on the
TUNING side of ``benchmarks.by_source`` (its 57 songs, its recordings, same seeds and cache) with
no network and no verdict in the way: for each recording and each variant, every song's aligned
landmark count or profile similarity. What is printed per variant and condition is the share of
enrolled recordings whose right song is ranked first *and* leads the runner-up by at least the
95th percentile of the unknown recordings' (top - second) margins, i.e. how well the check alone
separates right answers from strangers at a fixed rejection. The song side is analysed as the
product does (``FingerprintIndex.build``, in memory); only the recording's side varies.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.by_source import SIDES, Side, build_queries, side_songs
from benchmarks.common import write_result
from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, ensure_corpus
from musicid_core import fingerprint as fp
from musicid_core import tonal_profile as tp

LANDMARK_VARIANTS = {  # name: (query peaks per second, time-step jitter, offset tolerance)
    "landmarks": (fp.QUERY_PEAKS_PER_SECOND, fp.QUERY_DT_JITTER, fp.OFFSET_TOLERANCE),
    "landmarks-90-peaks": (90, fp.QUERY_DT_JITTER, fp.OFFSET_TOLERANCE),
    "landmarks-120-peaks": (120, fp.QUERY_DT_JITTER, fp.OFFSET_TOLERANCE),
    "landmarks-jitter-2": (fp.QUERY_PEAKS_PER_SECOND, 2, fp.OFFSET_TOLERANCE),
    "landmarks-tolerance-3": (fp.QUERY_PEAKS_PER_SECOND, fp.QUERY_DT_JITTER, 3),
}
STEADY_SHARES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)
"""Shares of the recording's mean profile taken out (``tonal_profile.without_steady_part``)."""
NOISE_FLOOR_PERCENTILE = 25
"""A variant also tried: each bin's 25th-percentile power over the recording subtracted first."""


def profile_variants(magnitude: np.ndarray) -> dict[str, np.ndarray]:
    """The recording's profiles (``tonal_profiles`` of its |STFT|) with each steady share taken out,
    and with a noise floor subtracted before."""
    power = np.square(magnitude)
    hop = tp.BLOCK_HOP * tp.QUERY_STRIDE
    frames = power.shape[1]
    blocks = 0 if frames < tp.BLOCK_FRAMES else 1 + (frames - tp.BLOCK_FRAMES) // hop
    if blocks == 0:
        empty = np.zeros((0, power.shape[0]), np.float32)
        return {name: empty for name in [f"profiles-steady-{s:g}" for s in STEADY_SHARES] + ["profiles-floor-steady-0.5"]}
    plain = tp._block_profiles(power, blocks, hop)
    out = {}
    for share in STEADY_SHARES:
        tp.QUERY_STEADY_SHARE = share
        out[f"profiles-steady-{share:g}"] = tp.without_steady_part(plain)
    floor = np.percentile(power, NOISE_FLOOR_PERCENTILE, axis=1, keepdims=True)
    tp.QUERY_STEADY_SHARE = 0.5
    out["profiles-floor-steady-0.5"] = tp.without_steady_part(tp._block_profiles(np.maximum(power - floor, 0.05 * power), blocks, hop))
    return out


def truth_and_labels(queries: dict, enrolled: list) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """Per recording of ``by_source.build_queries``: its song's position among ``enrolled`` (-1 for
    an unknown song) and its condition's label ("plain 10-s +0 dB")."""
    position = {s.song_id: i for i, s in enumerate(enrolled)}
    truth = np.array([position.get(str(song), -1) for song in queries["song"]])
    labels = np.array([f"{c} {n}-s {snr:+d} dB" for c, n, snr in zip(queries["condition"], queries["length"], queries["snr"])])
    return truth, labels


def separability(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per recording: right song strictly first; and first with a lead >= the unknowns'
    95th-percentile margin; that margin."""
    enrolled = truth >= 0
    rows = np.arange(len(scores))
    right = scores[rows, np.where(enrolled, truth, 0)]
    others = scores.astype(np.float64).copy()
    others[rows, np.where(enrolled, truth, 0)] = -np.inf
    lead = right - others.max(axis=1)
    top_two = np.sort(scores, axis=1)[:, -2:]
    threshold = float(np.percentile((top_two[:, 1] - top_two[:, 0])[~enrolled], 95))
    return enrolled & (lead > 0), enrolled & (lead > 0) & (lead >= threshold), threshold


def with_noise_of(music: Side, rooms: Side) -> Side:
    """``music``'s songs recorded in ``rooms``' noise (its own name, so its recordings are cached
    apart): with both swaps, whether a check fails on the held-out side for its music or its rooms."""
    return Side(f"{music.name}-music-{rooms.name}-noise", music.enrolled_packages, music.unknown_packages,
                rooms.noise_sources)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=sorted(SIDES), default="tuning")
    parser.add_argument("--noise-from", choices=sorted(SIDES), default=None,
                        help="record the side's music in the other side's rooms (is it the music or the noise?)")
    args = parser.parse_args(argv)
    from musicid_core.audio.decode import load_audio

    side = with_noise_of(SIDES[args.side], SIDES[args.noise_from]) if args.noise_from else SIDES[args.side]
    enrolled, unknown = side_songs(side, ensure_corpus(packages=SONG_PACKAGES + HELD_OUT_SONG_PACKAGES))
    index = fp.FingerprintIndex.build(load_audio(s.path) for s in enrolled)
    assert index.profiles is not None
    queries = build_queries(side, enrolled, unknown, argparse.Namespace(excerpts=1, unknown_excerpts=2))
    truth, labels = truth_and_labels(queries, enrolled)
    scores: dict[str, np.ndarray] = {}
    started, share = time.monotonic(), tp.QUERY_STEADY_SHARE
    tolerance = fp.OFFSET_TOLERANCE
    try:
        for i in range(len(truth)):
            audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
            segment = fp.central_segment(audio)
            magnitude = fp.query_magnitude(segment)
            marks = {}
            for name, (peaks, jitter, tol) in LANDMARK_VARIANTS.items():
                marks.setdefault(peaks, fp.landmarks(segment, peaks, magnitude))
                fp.OFFSET_TOLERANCE = tol
                found = index.match_landmarks(fp.with_time_jitter(marks[peaks], jitter))
                scores.setdefault(name, np.zeros((len(truth), index.n_songs)))[i] = found.counts
            fp.OFFSET_TOLERANCE = tolerance
            for name, profiles in profile_variants(magnitude).items():
                tp.QUERY_STEADY_SHARE = 0.0  # already taken out above
                scores.setdefault(name, np.zeros((len(truth), index.n_songs)))[i] = index.profiles.match_profiles(profiles).similarity
            if i % 100 == 0:
                print(f"{i}/{len(truth)} recordings, {time.monotonic() - started:.0f} s", flush=True)
    finally:
        tp.QUERY_STEADY_SHARE, fp.OFFSET_TOLERANCE = share, tolerance
    conditions = sorted(set(labels))
    table = {}
    for name, values in scores.items():
        first, right, threshold = separability(values, truth)
        row = {"threshold": threshold, "all": float(right[truth >= 0].mean()), "ranked_first": float(first[truth >= 0].mean())}
        for condition in conditions:
            mask = (labels == condition) & (truth >= 0)
            row[condition] = float(right[mask].mean())
        table[name] = row
        print(f"{name:28s} margin {threshold:7.3f}  separated {row['all']:6.1%}  first {row['ranked_first']:6.1%}", flush=True)
    print("wrote", write_result(f"profile-variants-{side.name}", {
        "kind": "profile-variants", "side": side.name, "enrolled_recordings": int((truth >= 0).sum()),
        "unknown_recordings": int((truth < 0).sum()), "variants": table}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
