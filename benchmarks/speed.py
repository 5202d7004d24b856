"""Speed and cost on this machine: recognition latency, dataset throughput, model size, memory.

    python -m benchmarks.speed [--songs 57] [--runs 30] [--examples-per-song 20] [--no-gui]

* Latency: a 10.0 s simulated recording (0 dB SNR query) through the current model of the
  benchmark library (train it first with ``benchmarks.accuracy``): feature extraction
  (``recording_windows``), model + verdict (``identify_windows``), landmark matching and
  tonal-profile matching (when the bundle has them) timed separately, and ``identify``
  end to end; medians over ``--runs`` runs after 3 warm-up runs.
* Dataset building: ``training.dataset.build_datasets`` on the whole library at a small
  ``--examples-per-song``; throughput = augmented log-mel windows written per second.
* Model size on disk: the bundle folder of each accuracy result (read from the JSON files) and
  of the current model.
* Memory: peak RSS of this process after loading the model and recognising (a proxy for the CLI);
  the GUI (``app.main``) started offscreen on the benchmark library, RSS sampled once a second
  for ``--gui-seconds`` (settled = last sample). Training peaks come from the accuracy JSON files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, bench_cache, command_line, machine, peak_rss_mb, write_result

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def current_rss_mb() -> float:
    """Resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stats(values: list[float]) -> dict[str, float]:
    a = np.array(values) * 1000.0
    return {"median_ms": float(np.median(a)), "p10_ms": float(np.percentile(a, 10)),
            "p90_ms": float(np.percentile(a, 90)), "runs": len(values)}


def latency(library_root: Path, runs: int, model: Path | None = None) -> dict:
    import tensorflow as tf

    from benchmarks.queries import load_queries
    from musicid_core.features import recording_windows
    from musicid_core.models.store import load_bundle, load_current
    from musicid_core.fingerprint import QUERY_PEAKS_PER_SECOND, central_segment, landmarks, with_time_jitter
    from musicid_core.recognizer import Recognizer

    t = time.perf_counter()
    bundle = load_bundle(model) if model else load_current(library_root / "models")
    recognizer = Recognizer(bundle)
    load_s = time.perf_counter() - t
    q = load_queries()
    i = int(np.flatnonzero((q["length"] == 10) & (q["snr"] == 0))[0])
    audio = q["audio"][q["start"][i] : q["start"][i] + q["size"][i]].astype(np.float32)
    del q  # the whole query set is ~0.5 GB; it must not count in the recogniser's memory
    import gc

    gc.collect()
    for _ in range(3):
        recognizer.identify(audio)
    feats, model_t, landmark_t, profile_t, total = [], [], [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        windows = recording_windows(audio, recognizer.settings)
        t1 = time.perf_counter()
        recognizer.identify_windows(windows, top_k=5)
        t2 = time.perf_counter()
        index = recognizer.fingerprints
        if index is not None:
            segment = central_segment(audio)
            index.match_landmarks(with_time_jitter(landmarks(segment, QUERY_PEAKS_PER_SECOND)))
            t3 = time.perf_counter()
            landmark_t.append(t3 - t2)
            if index.profiles is not None:
                index.profiles.match(segment)
                profile_t.append(time.perf_counter() - t3)
        feats.append(t1 - t0)
        model_t.append(t2 - t1)
    for _ in range(runs):
        t0 = time.perf_counter()
        recognizer.identify(audio, top_k=5)
        total.append(time.perf_counter() - t0)
    return {
        "arch": bundle.meta.arch,
        "songs": len(bundle.labels),
        "model": str(model) if model else "current model of " + str(library_root),
        "recording_s": audio.size / 22050,
        "windows": int(windows.shape[0]),
        "model_load_s": load_s,
        "features": _stats(feats),
        "model_and_verdict": _stats(model_t),
        **({"landmarks": _stats(landmark_t), "index_entries": int(recognizer.fingerprints.hashes.size)} if landmark_t else {}),
        **({"profiles": _stats(profile_t), "profile_blocks": recognizer.fingerprints.profiles.blocks}
           if profile_t else {}),
        "identify_total": _stats(total),
        "tf_threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                       tf.config.threading.get_inter_op_parallelism_threads()],
        "rss_after_recognition_mb": current_rss_mb(),
        "peak_rss_process_mb_incl_query_set": peak_rss_mb(),
    }


def dataset_throughput(library_root: Path, examples_per_song: int) -> dict:
    from musicid_core.library import Library
    from training.dataset import build_datasets
    from training.noise_bank import load_negative_bank, load_noise_bank

    library = Library(library_root)
    noise = load_noise_bank(library, None)
    negatives = load_negative_bank(None)
    work = bench_cache() / "speed-dataset"
    shutil.rmtree(work, ignore_errors=True)
    t = time.perf_counter()
    data = build_datasets(library, noise.split(), negatives.split(), examples_per_song, 0, work)
    seconds = time.perf_counter() - t
    n = len(data.train) + len(data.validation)
    shutil.rmtree(work, ignore_errors=True)
    return {"examples_per_song": examples_per_song, "songs": len(data.songs), "windows": n,
            "seconds": seconds, "windows_per_s": n / seconds}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def gui_memory(library_root: Path, seconds: float) -> dict:
    try:
        import app.main  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means "app not available yet"
        return {"skipped": f"app not importable: {exc!r}"}
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MUSICID_DATA_DIR=str(library_root))
    exe = Path(sys.executable).parent / "musicid-gui"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "app"]
    proc = subprocess.Popen(cmd + ["--data-dir", str(library_root), "--no-crash-dialog", "--log-dir", str(bench_cache() / "gui-logs")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    samples = []
    try:
        for _ in range(int(seconds)):
            time.sleep(1.0)
            if proc.poll() is not None:
                break
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                break
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            samples.append((int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024))
    finally:
        exited = proc.poll()
        if exited is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        output = proc.stdout.read().decode(errors="replace")[-2000:] if proc.stdout else ""
    if not samples:
        return {"skipped": f"the GUI exited early (code {exited}): {output}"}
    return {"command": " ".join(cmd), "seconds_sampled": len(samples), "settled_rss_mb": samples[-1][0],
            "peak_rss_mb": max(s[1] for s in samples), "rss_trace_mb": [round(s[0]) for s in samples],
            "exited_early": exited, "output_tail": output[-500:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", default="57")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--examples-per-song", type=int, default=20)
    parser.add_argument("--gui-seconds", type=float, default=25)
    parser.add_argument("--no-gui", action="store_true")
    parser.add_argument("--no-dataset", action="store_true")
    parser.add_argument("--model", type=Path, default=None, help="bundle folder to time (default: the library's current)")
    parser.add_argument("--name", default="speed", help="result file name")
    args = parser.parse_args(argv)
    root = bench_cache() / "libs" / f"n{args.songs}"
    out: dict = {"kind": "speed", "command": command_line(), "machine": machine(), "load_average_before": os.getloadavg()}
    out["latency"] = latency(root, args.runs, args.model)
    print("latency", out["latency"], flush=True)
    current = args.model or root / "models"
    out["current_model_bytes"] = {p.name: folder_bytes(p) for p in [current, *current.iterdir()] if p.is_dir()}
    if not args.no_dataset:
        out["dataset"] = dataset_throughput(root, args.examples_per_song)
        print("dataset", out["dataset"], flush=True)
    out["gui"] = {"skipped": "--no-gui"} if args.no_gui else gui_memory(root, args.gui_seconds)
    print("gui", {k: v for k, v in out["gui"].items() if k != "output_tail"}, flush=True)
    out["load_average_after"] = os.getloadavg()
    print("wrote", write_result(args.name, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
