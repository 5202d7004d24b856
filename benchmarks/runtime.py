"""The network under LiteRT against Keras: same answers? how much faster, lighter, quicker to start?

    python -m benchmarks.runtime [--runs 30] [--starts 3] [--no-tiny]

For the shipped demo model (8 songs) and the tiny model of the test suite (4 generated songs,
trained here in a temporary folder exactly as ``tests/conftest.py`` does):

* answers: the probabilities of every window of real recordings (demo: the three shipped cafe
  recordings, two 10-s excerpts of each demo song, the 18 negatives; tiny: noisy excerpts of each
  song, noise, a tone), max abs difference LiteRT vs Keras, whether every window's ranking of all
  outputs is identical, and whether ``Recognizer.identify`` gives the same top-5 and verdict;
* speed: the network alone on one 10-s recording (6 windows) and ``identify`` end to end,
  medians of ``--runs`` after warm-up, in this process;
* start-up: a fresh process that loads the bundle, builds the ``Recognizer`` (which runs the
  network once) and identifies one recording; wall time to the answer, time to a ready
  Recognizer, peak RSS, and whether TensorFlow was imported. Median of ``--starts`` processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
SR = 22050

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
def peak_rss_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent that forked us.
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
from musicid_core.audio.decode import load_audio
from musicid_core.models.store import load_bundle
from musicid_core.recognizer import Recognizer
recognizer = Recognizer(load_bundle(__import__("pathlib").Path(sys.argv[1]), keras=sys.argv[2] == "keras"))
ready = time.perf_counter() - t0
answer = recognizer.identify(load_audio(sys.argv[3]))
print(json.dumps({"ready_s": ready, "answer_s": time.perf_counter() - t0, "top": answer.best.song.title,
                  "rss_mb": peak_rss_mb(),
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def demo_recordings() -> list[np.ndarray]:
    from musicid_core.audio.decode import load_audio
    from musicid_core.demo import demo_recordings as shipped
    from musicid_core.demo import demo_song_files

    clips = [load_audio(p) for p in shipped()]
    for path in demo_song_files():
        audio = load_audio(path)
        clips += [audio[5 * SR : 15 * SR], audio[25 * SR : 35 * SR]]
    clips += [load_audio(p)[: 10 * SR] for p in sorted((ROOT / "resources" / "negatives").glob("*.ogg"))]
    return clips


def tiny_bundle(folder: Path) -> tuple[Path, list[np.ndarray]]:
    sys.path.insert(0, str(ROOT / "tests"))
    import synth

    from musicid_core.library import Library
    from training.train import train

    songs = [synth.write(folder / "songs" / f"song{i}.wav", synth.song(i)) for i in range(synth.N_SONGS)]
    noises = [synth.write(folder / "noise" / f"noise{i}.wav", synth.noise(i)) for i in range(4)]
    library = Library(folder / "data")
    library.add_songs(songs)
    library.add_noise(noises, pack="generated")
    result = train(library, synth.tiny_training(synth.write_negatives(folder / "negatives")))
    rng = np.random.default_rng(5)
    clips = [synth.noisy_excerpt(i, 1.0, 10.0, rng, snr_db=snr) for i in range(synth.N_SONGS) for snr in (5.0, 0.0)]
    clips += [synth.noise(60, seconds=10.0), synth.tone(700.0, seconds=10.0)]
    return result.bundle, clips


def _median_ms(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def compare(name: str, bundle_path: Path, clips: list[np.ndarray], runs: int, starts: int) -> dict:
    from musicid_core.features import recording_windows
    from musicid_core.models.store import load_bundle
    from musicid_core.recognizer import Recognizer

    lite = Recognizer(load_bundle(bundle_path))
    keras = Recognizer(load_bundle(bundle_path, keras=True))
    assert lite.bundle.lite is not None, f"{bundle_path} has no model.tflite"
    windows = np.concatenate([recording_windows(c) for c in clips])[..., np.newaxis]
    p_lite, p_keras = lite._predict(windows), keras._predict(windows)
    same_order = bool(np.array_equal(np.argsort(-p_lite, axis=1, kind="stable"), np.argsort(-p_keras, axis=1, kind="stable")))
    answers = [(lite.identify(c), keras.identify(c)) for c in clips]
    same_answers = all([m.song.id for m in a.matches] == [m.song.id for m in b.matches] and a.verdict == b.verdict
                       for a, b in answers)
    ten = next(c for c in clips if c.size >= 10 * SR)[: 10 * SR]
    ten_windows = recording_windows(ten)[..., np.newaxis]
    out = {
        "model": name, "windows": int(len(windows)), "recordings": len(clips),
        "max_abs_diff": float(np.abs(p_lite - p_keras).max()), "window_rankings_identical": same_order,
        "identify_top5_and_verdict_identical": same_answers,
        "network_10s_ms": {"lite": _median_ms(lambda: lite._predict(ten_windows), runs),
                           "keras": _median_ms(lambda: keras._predict(ten_windows), runs)},
        "identify_10s_ms": {"lite": _median_ms(lambda: lite.identify(ten), runs),
                            "keras": _median_ms(lambda: keras.identify(ten), runs)},
    }
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "ten.wav"
        import soundfile

        soundfile.write(wav, ten, SR)
        for runtime in ("lite", "keras"):
            runs_ = []
            for _ in range(starts):
                done = subprocess.run([sys.executable, "-c", CHILD, str(bundle_path), runtime, str(wav)],
                                      capture_output=True, text=True, cwd=ROOT, check=True)
                runs_.append(json.loads(done.stdout.strip().splitlines()[-1]))
            out[f"start_{runtime}"] = {k: (float(np.median([r[k] for r in runs_])) if isinstance(runs_[0][k], float) else runs_[0][k])
                                       for k in runs_[0]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--no-tiny", action="store_true", help="the demo model only")
    args = parser.parse_args(argv)
    from musicid_core.demo import demo_model_dir
    from musicid_core.tfquiet import load_tensorflow

    load_tensorflow()
    results = [compare("demo (8 songs)", demo_model_dir(), demo_recordings(), args.runs, args.starts)]
    if not args.no_tiny:
        with tempfile.TemporaryDirectory() as tmp:
            bundle, clips = tiny_bundle(Path(tmp))
            results.append(compare("tiny (4 songs)", bundle, clips, args.runs, args.starts))
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")
    print("| model | windows (recordings) | max abs diff | rankings identical (windows / identify) | network, 10-s recording: LiteRT / Keras | identify, 10-s: LiteRT / Keras | process to ready Recognizer: LiteRT / Keras | to first answer | peak RSS | TensorFlow imported |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        lite, keras = r["start_lite"], r["start_keras"]
        print(f"| {r['model']} | {r['windows']} ({r['recordings']}) | {r['max_abs_diff']:.1e} | "
              f"{'yes' if r['window_rankings_identical'] else 'NO'} / {'yes' if r['identify_top5_and_verdict_identical'] else 'NO'} | "
              f"{r['network_10s_ms']['lite']:.1f} / {r['network_10s_ms']['keras']:.1f} ms | "
              f"{r['identify_10s_ms']['lite']:.1f} / {r['identify_10s_ms']['keras']:.1f} ms | "
              f"{lite['ready_s']:.2f} / {keras['ready_s']:.2f} s | {lite['answer_s']:.2f} / {keras['answer_s']:.2f} s | "
              f"{lite['rss_mb']:.0f} / {keras['rss_mb']:.0f} MB | {lite['tensorflow']} / {keras['tensorflow']} |")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
