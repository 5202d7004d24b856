"""Continuous listening: which window, interval and k-of-n vote give a clean timeline.

    python -m benchmarks.continuous [--seeds 3] [--snr 0]

Streams are built from the shipped demo (its 8 songs and model): per seed three demo songs
played one after another (30 s each, random offsets; the first two back to back, then 4 s of
digital silence, 20 s of a shipped negative excerpt (music not in the library), then the third
song), under the shipped ambient noise at ``--snr`` dB. Each policy runs ``ContinuousListening``
itself over the stream (identifications are cached, so every vote rule sees the very same
answers). A timeline is *right* when it names the three songs in order, each once, and the
stranger once as "not in your library"; for right timelines the boundary errors (starts and ends
against the truth) and the delay of the first report of each entry are given.

Caveat: the negatives were used to calibrate the demo model's margins, so rejecting them is
easier than rejecting music nobody has heard; the votes are what is compared here.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np

from benchmarks.common import command_line, machine, write_result
from benchmarks.simulate import mix_at_snr, noise_bed
from musicid_core.audio.decode import load_audio
from musicid_core.config import DEFAULT_FEATURES
from musicid_core.listening import ContinuousListening
from musicid_core.resources import default_negatives_dir, default_noise_dir, demo_dir

SR = DEFAULT_FEATURES.sample_rate
SONG_S, STRANGER_S, GAP_S = 30.0, 20.0, 4.0
WINDOWS = (5.0, 6.0, 8.0)
INTERVALS = (1.0, 2.0)
VOTES = ((1, 1), (2, 2), (2, 3), (3, 3), (3, 4), (3, 5), (4, 5))
HOLDS = (0, 6, 10)


def build_stream(seed: int, snr: float, songs: list[tuple[str, np.ndarray]], strangers: list[np.ndarray],
                 noises: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """(audio, truth as (title or "?", start s, end s))."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(songs), size=3, replace=False)

    def excerpt(audio: np.ndarray, seconds: float) -> np.ndarray:
        n = int(seconds * SR)
        start = int(rng.integers(0, max(1, audio.size - n)))
        return audio[start : start + n]

    def noisy(clean: np.ndarray) -> np.ndarray:
        mixed, _ = mix_at_snr(clean.astype(np.float64), noise_bed(noises, clean.size, rng), snr)
        return (0.3 * mixed / np.max(np.abs(mixed))).astype(np.float32)

    parts = [
        (songs[picks[0]][0], noisy(excerpt(songs[picks[0]][1], SONG_S))),
        (songs[picks[1]][0], noisy(excerpt(songs[picks[1]][1], SONG_S))),
        ("-", np.zeros(int(GAP_S * SR), np.float32)),
        ("?", noisy(excerpt(strangers[int(rng.integers(0, len(strangers)))], STRANGER_S))),
        (songs[picks[2]][0], noisy(excerpt(songs[picks[2]][1], SONG_S))),
    ]
    truth, t = [], 0.0
    for label, audio in parts:
        if label != "-":
            truth.append((label, t, t + audio.size / SR))
        t += audio.size / SR
    return np.concatenate([a for _, a in parts]), truth


def run_policy(audio: np.ndarray, identify, window: float, interval: float, k: int, n: int, hold: int):  # type: ignore[no-untyped-def]
    session = ContinuousListening(identify, window_s=window, interval_s=interval, k=k, n=n, hold=hold)
    reports: list[float] = []
    step = SR // 10
    for start in range(0, audio.size, step):
        for answer in session.feed(audio[start : start + step]):
            if answer.kind == "started":
                reports.append(answer.time)
    session.stop()
    return [(e.title or "?", e.started, e.ended) for e in session.timeline], reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--snr", type=float, default=0.0)
    parser.add_argument("--windows", default=",".join(f"{w:g}" for w in WINDOWS), help="window lengths in s, e.g. 6,8")
    parser.add_argument("--show-wrong", action="store_true", help="print every wrong timeline beside the truth")
    args = parser.parse_args(argv)

    from musicid_core.models.store import load_bundle
    from musicid_core.recognizer import Recognizer
    from musicid_core.tfquiet import load_tensorflow

    load_tensorflow()
    recognizer = Recognizer(load_bundle(demo_dir() / "model"))
    labels = {label.source: label.title for label in recognizer.labels}
    songs = [(labels.get(p.name, p.stem), load_audio(p)) for p in sorted((demo_dir() / "songs").glob("*.ogg"))]
    strangers = [load_audio(p) for p in sorted(default_negatives_dir().glob("*.ogg"))]
    noises = [load_audio(p) for p in sorted(default_noise_dir().glob("*.ogg"))]

    cache: dict[tuple, object] = {}
    timing: list[float] = []

    def identify(audio: np.ndarray):  # type: ignore[no-untyped-def]
        key = (audio.size, float(audio[:64].sum()), float(audio[-64:].sum()), float(audio.sum()))
        if key not in cache:
            began = time.perf_counter()
            cache[key] = recognizer.identify(audio)
            timing.append(time.perf_counter() - began)
        return cache[key]

    streams = [build_stream(seed, args.snr, songs, strangers, noises) for seed in range(args.seeds)]
    rows = []
    print(f"{args.seeds} streams of {streams[0][0].size / SR:.0f} s at {args.snr:g} dB SNR; "
          "right = 3 songs in order + the stranger, each once")
    print(f"{'window':>6} {'every':>5} {'k/n':>4} {'hold':>4} {'right':>6} {'mean |err| s':>12} {'max |err| s':>11} "
          f"{'report delay s':>14} {'calls':>6}")
    for window in (float(w) for w in args.windows.split(",")):
        for interval in INTERVALS:
            for (k, n), hold in itertools.product(VOTES, HOLDS):
                right, errors, delays, calls = 0, [], [], 0
                for audio, truth in streams:
                    before = len(timing)
                    got, reports = run_policy(audio, identify, window, interval, k, n, hold)
                    calls += len(timing) - before
                    if [g[0] for g in got] != [t[0] for t in truth] and args.show_wrong:
                        print("   wrong:", [(t, round(s, 1), round(e, 1)) for t, s, e in got],
                              "\n   truth:", [(t, round(s, 1), round(e, 1)) for t, s, e in truth])
                    if [g[0] for g in got] == [t[0] for t in truth]:
                        right += 1
                        for (_, s, e), (_, ts, te) in zip(got, truth):
                            errors += [abs(s - ts), abs(e - te)]
                        delays += [r - ts for r, (_, ts, _) in zip(reports, truth)]
                row = {
                    "window_s": window, "interval_s": interval, "k": k, "n": n, "hold": hold, "right": right, "streams": len(streams),
                    "mean_abs_error_s": round(float(np.mean(errors)), 2) if errors else None,
                    "max_abs_error_s": round(float(np.max(errors)), 2) if errors else None,
                    "mean_report_delay_s": round(float(np.mean(delays)), 1) if delays else None,
                }
                rows.append(row)
                fmt = lambda v: "—" if v is None else f"{v}"  # noqa: E731
                print(f"{window:6.0f} {interval:5.0f} {k}/{n:<2} {hold:>4} {right:>3}/{len(streams):<2} "
                      f"{fmt(row['mean_abs_error_s']):>12} {fmt(row['max_abs_error_s']):>11} "
                      f"{fmt(row['mean_report_delay_s']):>14} {calls:>6}")
                sys.stdout.flush()
    print(f"identify: {len(timing)} windows, median {1000 * float(np.median(timing)):.0f} ms")
    write_result(f"continuous-snr{args.snr:g}", {"machine": machine(), "command": command_line(), "seeds": args.seeds, "snr_db": args.snr,
                                                 "median_identify_ms": round(1000 * float(np.median(timing)), 1),
                                                 "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
