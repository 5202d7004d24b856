"""Recordings shorter than one network window (~5 s): how should the network take part?

    python -m benchmarks.short [--excerpts 6] [--snrs 5 0]

Every recording from 3.00 s on is answered (issue 15). A recording shorter than the network's
256-frame window can still be matched by the landmarks and the tonal profiles; for the network
there are three choices, measured here on the shipped demo model (8 songs):

* ``reflect``: the recording mirrored at its end until it fills one window;
* ``repeat``: the recording repeated from its start until it fills one window (what
  ``musicid_core.features.recording_windows`` does);
* ``out``: the network says nothing (equal probabilities for every song), so only the landmarks
  and profiles rank.

Queries: excerpts of each demo song at seeded random offsets, made into phone recordings in a
room (``benchmarks.simulate``: reverb, a 1-3 layer noise bed drawn from the bundled noise pack
``resources/noise`` -- the demo model's training noise, since the benchmark's query noise needs
espeak-ng --, phone band limit, no codec) at each SNR, then cut to 3.0, 4.0 and
4.97 s (and 10 s for reference); plus the three shipped cafe recordings cut into 3-s pieces.
Unknown music: the 18 ``resources/negatives`` excerpts through the same chain. Those negatives
are the ones the demo model's margins were calibrated on (at 5, 10 and 20 s), so the false-match
rate here is in-sample for the calibration, though not for the recording length.

Prints, per length and strategy: ranked first and answered with the right ``match`` (network,
landmarks and profiles, as ``Recognizer.identify``), ranked first by the network alone; for unknown
music the fraction answered ``match`` (should stay near 0), combined and by the network alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SR = 22050
LENGTHS_S = (3.0, 4.0, 4.97, 10.0)
STRATEGIES = ("reflect", "repeat", "out")


def mirrored(audio: np.ndarray, n: int) -> np.ndarray:
    """``audio`` extended to ``n`` samples by mirroring it at its end (again, if still short)."""
    out = audio
    while out.size < n:
        out = np.concatenate([out, out[::-1][1 : n - out.size + 1]])
    return out[:n]


def identify(recognizer, audio: np.ndarray, strategy: str):  # type: ignore[no-untyped-def]
    """(with landmarks and profiles, network alone) answers for one way of scoring a short recording."""
    from musicid_core.features import recording_windows
    from musicid_core.recognizer import decide

    settings = recognizer.settings
    n_out = len(recognizer.labels) + (1 if recognizer.bundle.meta.unknown_class else 0)
    landmarks = recognizer.fingerprints.match(audio)
    if audio.size < settings.window_samples and strategy == "out":
        probabilities = np.full((1, n_out), 1.0 / n_out, dtype=np.float32)
    elif audio.size < settings.window_samples and strategy == "reflect":
        probabilities = recognizer.window_probabilities(recording_windows(mirrored(audio, settings.fragment_samples), settings))
    else:  # "repeat" is what recording_windows does (features.looped_to)
        probabilities = recognizer.window_probabilities(recording_windows(audio, settings))
    with_index = decide(probabilities, recognizer.labels, recognizer.threshold, 5, landmarks,
                        recognizer.fingerprint_threshold, recognizer.profile_threshold)
    network_alone = decide(probabilities, recognizer.labels, recognizer.threshold, 5)
    return with_index, network_alone


def simulated(clean: np.ndarray, noise: list[np.ndarray], snr: float, rng: np.random.Generator) -> np.ndarray:
    from benchmarks.simulate import resample, simulate_recording

    audio, rate = simulate_recording(clean, SR, noise, snr, rng)
    return resample(audio, rate, SR).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--excerpts", type=int, default=6, help="excerpts per demo song and SNR")
    parser.add_argument("--snrs", type=float, nargs="+", default=[5.0, 0.0])
    args = parser.parse_args(argv)

    from musicid_core.audio.decode import load_audio
    from musicid_core.demo import demo_model_dir, demo_recordings, demo_song_files
    from musicid_core.models.store import load_bundle
    from musicid_core.recognizer import Recognizer

    recognizer = Recognizer(load_bundle(demo_model_dir()))
    titles = {label.source: label.title for label in recognizer.labels}
    noise = [load_audio(p) for p in sorted((ROOT / "resources" / "noise").glob("*.ogg"))]
    rng = np.random.default_rng(15)

    # (length, condition) -> list of (strategy results) rows
    rows: dict[tuple[float, str], list[tuple[str, list]]] = {}

    def add(truth: str | None, audio: np.ndarray, condition: str) -> None:
        for length in LENGTHS_S:
            n = int(round(length * SR))
            if audio.size < n:
                continue
            clip = audio[:n]
            results = [identify(recognizer, clip, s) for s in STRATEGIES]
            rows.setdefault((length, condition), []).append((truth, results))

    songs = demo_song_files()
    for path in songs:
        clean = load_audio(path)
        truth = titles[path.name]
        for snr in args.snrs:
            for _ in range(args.excerpts):
                start = int(rng.integers(0, clean.size - 10 * SR))
                add(truth, simulated(clean[start : start + 10 * SR], noise, snr, rng), f"{snr:+.0f} dB")
    for path in demo_recordings():
        audio = load_audio(path)
        truth = _demo_truth(path, recognizer)
        for start_s in (0.0, 3.5, 7.0):
            clip = audio[int(start_s * SR) : int((start_s + 3.0) * SR)]
            results = [identify(recognizer, clip, s) for s in STRATEGIES]
            rows.setdefault((3.0, "cafe demo"), []).append((truth, results))
    for path in sorted((ROOT / "resources" / "negatives").glob("*.ogg")):
        clean = load_audio(path)
        for snr in args.snrs:
            start = int(rng.integers(0, clean.size - 10 * SR))
            add(None, simulated(clean[start : start + 10 * SR], noise, snr, rng), f"unknown {snr:+.0f} dB")

    print(f"demo model, {len(recognizer.labels)} songs; network's answer for a recording shorter than one window")
    print(f"{'length':>7} {'condition':<16} {'n':>4}  " + "  ".join(f"{s:>31}" for s in STRATEGIES))
    print(f"{'':>7} {'':<16} {'':>4}  " + "  ".join(f"{'top-1 / match / net-alone top-1':>31}" for _ in STRATEGIES))
    for (length, condition), entries in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cells = []
        for k in range(len(STRATEGIES)):
            if entries[0][0] is None:
                matched = np.mean([r[k][0].verdict == "match" for _, r in entries])
                net_matched = np.mean([r[k][1].verdict == "match" for _, r in entries])
                cells.append(f"{'false match':>12} {100 * matched:5.1f} % / net {100 * net_matched:5.1f} %")
            else:
                top1 = np.mean([r[k][0].best.song.title == t for t, r in entries])
                right = np.mean([r[k][0].best.song.title == t and r[k][0].verdict == "match" for t, r in entries])
                net = np.mean([r[k][1].best.song.title == t for t, r in entries])
                cells.append(f"{100 * top1:8.1f} % / {100 * right:5.1f} % / {100 * net:5.1f} %")
        print(f"{length:7.2f} {condition:<16} {len(entries):4d}  " + "  ".join(f"{c:>31}" for c in cells))
    return 0


def _demo_truth(path: Path, recognizer) -> str:  # type: ignore[no-untyped-def]
    """The demo recordings are named after their song's file (``<song>-cafe.ogg``)."""
    stem = path.stem.rsplit("-", 1)[0]
    for label in recognizer.labels:
        if Path(label.source).stem == stem:
            return label.title
    raise SystemExit(f"{path.name}: no demo song named {stem}")


if __name__ == "__main__":
    sys.exit(main())
