"""The current 57-song model on a second, never-inspected query set: an out-of-sample check.

    python -m benchmarks.holdout [--salt holdout-1] [--snr 0 -5]

The recogniser's landmark settings were swept on the main query set, and the tonal profiles were
designed after looking at its failures, so its figures are partly in-sample. This builds another
set exactly like ``benchmarks.queries`` but from other random draws (``--salt``: other excerpt
offsets, noise beds, rooms and gains; same query-only noise files, same codec rotation), and
measures the model that ``benchmarks.accuracy`` last trained (no retraining). Writes
``benchmarks/results/holdout-n57-<salt>.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from benchmarks.accuracy import evaluate, recogniser_name, setup_library
from benchmarks.common import command_line, machine, write_result
from benchmarks.queries import load_queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--salt", default="holdout-1")
    parser.add_argument("--snr", type=int, nargs="+", default=[0, -5])
    args = parser.parse_args(argv)
    from musicid_core.models.store import load_current
    from musicid_core.recognizer import Recognizer

    library, enrolled, rest, id_to_song, _ = setup_library(57)
    queries = load_queries(salt=args.salt, snrs=tuple(args.snr))
    bundle = load_current(library.models_dir)
    evaluations = {}
    for key, use_fingerprints in (("evaluation", True), ("evaluation_cnn_only", False)):
        t = time.monotonic()
        evaluations[key] = evaluate(Recognizer(bundle, use_fingerprints=use_fingerprints), queries, id_to_song,
                                    {s.song_id for s in enrolled}, {s.song_id for s in rest})
        print(f"{key}: evaluated in {time.monotonic() - t:.0f} s", flush=True)
        for row in evaluations[key]["conditions"]:
            print(row, flush=True)
    name = f"holdout-n57-{args.salt}"
    data = {
        "kind": "holdout",
        "name": name,
        "salt": args.salt,
        "songs": len(bundle.labels),
        "model": bundle.path.name,
        "model_trained_at": bundle.meta.trained_at,
        "recogniser": recogniser_name(bundle),
        **evaluations,
        "command": command_line(),
        "machine": machine(),
        "load_average": os.getloadavg(),
    }
    print("wrote", write_result(name, data), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
