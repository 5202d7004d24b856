"""How the recognizer pools its windows: window step and ensemble rule, on the same queries.

The method slides a 256-frame window with a step of 51 frames and sums the windows' probability
vectors. Two cheap recognizer-side questions, answered without retraining: does a denser step
(17 frames: three times the windows, three times the model time) help, and does another pooling
rule rank better — the mean of log-probabilities (a product of the windows' opinions, so one
confident wrong window counts less than in a sum) or a majority vote of the windows' top songs?
Only the ranking is compared (top-1 and top-5 of enrolled queries), for the current model of the
benchmark library.

Usage: ``python -m benchmarks.aggregation [--songs 57]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict
from typing import Callable

import numpy as np

from benchmarks.common import benchmark_corpus, command_line, machine, write_result

STEPS = (51, 17)


def _mean(p: np.ndarray) -> np.ndarray:
    return p.mean(axis=0)


def _mean_log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-7, 1.0)).mean(axis=0)


def _vote(p: np.ndarray) -> np.ndarray:
    # Ties between equally voted songs are broken by the mean probability (the small second term).
    return np.bincount(p.argmax(axis=1), minlength=p.shape[1]) + 1e-3 * p.mean(axis=0)


RULES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"mean": _mean, "mean_log": _mean_log, "vote": _vote}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=57)
    args = parser.parse_args(argv)

    from benchmarks.accuracy import setup_library
    from benchmarks.queries import load_queries
    from musicid_core.features import recording_windows
    from musicid_core.models.store import load_current
    from musicid_core.recognizer import Recognizer

    library, enrolled, _, id_to_song, _ = setup_library(args.songs, benchmark_corpus())
    bundle = load_current(library.models_dir)
    recognizer = Recognizer(bundle)
    n_songs = len(recognizer.labels)
    label_songs = [id_to_song.get(label.id, label.id) for label in recognizer.labels]
    enrolled_ids = {s.song_id for s in enrolled}
    queries = load_queries()

    hits: dict[tuple, list[tuple[bool, bool]]] = defaultdict(list)
    for i in range(len(queries["song"])):
        song = str(queries["song"][i])
        if song not in enrolled_ids:
            continue
        audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
        condition = (int(queries["length"][i]), int(queries["snr"][i]))
        for step in STEPS:
            settings = dataclasses.replace(recognizer.settings, step_frames=step)
            probabilities = recognizer.window_probabilities(recording_windows(audio, settings))[:, :n_songs]
            for rule, pool in RULES.items():
                order = np.argsort(-pool(probabilities))[:5]
                ranked = [label_songs[j] for j in order]
                hits[(step, rule, *condition)].append((ranked[0] == song, song in ranked))

    rows = []
    for (step, rule, length, snr), h in sorted(hits.items()):
        top1 = float(np.mean([a for a, _ in h]))
        top5 = float(np.mean([b for _, b in h]))
        rows.append({"step": step, "rule": rule, "length_s": length, "snr_db": snr,
                     "top1": top1, "top5": top5, "n": len(h)})
    for length in sorted({r["length_s"] for r in rows}, reverse=True):
        for snr in sorted({r["snr_db"] for r in rows}, reverse=True):
            cells = [f"step {r['step']:>2} {r['rule']:<8} {r['top1']:6.1%} / {r['top5']:6.1%}"
                     for r in rows if r["length_s"] == length and r["snr_db"] == snr]
            print(f"{length:>2} s {snr:+3d} dB: " + " | ".join(cells), flush=True)
    data = {"kind": "aggregation", "songs": args.songs, "model": bundle.path.name, "arch": bundle.meta.arch,
            "rows": rows, "command": command_line(), "machine": machine()}
    print("wrote", write_result(f"aggregation-n{args.songs}", data), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
