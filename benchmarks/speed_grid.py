"""Which speeds the recogniser's speed search tries (``musicid_core.speed_search.SPEEDS``), chosen
by measurement on the by-source benchmark's TUNING side.

    python -m benchmarks.speed_grid dump [--side tuning]   # evidence of every recording at every candidate speed
    python -m benchmarks.speed_grid report [--side tuning] # by-source rows for each candidate grid

``dump`` takes each recording of ``benchmarks.by_source`` (cached model and recordings) once
through the network (nominal audio, as the search keeps it) and through the landmark/profile match
at its nominal speed and undone to each speed of ``CANDIDATES``; and the calibration's impostor
recordings (``training.fingerprints.impostor_queries``, exactly as training makes them for that
bundle) at the same speeds. ``report`` then replays, for each grid of ``GRIDS``, what
``Recognizer.identify`` does with that grid: margins calibrated through it
(``training.fingerprints.calibrate_margin`` on the impostors' tries of that grid), the nominal
answer with them, and when it is not ``match`` the most confident try (``recognizer.decide`` and
``speed_search.search``, the product's own code). The "none" row is the recogniser before the search
(the bundle's margins, calibrated at nominal speed). Written to
``benchmarks/results/speed-grid-<side>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import bench_cache, command_line, machine, write_result

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CANDIDATES = (0.985, 0.99, 0.995, 1.005, 1.01, 1.015)
GRIDS: dict[str, tuple[float, ...]] = {
    "none": (),
    "0.99/1.01": (0.99, 1.01),
    "0.995/1.005": (0.995, 1.005),
    "0.99/1.01/0.995/1.005": (0.99, 1.01, 0.995, 1.005),
    "0.99/1.01/0.985/1.015": (0.99, 1.01, 0.985, 1.015),
    "all six": (0.995, 1.005, 0.99, 1.01, 0.985, 1.015),
}


def evidence_file(side: str) -> Path:
    return bench_cache() / f"speed-grid-evidence-{side}.npz"


def dump(side_name: str) -> Path:
    """Raw evidence of every recording and impostor at every candidate speed (module docstring)."""
    from benchmarks.by_source import SIDES, build_queries, side_root, side_songs, trained_library
    from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, ensure_corpus
    from musicid_core.features import recording_windows
    from musicid_core.library import Library
    from musicid_core.recognizer import Recognizer
    from musicid_core.speed_search import undo_speed
    from training.fingerprints import impostor_queries
    from training.noise_bank import load_negative_bank, load_noise_bank
    from training.train import TrainOptions

    side = SIDES[side_name]
    corpus = ensure_corpus(packages=SONG_PACKAGES + HELD_OUT_SONG_PACKAGES)
    enrolled, unknown = side_songs(side, corpus)
    bundle, id_to_song, _ = trained_library(side, enrolled)
    queries = build_queries(side, enrolled, unknown, argparse.Namespace(excerpts=1, unknown_excerpts=2))
    recognizer = Recognizer(bundle)
    nominal = bundle.meta.metrics.get("searched_calibration", {}).get(
        "nominal_margins", [bundle.meta.fingerprint_margin, bundle.meta.profile_margin])
    output_of_song = {id_to_song[label.id]: i for i, label in enumerate(recognizer.labels)}
    speeds = (1.0,) + CANDIDATES
    n = len(queries["song"])
    network, counts, similarity, truth, match_ms = [], [], [], [], []
    started = time.monotonic()
    for i in range(n):
        audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
        network.append(recognizer.song_probabilities(recording_windows(audio, recognizer.settings)).mean(axis=0))
        row_counts, row_similarity, row_ms = [], [], []
        for speed in speeds:
            t = time.perf_counter()
            found = recognizer.fingerprints.match(audio if speed == 1.0 else undo_speed(audio, speed))
            row_ms.append(1000 * (time.perf_counter() - t))
            row_counts.append(found.counts)
            row_similarity.append(found.profiles.similarity)
        counts.append(row_counts)
        similarity.append(row_similarity)
        match_ms.append(row_ms)
        truth.append(output_of_song.get(str(queries["song"][i]), -1) if bool(queries["enrolled"][i]) else -1)
        if (i + 1) % 100 == 0:
            print(f"[{side_name} {time.strftime('%H:%M:%S')}] {i + 1}/{n} in {time.monotonic() - started:.0f} s", flush=True)
    # The impostors exactly as training made them for this bundle (``training.train``): the bundled
    # negatives, the validation share of the library's noise, the default seed.
    options = TrainOptions()
    library = Library(side_root(side))
    impostors = impostor_queries(load_negative_bank(options.negatives_dir).clips,
                                 load_noise_bank(library, options.noise_packs).split()[1], options.seed, CANDIDATES)
    matched = [[recognizer.fingerprints.match_query(q) for q in tries.analyses] for tries in impostors]
    path = evidence_file(side_name)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp, speeds=np.array(speeds), network=np.array(network), counts=np.array(counts),
        similarity=np.array(similarity), truth=np.array(truth), match_ms=np.array(match_ms),
        condition=queries["condition"], length=queries["length"], snr=queries["snr"], enrolled=queries["enrolled"],
        # The margins the bundle was trained with (``by_source.searched_margins`` replaced them).
        fingerprint_margin=float(nominal[0]), profile_margin=float(nominal[1]),
        impostor_counts=np.array([[m.counts for m in row] for row in matched]),
        impostor_similarity=np.array([[m.profiles.similarity for m in row] for row in matched]),
        impostor_query_hashes=np.array([[m.query_hashes for m in row] for row in matched]),
    )
    tmp.replace(path)
    print(f"[{side_name}] wrote {path} ({n} recordings, {len(impostors)} impostors) in {time.monotonic() - started:.0f} s",
          flush=True)
    return path


class _Matched:
    """A calibration index that answers with stored matches: ``calibrate_margin`` then runs its own
    code on the impostors' stored tries (``match_query`` of try k of impostor i)."""

    def __init__(self, matches: list[list]) -> None:  # type: ignore[type-arg]
        self._matches = {id(q): m for row in matches for q, m in row}
        self.profiles = True
        self.n_songs = 0

    def match_query(self, query):  # type: ignore[no-untyped-def]
        return self._matches[id(query)]


def grid_rows(
    data: dict, grid: tuple[float, ...], nominal_margins: bool = False, policy: str = "product",
    rejection_target: float | None = None, impostor_networks: list | None = None,  # type: ignore[type-arg]
) -> dict:
    """By-source rows for one grid (module docstring), and the margins it calibrated;
    ``nominal_margins``: search with the bundle's nominal-speed margins instead (what the search
    would do without its calibration: the comparison that shows what the calibration is for)."""
    from musicid_core import speed_search, verdict
    from musicid_core.fingerprint import FingerprintMatch, Landmarks, QueryAnalysis
    from musicid_core.models.store import SongLabel
    from musicid_core.recognizer import decide
    from musicid_core.tonal_profile import ProfileMatch
    from training.fingerprints import calibrate_margin

    speeds = [float(s) for s in data["speeds"]]
    columns = [0] + [speeds.index(s) for s in grid]

    def match(counts: np.ndarray, similarity: np.ndarray) -> FingerprintMatch:
        return FingerprintMatch(counts, np.zeros_like(counts), 0, ProfileMatch(similarity))

    # Calibrated through this grid (for "none", at nominal speed: comparable with the bundle's own).
    blank = QueryAnalysis(Landmarks(np.zeros(0, np.uint32), np.zeros(0, np.int32)), np.zeros((0, 0), np.float32))
    rows, tries = [], []
    for counts, similarity in zip(data["impostor_counts"], data["impostor_similarity"]):
        analyses = tuple(dataclasses.replace(blank) for _ in columns)
        rows.append([(q, match(counts[c], similarity[c])) for q, c in zip(analyses, columns)])
        tries.append(speed_search.Tries(grid, analyses))
    target = {} if rejection_target is None else {"rejection_target": rejection_target}
    networks = impostor_networks if impostor_networks is not None else [None] * len(rows)
    calibration = calibrate_margin(_Matched(rows), [], [], queries=tries, networks=networks, **target)  # type: ignore[arg-type]
    fm, pm = calibration["fingerprint_margin"], calibration["profile_margin"]
    if not grid or nominal_margins:  # the recogniser before the search: the bundle's margins
        calibration["bundle_margins"] = [float(data["fingerprint_margin"]), float(data["profile_margin"])]
        fm, pm = float(data["fingerprint_margin"]), float(data["profile_margin"])
    # The calibration's impostors through this very search with the margins used: how many pass.
    claims = [max(verdict.impostor_probability(m, fm, pm, heard) for _, m in row) for row, heard in zip(rows, networks)]
    impostors_rejected = float(np.mean(np.array(claims) < verdict.THRESHOLD))
    n_songs = data["counts"].shape[2]
    labels = [SongLabel(str(i), str(i), "", "") for i in range(n_songs)]
    cells: dict[tuple, dict[str, list]] = {}
    for i in range(len(data["truth"])):
        probabilities = data["network"][i][np.newaxis, :]

        def answer_at(speed: float, found: FingerprintMatch):  # type: ignore[no-untyped-def]
            return dataclasses.replace(decide(probabilities, labels, 0.5, 5, found, fm, pm), speed=speed)

        nominal = answer_at(1.0, match(data["counts"][i][0], data["similarity"][i][0]))
        by_speed = {s: match(data["counts"][i][c], data["similarity"][i][c]) for s, c in zip(grid, columns[1:])}
        # ``search`` matches each speed once, in the grid's order: the stored match of that speed.
        in_order = iter(grid)
        if policy == "product":
            answer = speed_search.search(nominal, np.zeros(8, np.float32), grid, lambda a: a.verdict == "match",
                                         lambda a: a.certainty, answer_at, lambda _audio: by_speed[next(in_order)])
        else:  # "best try": the most confident try even when none is ``match`` (the alternative measured)
            answer = nominal
            if nominal.verdict != "match":
                for speed in grid:
                    other = answer_at(speed, by_speed[speed])
                    if other.certainty > answer.certainty:
                        answer = other
        key = (str(data["condition"][i]), int(data["length"][i]), int(data["snr"][i]))
        cell = cells.setdefault(key, {"top1": [], "top5": [], "right_match": [], "unknown_answered_unknown": [],
                                      "searched": []})
        cell["searched"].append(nominal.verdict != "match" and bool(grid))
        truth = int(data["truth"][i])
        ranked = [int(m.song.id) for m in answer.matches]
        if truth >= 0:
            cell["top1"].append(ranked[0] == truth)
            cell["top5"].append(truth in ranked[:5])
            cell["right_match"].append(ranked[0] == truth and answer.verdict == "match")
        else:
            cell["unknown_answered_unknown"].append(answer.verdict == "unknown")
    rows_out = []
    for (condition, length, snr), cell in cells.items():
        row = {"condition": condition, "length_s": length, "snr_db": snr}
        row.update({k: float(np.mean(v)) for k, v in cell.items() if v})
        rows_out.append(row)
    return {"grid": list(grid), "fingerprint_margin": fm, "profile_margin": pm, "calibration": calibration,
            "impostors_rejected": impostors_rejected,
            "conditions": rows_out}


def report(side_name: str) -> dict:
    with np.load(evidence_file(side_name)) as f:
        data = {k: f[k] for k in f.files}
    out = {name: grid_rows(data, grid) for name, grid in GRIDS.items()}
    out["0.99/1.01, nominal margins (not calibrated through the search)"] = grid_rows(data, (0.99, 1.01), True)
    out["0.99/1.01, the most confident try even when not match"] = grid_rows(data, (0.99, 1.01), policy="best try")
    out["0.99/1.01, percentile margins alone (no 95 % rejection rule)"] = grid_rows(data, (0.99, 1.01), rejection_target=0.0)
    tries_ms = np.median(data["match_ms"][:, 1:])
    return {"grids": out, "nominal_match_median_ms": float(np.median(data["match_ms"][:, 0])),
            "undone_match_median_ms": float(tries_ms)}


def print_report(side: str, result: dict) -> None:
    order = [("plain", 10, 10), ("plain", 10, 5), ("plain", 10, 0), ("plain", 10, -5), ("plain", 5, 0),
             ("plain", 3, 5), ("drift", 10, 5), ("drift", 10, 0), ("drift", 5, 0), ("drift", 3, 5)]
    print(f"\n[{side}] one match: nominal {result['nominal_match_median_ms']:.0f} ms, "
          f"undone (resample + match) {result['undone_match_median_ms']:.0f} ms (medians)")
    for name, g in result["grids"].items():
        print(f"  grid {name}: margins {g['fingerprint_margin']:.0f} / {g['profile_margin']:.4f}, "
              f"calibration impostors rejected through this search {g['impostors_rejected']:.1%}")
        keyed = {(r["condition"], r["length_s"], r["snr_db"]): r for r in g["conditions"]}
        for key in order:
            r = keyed.get(key)
            if r is None:
                continue
            print(f"    {key[0]:5s} {key[1]:2d}-s {key[2]:+3d} dB  top1 {r['top1']:.1%}  top5 {r['top5']:.1%}  "
                  f"match {r['right_match']:.1%}  unknown {r.get('unknown_answered_unknown', float('nan')):.1%}  "
                  f"searched {r['searched']:.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["dump", "report"])
    parser.add_argument("--side", nargs="+", default=["tuning"])
    args = parser.parse_args(argv)
    for side in args.side:
        if args.command == "dump":
            dump(side)
        result = report(side)
        print_report(side, result)
        print("wrote", write_result(f"speed-grid-{side}", {"kind": "speed-grid", "side": side, **result,
                                                         "command": command_line(), "machine": machine()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
