"""How much rejection of non-enrolled songs could any threshold buy? The verdict's trade-off curve.

Runs the last model trained by ``benchmarks.accuracy`` for a library size over the cached
queries once, keeps each query's window probabilities, and sweeps the verdict threshold: for
every threshold, the share of enrolled queries answered with the right song (``match`` and
top-1 correct) against the share of non-enrolled queries answered ``unknown``. The other two
verdict conditions (beat "not in your library", top song of half the windows) stay as they are.

Nothing is tuned on these queries: the shipped threshold is the bundle's, calibrated on
validation windows at training time. The curve says whether the rejection shortfall is the
threshold's fault (a better point exists on the curve) or the model's (no point reaches it).

    python -m benchmarks.verdict [--songs 57]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks.common import benchmark_corpus, command_line, machine, write_result

THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)


def query_outcomes(recognizer, queries: dict, id_to_song: dict[str, str], enrolled: set[str],
                   unknown: set[str]) -> list[dict]:
    """Per query: condition, whether enrolled, top-1 correct, and the verdict's three inputs."""
    from musicid_core.features import recording_windows
    from musicid_core.recognizer import decide

    outcomes = []
    for i in range(len(queries["song"])):
        song = str(queries["song"][i])
        if song not in enrolled and song not in unknown:
            continue
        audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
        probabilities = recognizer.window_probabilities(recording_windows(audio, recognizer.settings))
        result = decide(probabilities, recognizer.labels, 0.0, top_k=1)
        top = result.matches[0]
        outcomes.append({
            "length": int(queries["length"][i]), "snr": int(queries["snr"][i]),
            "enrolled": song in enrolled,
            "correct": id_to_song.get(top.song.id, top.song.id) == song,
            "score": top.score,
            # the other two verdict conditions, which do not depend on the threshold
            "eligible": result.verdict == "match",
        })
    return outcomes


def trade_off(outcomes: list[dict], threshold_in_use: float) -> dict:
    """The curve and the best points on it, for one set of queries (one condition)."""
    enrolled = [o for o in outcomes if o["enrolled"]]
    unknown = [o for o in outcomes if not o["enrolled"]]
    curve = []
    for t in THRESHOLDS:
        correct = np.mean([o["eligible"] and o["score"] >= t and o["correct"] for o in enrolled])
        rejected = np.mean([not (o["eligible"] and o["score"] >= t) for o in unknown])
        curve.append({"threshold": float(t), "correct_match": float(correct), "rejected": float(rejected)})
    at_95 = [p for p in curve if p["rejected"] >= 0.95]
    shipped = trade_off_point(enrolled, unknown, threshold_in_use)
    return {
        "n_enrolled": len(enrolled), "n_unknown": len(unknown),
        "top1": float(np.mean([o["correct"] for o in enrolled])),
        "shipped": shipped,
        "best_correct_match_at_95_rejected": max((p["correct_match"] for p in at_95), default=0.0),
        "curve": curve,
    }


def trade_off_point(enrolled: list[dict], unknown: list[dict], t: float) -> dict:
    return {
        "threshold": t,
        "correct_match": float(np.mean([o["eligible"] and o["score"] >= t and o["correct"] for o in enrolled])),
        "rejected": float(np.mean([not (o["eligible"] and o["score"] >= t) for o in unknown])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=57)
    args = parser.parse_args(argv)

    from benchmarks.accuracy import setup_library
    from benchmarks.queries import load_queries
    from musicid_core.models.store import load_current
    from musicid_core.recognizer import Recognizer

    library, enrolled, rest, id_to_song, _ = setup_library(args.songs, benchmark_corpus())
    bundle = load_current(library.models_dir)
    recognizer = Recognizer(bundle)
    outcomes = query_outcomes(recognizer, load_queries(), id_to_song,
                              {s.song_id for s in enrolled}, {s.song_id for s in rest})
    conditions = {}
    for length, snr in sorted({(o["length"], o["snr"]) for o in outcomes}):
        chosen = [o for o in outcomes if o["length"] == length and o["snr"] == snr]
        conditions[f"{length}s/{snr:+d}dB"] = trade_off(chosen, recognizer.threshold)
        c = conditions[f"{length}s/{snr:+d}dB"]
        print(f"{length:>2} s {snr:+3d} dB: top-1 {c['top1']:.1%}; shipped threshold {recognizer.threshold:.3f}: "
              f"right match {c['shipped']['correct_match']:.1%}, rejected {c['shipped']['rejected']:.1%}; "
              f"best right match with >= 95 % rejected: {c['best_correct_match_at_95_rejected']:.1%}", flush=True)
    data = {
        "kind": "verdict", "songs": args.songs, "model": bundle.path.name,
        "threshold": recognizer.threshold, "conditions": conditions,
        "command": command_line(), "machine": machine(),
    }
    print("wrote", write_result(f"verdict-n{args.songs}", data), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
