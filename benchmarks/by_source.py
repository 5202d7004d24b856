"""Accuracy on sources the recogniser was never tuned on: a split by soundtrack and noise source.

    python -m benchmarks.by_source [--side tuning held-out] [--train-only] [--excerpts 1]

Issue 15. Every constant of the recogniser (landmark density, profile weight, margins' floors,
window pooling) was chosen on the older benchmark, whose queries and hold-out set draw other
offsets and noise beds from the *same* four soundtracks and the same ambience. Here each side is a
set of *sources*, never of draws:

* ``tuning``: the four soundtracks and the query noise the existing constants were tuned on
  (``benchmarks.corpus.SONG_PACKAGES``; Wesnoth ambience outside the default pack, the seed-1
  synthetic pack), plus one source of each new kind of room noise (``benchmarks.room_noise``);
* ``held-out``: the four soundtracks added for issue 15 (``HELD_OUT_SONG_PACKAGES``) and the other
  new noise sources. Nothing of the held-out side may be used to choose a constant.

On each side, a 57-song library is enrolled from some soundtracks and the unknown songs come from
*other* soundtracks of the same side (an unknown query is then a stranger, not a sibling track of
an enrolled one). The network is the default model trained with default settings on the enrolled
songs and the bundled default noise (``training.train``), once per side, and cached.

Queries: ``--excerpts`` 10-s excerpts per song at seeded offsets, each made into a phone recording
in a room (``benchmarks.simulate``: reverb, a 1-3 layer bed of the side's noise, phone band limit,
44.1/48 kHz, gain and clipping) with one recording in three sent through Opus at 32 kbit/s, at
+10/+5/0/-5 dB; the 5-s (0 dB) and 3-s (+5 dB) queries are the first 5 and 3 s of the same
recordings. The speed-drift condition plays the excerpt 1 % fast or 1 % slow (alternating by
song) before the room, at +5 and 0 dB. Recognition is ``Recognizer(bundle).identify(audio)``,
with the speed search (``musicid_core.speed_search``; a bundle trained before it gets its margins
calibrated through it first, in memory: ``searched_margins``);
the per-part table also reads the network's window probabilities and the index's landmark and
profile match for the same recording (the two calls ``identify`` makes inside).

Writes ``benchmarks/results/by-source.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import bench_cache, command_line, machine, negative_song_ids, peak_rss_mb, write_result
from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, Corpus, SongFile, ensure_corpus, pick_library

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SR = 22050
LIBRARY_SIZE = 57
SEED = 0


@dataclass(frozen=True)
class Side:
    """Which soundtracks are enrolled, which give the unknown songs, and which noise sources."""

    name: str
    enrolled_packages: tuple[str, ...]
    unknown_packages: tuple[str, ...]
    noise_sources: tuple[str, ...]
    """Names from ``benchmarks.room_noise.NOISE_SOURCES``."""


SIDES: dict[str, Side] = {
    "tuning": Side(
        "tuning",
        ("wesnoth-1.16-music", "drascula-music", "planetblupi-music-ogg"),
        ("hyperrogue-music",),
        ("wesnoth-query-ambience", "synthetic-seed1", "babble-pl-sv-cs", "cutlery-steel", "traffic-street",
         "hvac-50hz", "tv-news-en"),
    ),
    "held-out": Side(
        "held-out",
        ("ufoai-music",),
        ("hedgewars-data", "asc-music", "fb-music-high"),
        ("babble-ru-pt-tr-fi", "dishes-ceramic", "traffic-highway", "hvac-60hz", "tv-drama-el-hu"),
    ),
}
assert set(SIDES["tuning"].enrolled_packages + SIDES["tuning"].unknown_packages) <= set(SONG_PACKAGES)
assert set(SIDES["held-out"].enrolled_packages + SIDES["held-out"].unknown_packages) <= set(HELD_OUT_SONG_PACKAGES)
assert not set(SIDES["tuning"].noise_sources) & set(SIDES["held-out"].noise_sources)


def side_songs(side: Side, corpus: Corpus) -> tuple[list[SongFile], list[SongFile]]:
    """(57 enrolled, unknown) songs of one side; the training negatives' sources never appear."""
    negatives = negative_song_ids()
    usable = [s for s in corpus.songs if s.song_id not in negatives]
    pool = Corpus(corpus.cache, [s for s in usable if s.package in side.enrolled_packages], [])
    enrolled, _ = pick_library(pool, n=LIBRARY_SIZE, seed=SEED, min_rest=0)
    unknown = sorted((s for s in usable if s.package in side.unknown_packages), key=lambda s: s.song_id)
    return enrolled, unknown


def side_root(side: Side) -> Path:
    return bench_cache() / "libs" / f"by-source-{side.name}"


def trained_library(side: Side, enrolled: list[SongFile]):  # type: ignore[no-untyped-def]
    """The side's data folder with its 57 songs and a current model trained on them with the
    default settings and default noise; trained only when there is none for exactly these songs."""
    from musicid_core.errors import ModelError
    from musicid_core.library import Library
    from musicid_core.models.store import load_current
    from musicid_core.storage import file_sha256
    from training.train import TrainOptions, train

    root = side_root(side)
    library = Library(root)
    digests = {s.song_id: file_sha256(s.path) for s in enrolled}
    have = {s.sha256 for s in library.songs()}
    missing = [s.path for s in enrolled if digests[s.song_id] not in have]
    if missing:
        started = time.monotonic()
        report = library.add_songs(missing)
        print(f"[{side.name}] imported {len(report.added)} songs in {time.monotonic() - started:.0f} s; "
              f"failed {report.failed}", flush=True)
    if library.noise_packs():
        raise SystemExit(f"{root} holds noise packs; the benchmark trains with the default noise only")
    record = root / "by-source-training.json"
    try:
        bundle = load_current(library.models_dir)
        current = bundle.meta.library_fingerprint == library.fingerprint()
    except ModelError:
        current = False
    if not current:
        print(f"[{side.name}] training the default model on {len(enrolled)} songs", flush=True)
        last = {"t": 0.0}

        def progress(p):  # type: ignore[no-untyped-def]
            now = time.monotonic()
            if now - last["t"] > 60 or p.epoch_end:
                last["t"] = now
                print(f"[{side.name} {time.strftime('%H:%M:%S')}] {p.stage} {p.fraction:.0%} {p.message}", flush=True)

        cpu = time.process_time()
        result = train(library, TrainOptions(), progress=progress)
        record.write_text(json.dumps({
            "train_seconds": result.seconds, "train_cpu_seconds": time.process_time() - cpu,
            "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "validation": result.metrics,
            "load_average": os.getloadavg(), "peak_rss_mb": peak_rss_mb(), "bundle": result.bundle.name,
        }, indent=1))
        print(f"[{side.name}] trained in {result.seconds:.0f} s", flush=True)
        bundle = load_current(library.models_dir)
    bundle = with_current_index(library, bundle)  # the cached model, measured with today's analysis
    bundle = searched_margins(side, library, bundle)
    sha_to_song = {digests[s.song_id]: s.song_id for s in enrolled}
    id_to_song = {song.id: sha_to_song[song.sha256] for song in library.songs() if song.sha256 in sha_to_song}
    training = json.loads(record.read_text()) if record.is_file() else {}
    return bundle, id_to_song, training


def with_current_index(library, bundle):  # type: ignore[no-untyped-def]
    """The bundle with its songs' index made again (in memory, from the library's stored songs)
    when it was made by another version's analysis (``fingerprint.ANALYSIS_PARAMETERS``): the
    cached model then keeps being measured with the index the product would use with it."""
    import dataclasses

    from musicid_core.fingerprint import FingerprintIndex

    if bundle.fingerprints is not None:
        return bundle
    started = time.monotonic()
    by_id = {song.id: song for song in library.songs()}
    fingerprints = FingerprintIndex.build(library.song_audio(by_id[label.id]) for label in bundle.labels)
    print(f"[{bundle.path.parent.parent.name}] the bundle's index was made by another analysis: made again in "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return dataclasses.replace(bundle, fingerprints=fingerprints)


def searched_margins(side: Side, library, bundle):  # type: ignore[no-untyped-def]
    """The bundle with its margins calibrated through the recogniser's speed search
    (``musicid_core.speed_search``), and with the margins the same impostors give at nominal speed
    alone (``nominal_margins``: what the recogniser before the search used; ``evaluate`` reads
    "before" with them). The impostors are those training makes for the bundle
    (``training.train``: bundled negatives, the validation share of the library's noise, the
    default seed), analysed at every search speed, the network's answers counted for those of the
    negatives it never trained on, as training now calibrates (``training.heard_impostors``); a
    bundle trained before the search gets the
    searched margins in memory only, its folder untouched. Cached per bundle, grid and query
    analysis (``song_index.QUERY_PARAMETERS``) in the side's folder."""
    import dataclasses

    from musicid_core import speed_search
    from musicid_core.recognizer import Recognizer
    from training.fingerprints import calibrate_margin, impostor_recordings
    from training.heard_impostors import hear
    from training.noise_bank import load_negative_bank, load_noise_bank
    from training.train import TrainOptions

    from musicid_core.song_index import ANALYSIS_PARAMETERS, QUERY_PARAMETERS

    grid = "-".join(f"{s:g}" for s in speed_search.SPEEDS) or "none"
    analysis = "-".join(map(str, QUERY_PARAMETERS)) + "-songs-" + "-".join(map(str, ANALYSIS_PARAMETERS.tolist()))
    cache = side_root(side) / f"margins-v4-{bundle.path.name}-speeds-{grid}-query-{analysis}.json"
    if cache.is_file():
        found = json.loads(cache.read_text())
    else:
        started = time.monotonic()
        options = TrainOptions()
        negatives = load_negative_bank(options.negatives_dir)
        recordings = list(impostor_recordings(negatives.clips, load_noise_bank(library, options.noise_packs).split()[1],
                                              options.seed))
        impostors = [speed_search.analyse_tries(audio) for _, audio in recordings]
        # What training now does for a new bundle: the network's answers for the impostors it
        # never trained on count in their claims (``training.heard_impostors``).
        network = Recognizer(bundle)
        ids = [label.id for label in bundle.labels]
        heard = hear(lambda x: network.window_probabilities(x[..., 0]), recordings, negatives.validation_only(), ids, network.settings)
        found = calibrate_margin(bundle.fingerprints, [], [], queries=impostors,
                                 networks=heard.answers(ids, ids, len(impostors)))
        found["margin_speeds"] = list(speed_search.calibrated_speeds(impostors))
        # The calibration before the search: nominal-speed tries, percentile margins alone.
        nominal = calibrate_margin(bundle.fingerprints, [], [], queries=[
            speed_search.Tries((), tries.analyses[:1]) for tries in impostors], rejection_target=0.0)
        found["nominal_margins"] = [nominal["fingerprint_margin"], nominal["profile_margin"]]
        found["nominal_impostors_rejected"] = nominal["verdict_impostors_rejected"]
        found["bundle_margins"] = [bundle.meta.fingerprint_margin, bundle.meta.profile_margin,
                                   list(bundle.meta.margin_speeds)]
        found["calibrate_seconds"] = time.monotonic() - started
        cache.write_text(json.dumps(found, indent=1))
    print(f"[{side.name}] margins calibrated through speeds {found['margin_speeds']}: {found['fingerprint_margin']:.0f} "
          f"landmarks, {found['profile_margin']:.4f} profile, calibration impostors rejected "
          f"{found['verdict_impostors_rejected']:.1%}; at nominal speed only {found['nominal_margins']}, "
          f"{found['nominal_impostors_rejected']:.1%}; the bundle's own: {found['bundle_margins']}", flush=True)
    meta = dataclasses.replace(bundle.meta, fingerprint_margin=found["fingerprint_margin"],
                               profile_margin=found["profile_margin"], margin_speeds=found["margin_speeds"],
                               metrics={**bundle.meta.metrics, "searched_calibration": found})
    return dataclasses.replace(bundle, meta=meta)


# --- the recordings ------------------------------------------------------------------------------

VERSION = 1
SNRS = (10, 5, 0, -5)
DRIFT_SNRS = (5, 0)
DRIFTS = (1.01, 0.99)
"""Playback speed of the drift condition: a turntable or a resampling phone 1 % fast or slow."""
OPUS_SHARE = 3
"""One recording in ``OPUS_SHARE`` goes through Opus at ``OPUS_KBPS`` (as in issue 15's run)."""
OPUS_KBPS = 32
QUERY_LENGTHS: dict[tuple[str, int], tuple[int, ...]] = {
    # (condition, SNR) -> lengths in seconds cut from the start of that 10-s recording
    **{("plain", snr): (10,) for snr in SNRS},
    ("plain", 0): (10, 5),
    ("plain", 5): (10, 3),
    ("drift", 0): (10, 5),
    ("drift", 5): (10, 3),
}


def _seed(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def side_noise_files(side: Side) -> list[Path]:
    """The side's noise recordings, by source."""
    from benchmarks.common import noise_split
    from benchmarks.queries import synthetic_query_noise_dir
    from benchmarks.room_noise import NOISE_SOURCES, source_clips

    files: list[Path] = []
    for source in side.noise_sources:
        if source == "wesnoth-query-ambience":
            files += noise_split(ensure_corpus())[1]
        elif source == "synthetic-seed1":
            files += sorted(synthetic_query_noise_dir().glob("*.ogg"))
        elif source in NOISE_SOURCES:
            files += source_clips(source, bench_cache() / "room-noise")
        else:
            raise ValueError(f"unknown noise source {source!r}")
    return files


def speed_changed(clean: np.ndarray, speed: float) -> np.ndarray:
    """``clean`` played ``speed`` times as fast (pitch and tempo together, as a turntable)."""
    from fractions import Fraction

    from scipy import signal

    ratio = Fraction(speed).limit_denominator(1000)
    return signal.resample_poly(np.asarray(clean, np.float64), ratio.denominator, ratio.numerator)


def excerpt_count(enrolled: bool, args: argparse.Namespace) -> int:
    return args.excerpts if enrolled else args.unknown_excerpts


def queries_file(side: Side, args: argparse.Namespace) -> Path:
    return bench_cache() / f"by-source-v{VERSION}-{side.name}-e{args.excerpts}-u{args.unknown_excerpts}.npz"


def build_queries(side: Side, enrolled: list[SongFile], unknown: list[SongFile], args: argparse.Namespace) -> dict:
    """Every recording of one side (cached): plain and speed-drifted, all SNRs, cut to each length."""
    from benchmarks.simulate import resample, simulate_recording
    from musicid_core.audio.decode import load_audio

    path = queries_file(side, args)
    if path.is_file():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    noise_files = side_noise_files(side)
    noise = [load_audio(p, allow_silence=True) for p in noise_files]
    print(f"[{side.name}] query noise: {[p.name for p in noise_files]}", flush=True)
    n = 10 * SR
    chunks, meta = [], defaultdict(list)
    started = time.monotonic()
    songs = [(s, True) for s in enrolled] + [(s, False) for s in unknown]
    for index, (song, is_enrolled) in enumerate(songs):
        clean_song = load_audio(song.path)
        for e in range(excerpt_count(is_enrolled, args)):
            need = int(n * max(DRIFTS)) + SR
            offset = int(np.random.default_rng(_seed(side.name, song.song_id, e)).integers(0, clean_song.size - need))
            codec = "opus" if (index + e) % OPUS_SHARE == 0 else None
            speed = DRIFTS[(index + e) % len(DRIFTS)]
            for condition in ("plain", "drift"):
                source = clean_song[offset : offset + need]
                source = (speed_changed(source, speed) if condition == "drift" else source)[:n]
                for snr in SNRS if condition == "plain" else DRIFT_SNRS:
                    # The same seed for plain and drifted: same room, noise bed, gain and codec,
                    # so the drift's cost is read off paired recordings.
                    rng = np.random.default_rng(_seed(side.name, song.song_id, e, snr))
                    audio, rate = simulate_recording(source, SR, noise, float(snr), rng, codec=codec,
                                                     bitrate_kbps=OPUS_KBPS if codec else None)
                    back = resample(audio.astype(np.float64), rate, SR)
                    back = back[:n] if back.size >= n else np.pad(back, (0, n - back.size))
                    for length in QUERY_LENGTHS[(condition, snr)]:
                        chunks.append(back[: length * SR].astype(np.float16))
                        for key, value in (("song", song.song_id), ("enrolled", is_enrolled), ("excerpt", e),
                                           ("condition", condition), ("snr", snr), ("length", length),
                                           ("codec", codec or "none"),
                                           ("speed", speed if condition == "drift" else 1.0),
                                           ("rate", rate)):
                            meta[key].append(value)
        if (index + 1) % 10 == 0 or index + 1 == len(songs):
            print(f"[{side.name} {time.strftime('%H:%M:%S')}] recordings of {index + 1}/{len(songs)} songs, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
    sizes = np.array([c.size for c in chunks])
    data = {"audio": np.concatenate(chunks), "start": np.concatenate([[0], np.cumsum(sizes)[:-1]]), "size": sizes,
            **{k: np.array(v) for k, v in meta.items()}, "noise_files": np.array([p.name for p in noise_files])}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **data)
    tmp.replace(path)
    return data


# --- recognition -------------------------------------------------------------------------------


def part_ranks_first(network: np.ndarray, found, truth: int) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    """Whether each part of the recogniser by itself puts the right song (output ``truth``) first:
    the network's averaged window probabilities (``network``, one per song), the aligned landmarks,
    the profile similarity (``found``, the nominal-speed match). These are the two inputs
    ``Recognizer.identify`` combines. A part counts as right only when the right song is strictly
    ahead of every other (a tie at zero landmarks is no answer)."""

    def first(values: np.ndarray) -> bool:
        others = np.delete(values, truth)
        return bool(values[truth] > others.max())

    parts = {"network": first(network), "landmarks": first(found.counts.astype(np.float64))}
    if found.profiles is not None:
        parts["profiles"] = first(found.profiles.similarity)
    return parts


def evaluate(bundle, queries: dict, id_to_song: dict[str, str]) -> tuple[list[dict], dict]:  # type: ignore[no-untyped-def]
    """Per (condition, length, SNR): ranked first, top 5, right ``match``, unknown answered
    ``unknown``, each part alone, and the share that the speed search tried again; plus the times
    of one ``identify`` (median, and apart for the recordings searched and not)."""
    from musicid_core.features import recording_windows
    from musicid_core.recognizer import Recognizer, decide

    recognizer = Recognizer(bundle)
    # The recogniser before the speed search: the nominal answer with the margins the bundle was
    # trained with, from the same two inputs ``identify`` combines (``decide``), so "before" and
    # "after" are read off the very same recordings and model.
    before_margins = bundle.meta.metrics.get("searched_calibration", {}).get("nominal_margins")
    output_of_song = {id_to_song[label.id]: i for i, label in enumerate(recognizer.labels)}
    cells: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    latencies: list[float] = []
    searched: list[bool] = []
    for i in range(len(queries["song"])):
        song = str(queries["song"][i])
        key = (str(queries["condition"][i]), int(queries["length"][i]), int(queries["snr"][i]))
        audio = queries["audio"][queries["start"][i] : queries["start"][i] + queries["size"][i]].astype(np.float32)
        t = time.perf_counter()
        result = recognizer.identify(audio, top_k=5)
        latencies.append(time.perf_counter() - t)
        # The speed search ran exactly when the nominal answer was not ``match``: the answer is then
        # not ``match`` or was read at another speed.
        searched.append(bool(recognizer.search_speeds) and (result.verdict != "match" or result.speed != 1.0))
        probabilities = recognizer.song_probabilities(recording_windows(audio, recognizer.settings))
        found = recognizer.fingerprints.match(audio)
        answers = {"": result}
        if before_margins is not None:
            answers["nominal_"] = decide(probabilities, recognizer.labels, recognizer.threshold, 5, found, *before_margins)
        cell = cells[key]
        for prefix, answer in answers.items():
            ranked = [id_to_song[m.song.id] for m in answer.matches]
            if bool(queries["enrolled"][i]):
                cell[f"{prefix}top1"].append(ranked[0] == song)
                cell[f"{prefix}top5"].append(song in ranked[:5])
                cell[f"{prefix}right_match"].append(ranked[0] == song and answer.verdict == "match")
            else:
                cell[f"{prefix}unknown_answered_unknown"].append(answer.verdict == "unknown")
        if bool(queries["enrolled"][i]):
            network = probabilities[:, : len(recognizer.labels)].mean(axis=0)
            for part, right in part_ranks_first(network, found, output_of_song[song]).items():
                cell[f"{part}_top1"].append(right)
        cell["searched"].append(searched[-1])
        cell["read_at_other_speed"].append(result.speed != 1.0)
    rows = []
    def order(item: tuple) -> tuple:
        (condition, length, snr), _ = item
        return condition != "plain", -length, -snr

    for (condition, length, snr), cell in sorted(cells.items(), key=order):
        row = {"condition": condition, "length_s": length, "snr_db": snr,
               "n_enrolled": len(cell["top1"]), "n_unknown": len(cell["unknown_answered_unknown"])}
        row.update({name: float(np.mean(values)) for name, values in cell.items() if values})
        # Where the combination loses to a part: the part alone right, the combination wrong.
        if cell["top1"]:
            combined = np.array(cell["top1"])
            for part in ("network", "landmarks", "profiles"):
                if cell.get(f"{part}_top1"):
                    row[f"{part}_right_combined_wrong"] = int(np.sum(np.array(cell[f"{part}_top1"]) & ~combined))
        rows.append(row)
    lat, was = np.array(latencies) * 1000, np.array(searched, dtype=bool)
    timing = {"identify_median_ms": float(np.median(lat)), "searched_share": float(was.mean()),
              "identify_median_ms_not_searched": float(np.median(lat[~was])) if (~was).any() else None,
              "identify_median_ms_searched": float(np.median(lat[was])) if was.any() else None,
              "identify_mean_ms": float(lat.mean()), "speeds": list(recognizer.search_speeds)}
    return rows, timing


def short_recordings(bundle, side: Side, enrolled: list[SongFile], count: int = 8) -> list[dict]:  # type: ignore[no-untyped-def]
    """Issue 15, point 4: recordings of 2.97-3.05 s (cut at the phone's rate, then brought back to
    22050 Hz as the app does), plain and 1 % fast or slow: which are refused, and with what message."""
    from benchmarks.simulate import resample, simulate_recording
    from musicid_core.audio.decode import load_audio
    from musicid_core.errors import MusicIdError
    from musicid_core.recognizer import Recognizer

    recognizer = Recognizer(bundle)
    noise = [load_audio(p, allow_silence=True) for p in side_noise_files(side)]
    rows = []
    for song in enrolled[:count]:
        clean_song = load_audio(song.path)
        rng = np.random.default_rng(_seed("short", side.name, song.song_id))
        offset = int(rng.integers(0, clean_song.size - 5 * SR))
        for speed in (1.0, 1.01, 0.99):
            source = clean_song[offset : offset + 5 * SR]
            source = speed_changed(source, speed) if speed != 1.0 else source
            audio, rate = simulate_recording(source[: 4 * SR], SR, noise, 5.0, rng)
            for seconds in (2.97, 2.98, 2.99, 3.0, 3.01, 3.02, 3.05):
                back = resample(audio[: int(round(seconds * rate))].astype(np.float64), rate, SR).astype(np.float32)
                row = {"song": song.song_id, "speed": speed, "seconds": seconds, "samples": int(back.size)}
                try:
                    result = recognizer.identify(back)
                    row["answer"] = result.verdict
                except MusicIdError as exc:
                    row["refused"] = str(exc)
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", nargs="+", choices=sorted(SIDES), default=["held-out", "tuning"])
    parser.add_argument("--train-only", action="store_true", help="only make sure each side's model is trained")
    parser.add_argument("--excerpts", type=int, default=1, help="10-s excerpts per enrolled song")
    parser.add_argument("--unknown-excerpts", type=int, default=2, help="10-s excerpts per unknown song")
    parser.add_argument("--report", action="store_true",
                        help="only merge the sides' saved results (results/by-source-<side>.json) and print the tables")
    args = parser.parse_args(argv)
    if args.report:
        return report_saved()
    started = time.monotonic()
    corpus = ensure_corpus(packages=SONG_PACKAGES + HELD_OUT_SONG_PACKAGES)
    results: dict[str, dict] = {}
    for name in args.side:
        side = SIDES[name]
        enrolled, unknown = side_songs(side, corpus)
        print(f"[{name}] {len(enrolled)} enrolled ({', '.join(side.enrolled_packages)}), {len(unknown)} unknown "
              f"({', '.join(side.unknown_packages)})", flush=True)
        bundle, id_to_song, training = trained_library(side, enrolled)
        if args.train_only:
            continue
        t = time.monotonic()
        queries = build_queries(side, enrolled, unknown, args)
        build_s = time.monotonic() - t
        t = time.monotonic()
        rows, timing = evaluate(bundle, queries, id_to_song)
        evaluate_s = time.monotonic() - t
        short = short_recordings(bundle, side, enrolled)
        results[name] = {
            "enrolled_packages": list(side.enrolled_packages), "unknown_packages": list(side.unknown_packages),
            "noise_sources": list(side.noise_sources), "noise_files": [str(x) for x in queries["noise_files"]],
            "enrolled": [s.song_id for s in enrolled], "unknown": [s.song_id for s in unknown],
            "model": bundle.path.name, "training": training, "conditions": rows, **timing,
            "margins": {"fingerprint_margin": bundle.meta.fingerprint_margin, "profile_margin": bundle.meta.profile_margin,
                        "margin_speeds": list(bundle.meta.margin_speeds),
                        "searched_calibration": bundle.meta.metrics.get("searched_calibration")},
            "short_recordings": short, "queries_seconds": build_s, "evaluate_seconds": evaluate_s,
        }
        print_side(name, results[name])
        data = {"kind": "by-source", "side": name, "excerpts_enrolled": args.excerpts,
                "excerpts_unknown": args.unknown_excerpts, "opus_share": f"1 in {OPUS_SHARE} at {OPUS_KBPS} kbit/s",
                "drifts": list(DRIFTS), **results[name], "run_seconds": time.monotonic() - started,
                "command": command_line(), "machine": machine(), "load_average": os.getloadavg()}
        print("wrote", write_result(f"by-source-{name}", data), flush=True)
    if not args.train_only and set(results) == set(SIDES):
        return report_saved()
    return 0


def report_saved() -> int:
    """Merge the two sides' result files into ``by-source.json`` and print the tables."""
    from benchmarks.common import RESULTS

    sides = {}
    for name in SIDES:
        path = RESULTS / f"by-source-{name}.json"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run python -m benchmarks.by_source --side {name}")
        sides[name] = json.loads(path.read_text())
    print(tables(sides))
    merged = {"kind": "by-source", "sides": sides, "command": command_line(), "machine": machine(),
              "load_average": os.getloadavg()}
    print("wrote", write_result("by-source", merged))
    return 0


# --- tables ------------------------------------------------------------------------------------


def _pct(row: dict | None, key: str) -> str:
    value = None if row is None else row.get(key)
    return "—" if value is None else f"{100 * value:.1f} %"


def _label(row: dict) -> str:
    drift = ", ±1 % speed" if row["condition"] == "drift" else ""
    return f"{row['length_s']}-s {row['snr_db']:+d} dB{drift}"


def print_side(name: str, result: dict) -> None:
    print(f"\n[{name}] model {result['model']}; identify median {result['identify_median_ms']:.0f} ms")
    if result.get("speeds"):
        print(f"  speed search {result['speeds']}: {result['searched_share']:.1%} of recordings searched; identify median "
              f"{result['identify_median_ms_not_searched'] or 0:.0f} ms not searched, "
              f"{result['identify_median_ms_searched'] or 0:.0f} ms searched")
    for row in result["conditions"]:
        print(f"  {_label(row):26s} top1 {_pct(row, 'top1'):>8} top5 {_pct(row, 'top5'):>8} "
              f"match {_pct(row, 'right_match'):>8} unknown {_pct(row, 'unknown_answered_unknown'):>8} | "
              f"net {_pct(row, 'network_top1'):>8} lm {_pct(row, 'landmarks_top1'):>8} "
              f"prof {_pct(row, 'profiles_top1'):>8}"
              f"  (n {row['n_enrolled']}/{row['n_unknown']})", flush=True)
        if "nominal_top1" in row or "nominal_unknown_answered_unknown" in row:
            print(f"  {'  before the speed search':26s} top1 {_pct(row, 'nominal_top1'):>8} top5 {_pct(row, 'nominal_top5'):>8} "
                  f"match {_pct(row, 'nominal_right_match'):>8} unknown {_pct(row, 'nominal_unknown_answered_unknown'):>8} | "
                  f"searched {_pct(row, 'searched'):>8}", flush=True)
    refused = [r for r in result["short_recordings"] if "refused" in r]
    print(f"  short recordings: {len(result['short_recordings'])}, refused {len(refused)}: "
          f"{sorted({(r['seconds'], r['refused']) for r in refused})}")


def tables(results: dict[str, dict]) -> str:
    """Markdown tables, held-out and tuned-on side by side (what RESULTS.md quotes)."""
    keyed = {side: {(r["condition"], r["length_s"], r["snr_db"]): r for r in res["conditions"]}
             for side, res in results.items()}
    order = [(r["condition"], r["length_s"], r["snr_db"]) for r in results["held-out"]["conditions"]]
    lines = ["| recordings | ranked first (held-out / tuned-on) | top 5 | right `match` | unknown answered `unknown` "
             "| queries: enrolled / unknown (held-out; tuned-on) |", "|---|---|---|---|---|---|"]
    for key in order:
        h, t = keyed["held-out"].get(key), keyed["tuning"].get(key)
        cells = [f"{_pct(h, k)} / {_pct(t, k)}" for k in ("top1", "top5", "right_match", "unknown_answered_unknown")]
        counts = f"{h['n_enrolled']} / {h['n_unknown']}; {t['n_enrolled'] if t else 0} / {t['n_unknown'] if t else 0}"
        lines.append(f"| {_label(h)} | " + " | ".join(cells) + f" | {counts} |")
    if any("nominal_top1" in r for r in results["held-out"]["conditions"]):
        lines += ["", "| recordings | ranked first, before → with the speed search (held-out; tuned-on) | right `match` "
                  "| unknown answered `unknown` | searched (held-out; tuned-on) |", "|---|---|---|---|---|"]
        for key in order:
            h, t = keyed["held-out"].get(key), keyed["tuning"].get(key)
            cells = [f"{_pct(h, 'nominal_' + k)} → {_pct(h, k)}; {_pct(t, 'nominal_' + k)} → {_pct(t, k)}"
                     for k in ("top1", "right_match", "unknown_answered_unknown")]
            lines.append(f"| {_label(h)} | " + " | ".join(cells) + f" | {_pct(h, 'searched')}; {_pct(t, 'searched')} |")
    lines += ["", "| 10-s recordings, ranked first | network alone | landmarks alone | profiles alone | combined |",
              "|---|---|---|---|---|"]
    for snr in (5, 0, -5):
        for side in ("held-out", "tuning"):
            row = keyed[side].get(("plain", 10, snr))
            lines.append(f"| {snr:+d} dB, {side} | " + " | ".join(
                _pct(row, k) for k in ("network_top1", "landmarks_top1", "profiles_top1", "top1")) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
