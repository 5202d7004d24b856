"""Train one architecture on the benchmark library and measure it on simulated live recordings.

    python -m benchmarks.accuracy --arch fast                       # default budget (200 x 6)
    python -m benchmarks.accuracy --arch alexnet --examples-per-song 60 --epochs 3
    python -m benchmarks.accuracy --arch fast --songs 10            # scale point

Steps: pick the library (corpus minus the negatives' sources, seed 0), import it into a data
folder in the bench cache, add the training-side Wesnoth ambience as pack ``bench-ambient`` and the
bundled default noise files as pack ``default``, train from scratch, then identify every query of
``benchmarks.queries`` (building it first if needed). Writes ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.common import (
    DEFAULT_NOISE_DIR,
    bench_cache,
    benchmark_corpus,
    command_line,
    library_split,
    machine,
    noise_split,
    peak_rss_mb,
    write_result,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def setup_library(n: int | str, corpus=None):
    """A data folder with the ``n``-song library and both training noise packs (reused if present)."""
    from musicid_core.library import Library
    from musicid_core.storage import file_sha256  # noqa: F401  (imported lazily below if absent)

    corpus = corpus or benchmark_corpus()
    enrolled, rest = library_split(corpus, n)
    root = bench_cache() / "libs" / f"n{n}"
    library = Library(root)
    have = {s.sha256 for s in library.songs()}
    digests = {s.song_id: file_sha256(s.path) for s in enrolled}
    missing = [s.path for s in enrolled if digests[s.song_id] not in have]
    if missing:
        t = time.monotonic()
        report = library.add_songs(missing)
        print(f"imported {len(report.added)} songs in {time.monotonic() - t:.0f} s; failed {report.failed}", flush=True)
    packs = library.noise_packs()
    train_noise, _ = noise_split(corpus)
    if "bench-ambient" not in packs:
        library.add_noise(train_noise, pack="bench-ambient")
    if "default" not in packs:
        library.add_noise(sorted(DEFAULT_NOISE_DIR.glob("*.ogg")), pack="default")
    id_to_song = {digests[s.song_id][:12]: s.song_id for s in enrolled}
    return library, enrolled, rest, id_to_song, train_noise


def evaluate(recognizer, queries: dict, id_to_song: dict[str, str], enrolled: set[str], unknown: set[str],
             lengths=None, snrs=None) -> dict:
    """Top-1/top-5/accepted over enrolled queries and rejection over non-enrolled, per condition."""
    stats: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    per_codec: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    latencies = []
    for i in range(len(queries["song"])):
        song = str(queries["song"][i])
        length, snr, codec = int(queries["length"][i]), int(queries["snr"][i]), str(queries["codec"][i])
        if (lengths and length not in lengths) or (snrs and snr not in snrs):
            continue
        if song not in enrolled and song not in unknown:
            continue
        audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
        t = time.perf_counter()
        result = recognizer.identify(audio, top_k=5)
        latencies.append(time.perf_counter() - t)
        ranked = [id_to_song.get(m.song.id, m.song.id) for m in result.matches]
        key = (length, snr)
        if song in enrolled:
            for bucket in (stats[key], per_codec[codec]):
                bucket["top1"].append(ranked[0] == song)
                bucket["top5"].append(song in ranked[:5])
                bucket["accepted"].append(result.verdict == "match")
                bucket["correct_match"].append(result.verdict == "match" and ranked[0] == song)
        else:
            for bucket in (stats[key], per_codec[codec]):
                bucket["rejected"].append(result.verdict == "unknown")

    def summarise(bucket):
        out = {}
        for name, values in bucket.items():
            out[name] = float(np.mean(values)) if values else None
        out["n_enrolled"] = len(bucket.get("top1", []))
        out["n_unknown"] = len(bucket.get("rejected", []))
        return out

    return {
        "conditions": [{"length_s": k[0], "snr_db": k[1], **summarise(v)} for k, v in sorted(stats.items())],
        "per_codec": {c: summarise(v) for c, v in sorted(per_codec.items())},
        "identify_median_ms": float(np.median(latencies) * 1000) if latencies else None,
    }


def recogniser_name(bundle) -> str:  # type: ignore[no-untyped-def]
    """What the app's recogniser combined for this bundle (shown in the report)."""
    index = bundle.fingerprints
    if index is None:
        return "CNN"
    return "CNN + landmarks + profiles" if index.profiles is not None else "CNN + landmarks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="fast")
    parser.add_argument("--epochs", type=int, default=None, help="default: the app's (6)")
    parser.add_argument("--examples-per-song", type=int, default=None, help="default: the app's (200)")
    parser.add_argument("--songs", default="57", help="library size, or 'all'")
    parser.add_argument("--name", default=None, help="result file name (default: derived from the options)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snr", type=int, nargs="*", default=None, help="only these query SNRs")
    parser.add_argument("--length", type=int, nargs="*", default=None, help="only these query lengths")
    parser.add_argument("--note", default=None,
                        help="what this run tries (e.g. an augmentation change); listed under Experiments in RESULTS.md")
    args = parser.parse_args(argv)

    from training.train import DEFAULT_EPOCHS, DEFAULT_EXAMPLES_PER_SONG, TrainOptions, train

    epochs = args.epochs or DEFAULT_EPOCHS
    examples = args.examples_per_song or DEFAULT_EXAMPLES_PER_SONG
    songs = args.songs if args.songs == "all" else int(args.songs)
    name = args.name or f"accuracy-{args.arch}-n{songs}-e{epochs}-x{examples}"
    corpus = benchmark_corpus()
    library, enrolled, rest, id_to_song, train_noise = setup_library(songs, corpus)
    print(f"{name}: {len(enrolled)} enrolled, {len(rest)} not enrolled; training noise {[p.name for p in train_noise]}", flush=True)

    stage_times: dict[str, float] = defaultdict(float)
    last = {"stage": None, "t": time.monotonic(), "print": 0.0}
    epoch_marks: list[float] = []
    t_start = time.monotonic()

    def progress(p):
        now = time.monotonic()
        if last["stage"] is not None:
            stage_times[last["stage"]] += now - last["t"]
        last["stage"], last["t"] = p.stage, now
        if p.stage == "training" and "validation accuracy" in p.message:
            epoch_marks.append(now - t_start)
        elif p.stage == "training" and not epoch_marks and "train_start" not in last:
            last["train_start"] = now - t_start
        if now - last["print"] > 30 or "validation accuracy" in p.message:
            last["print"] = now
            print(f"[{time.strftime('%H:%M:%S')}] {p.stage} {p.fraction:.0%} {p.message}"
                  f" loss={p.loss:.3f} acc={p.accuracy:.3f} val={p.val_accuracy:.3f}", flush=True)

    from benchmarks.queries import load_queries, queries_path
    from musicid_core.models.store import load_current
    from musicid_core.recognizer import Recognizer

    if not queries_path().exists():
        # Built before training, so a missing tool (sox, espeak-ng) stops the run in seconds, not
        # after the training; in a child process, so this process's peak RSS stays training's.
        subprocess.run([sys.executable, "-m", "benchmarks.queries"], check=True)
    options = TrainOptions(arch=args.arch, epochs=epochs, examples_per_song=examples, seed=args.seed, noise_packs=None)
    cpu0 = time.process_time()
    result = train(library, options, progress=progress)
    cpu_seconds = time.process_time() - cpu0
    print(f"trained in {result.seconds:.0f} s, best epoch {result.best_epoch}/{result.epochs_run}: {result.metrics}", flush=True)
    train_peak = peak_rss_mb()

    queries = load_queries()
    bundle = load_current(library.models_dir)
    enrolled_ids = {s.song_id for s in enrolled}
    unknown_ids = {s.song_id for s in rest}
    evaluations = {}
    # The app's recogniser (CNN + fingerprints), and the CNN alone for comparison with the method.
    for key, use_fingerprints in (("evaluation", True), ("evaluation_cnn_only", False)):
        if key == "evaluation_cnn_only" and bundle.fingerprints is None:
            continue
        t = time.monotonic()
        evaluations[key] = evaluate(Recognizer(bundle, use_fingerprints=use_fingerprints), queries, id_to_song,
                                    enrolled_ids, unknown_ids, lengths=set(args.length) if args.length else None,
                                    snrs=set(args.snr) if args.snr else None)
        print(f"{key}: evaluated in {time.monotonic() - t:.0f} s", flush=True)
        for row in evaluations[key]["conditions"]:
            print(row, flush=True)
    bundle_bytes = sum(f.stat().st_size for f in Path(result.bundle).rglob("*") if f.is_file())
    data = {
        "kind": "accuracy",
        "name": name,
        "arch": args.arch,
        "songs": len(enrolled),
        "songs_arg": str(songs),
        "not_enrolled": len(rest),
        "epochs": epochs,
        "examples_per_song": examples,
        "seed": args.seed,
        "recogniser": recogniser_name(bundle),
        "train_seconds": result.seconds,
        "train_cpu_seconds": cpu_seconds,
        "stage_seconds": dict(stage_times),
        "epochs_run": result.epochs_run,
        "training_started_s": last.get("train_start"),
        "epoch_end_s": epoch_marks,
        "best_epoch": result.best_epoch,
        "history": result.history,
        "validation": result.metrics,
        "train_peak_rss_mb": train_peak,
        "model_bytes": bundle_bytes,
        **evaluations,
        "fingerprint_index_bytes": (Path(result.bundle) / "fingerprints.npz").stat().st_size
        if (Path(result.bundle) / "fingerprints.npz").exists() else 0,
        "command": command_line(),
        "machine": machine(),
        "load_average": os.getloadavg(),
        **({"note": args.note} if args.note else {}),
    }
    print("wrote", write_result(name, data), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
