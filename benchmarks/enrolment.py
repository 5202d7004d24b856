"""Enrolment: how fast songs become identifiable, and how well, before any training.

    python -m benchmarks.enrolment [--songs 57] [--excerpts 2] [--snrs 0 -5] [--unknown 20]

A fresh data folder enrols the benchmark's ``--songs`` library (``training.enrolment.enrol``:
decode, store, analyse into the song index, calibrate the margins), timed as a whole and as a
real-time factor (seconds of music per second of wall time). Then one more song is enrolled and
the time until ``CurrentRecognizer`` answers with it is measured ("seconds from drop to
identifiable"). Recognition here has no network at all (nothing was trained): landmarks and
tonal profiles alone, the state of every song between its enrolment and the next training.

Queries: ``--excerpts`` 10-s excerpts per enrolled song at seeded offsets, and one per
``--unknown`` song that is not enrolled, made into phone recordings in a room
(``benchmarks.simulate``: reverb, phone band, a noise bed from the benchmark's query noise, which
no MusicID part was tuned on) at each SNR. The margins were calibrated on the bundled negatives
(``resources/negatives``), which come from other tracks of the same four soundtracks, not from
the songs queried. Prints ranked first, answered with the right ``match``, unknown answered
``unknown``, identification latency (median, p99) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import benchmark_corpus, library_split, peak_rss_mb, write_result
from benchmarks.queries import query_noise_files
from benchmarks.simulate import resample, simulate_recording

SR = 22050
QUERY_SECONDS = 10.0


def _recordings(songs, excerpts: int, snrs: list[float], noise: list[np.ndarray], salt: int):  # type: ignore[no-untyped-def]
    from musicid_core.audio.decode import load_audio

    n = int(QUERY_SECONDS * SR)
    for si, song in enumerate(songs):
        clean_song = load_audio(song.path)
        for e in range(excerpts):
            rng = np.random.default_rng([salt, si, e])
            offset = int(rng.integers(0, max(1, clean_song.size - n)))
            clean = clean_song[offset : offset + n]
            for snr in snrs:
                audio, rate = simulate_recording(clean, SR, noise, float(snr), np.random.default_rng([salt, si, e, int(snr) + 100]))
                back = resample(audio.astype(np.float64), rate, SR)[:n].astype(np.float32)
                yield song, snr, back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=57)
    parser.add_argument("--excerpts", type=int, default=2)
    parser.add_argument("--unknown", type=int, default=20)
    parser.add_argument("--snrs", type=float, nargs="+", default=[0.0, -5.0])
    args = parser.parse_args(argv)

    from musicid_core.audio.decode import load_audio
    from musicid_core.library import Library
    from musicid_core.models.current import CurrentRecognizer
    from musicid_core.song_index import SongIndex
    from training.enrolment import enrol

    corpus = benchmark_corpus()
    enrolled, rest = library_split(corpus, args.songs)
    newcomer, unknown = rest[0], rest[1 : 1 + args.unknown]
    with tempfile.TemporaryDirectory(prefix="musicid-enrol-") as tmp:
        library = Library(Path(tmp) / "data")
        phases: dict[str, float] = {}
        last = [time.monotonic(), ""]

        def progress(fraction: float, message: str) -> None:
            phase = "calibrating" if message.startswith("Calibrating") else "importing and indexing"
            now = time.monotonic()
            if last[1]:
                phases[last[1]] = phases.get(last[1], 0.0) + now - last[0]
            last[0], last[1] = now, phase

        started = time.monotonic()
        report = enrol(library, [s.path for s in enrolled], progress=progress)
        total = time.monotonic() - started
        music_s = sum(s.duration for s in library.songs())
        index_bytes = sum(p.stat().st_size for p in SongIndex(library).folder.glob("*.npz"))
        print(f"enrolled {len(report.imported.added)} songs ({music_s / 3600:.2f} h) in {total:.1f} s: "
              f"{music_s / total:.0f}x real time; phases {({k: round(v, 1) for k, v in phases.items()})}; "
              f"index {index_bytes / 1e6:.1f} MB; margins {report.margins}", flush=True)

        current = CurrentRecognizer(library)
        t = time.monotonic()
        recognizer = current.current()
        load_s = time.monotonic() - t
        t = time.monotonic()
        enrol(library, [newcomer.path])
        new_recognizer = current.current()
        to_identifiable = time.monotonic() - t
        new_answer = new_recognizer.identify(load_audio(newcomer.path)[20 * SR : 30 * SR])
        print(f"index loaded in {load_s:.2f} s; one more song ({newcomer.song_id}) identifiable "
              f"{to_identifiable:.1f} s after its enrolment began: {new_answer.verdict} "
              f"{new_answer.best.song.source}", flush=True)

        noise = [load_audio(p, allow_silence=True) for p in query_noise_files()]
        source_of = {s.id: s.source for s in library.songs()}
        rows: dict[float, dict[str, list[bool]]] = {snr: {"top1": [], "match": [], "rejected": []} for snr in args.snrs}
        latencies = []
        for group, songs, excerpts in (("enrolled", enrolled, args.excerpts), ("unknown", unknown, 1)):
            for song, snr, audio in _recordings(songs, excerpts, args.snrs, noise, salt=7 if group == "enrolled" else 8):
                t = time.perf_counter()
                answer = new_recognizer.identify(audio)
                latencies.append(time.perf_counter() - t)
                if group == "enrolled":
                    right = source_of.get(answer.best.song.id) == song.path.name
                    rows[snr]["top1"].append(right)
                    rows[snr]["match"].append(right and answer.verdict == "match")
                else:
                    rows[snr]["rejected"].append(answer.verdict == "unknown")
        table = []
        for snr, row in rows.items():
            entry = {"snr_db": snr, **{k: float(np.mean(v)) for k, v in row.items()},
                     "n_enrolled": len(row["top1"]), "n_unknown": len(row["rejected"])}
            table.append(entry)
            print(f"10 s at {snr:+.0f} dB: ranked first {entry['top1']:.1%}, right match {entry['match']:.1%} "
                  f"(n={entry['n_enrolled']}); unknown rejected {entry['rejected']:.1%} (n={entry['n_unknown']})")
        lat = np.array(latencies) * 1000
        print(f"identification (no network): median {np.median(lat):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms; "
              f"peak RSS {peak_rss_mb():.0f} MB", flush=True)
        write_result("enrolment", {
            "songs": len(enrolled), "music_hours": music_s / 3600, "enrol_seconds": total,
            "real_time_factor": music_s / total, "phases_s": phases, "index_mb": index_bytes / 1e6,
            "margins": report.margins.__dict__ if report.margins else None, "index_load_s": load_s,
            "one_more_song_to_identifiable_s": to_identifiable, "conditions": table,
            "identify_median_ms": float(np.median(lat)), "identify_p99_ms": float(np.percentile(lat, 99)),
            "peak_rss_mb": peak_rss_mb(),
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
