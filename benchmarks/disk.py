"""What the library's stored form of a song costs and whether recognition still finds it.

    python -m benchmarks.disk [--songs N] [--excerpts K] [--keep DIR]

Real, freely licensed music (the Ogg Vorbis songs of ``wesnoth-1.16-music`` and
``hyperrogue-music``, fetched by ``benchmarks.corpus`` into its cache) is imported into a fresh
data folder with ``Library.add_songs``, as ``musicid library add`` does. Printed:

- size: the stored songs and the whole data folder against the original files, beside what the
  earlier float16 ``.npy`` form and 16-bit FLAC at the same rate would take (FLAC measured by
  encoding every song);
- import speed: seconds of music imported per second of wall time (one process, as the CLI),
  and the part of it that encoding the stored copy takes;
- a random 5-s fragment read (training's access pattern) through ``Library.song_reader``, and
  from the earlier ``.npy`` memory map for comparison;
- whether the stored copy is the same recording to the landmark and tonal-profile checks:
  (1) clean 10-s excerpts of the stored copy matched against an index built from the original
  decode; (2) simulated phone recordings (room reverb, ambient noise at 0 and -5 dB SNR, phone
  band limit, a lossy codec; ``benchmarks.simulate``) of the original, matched against an index
  built from the original decode and one built from the stored copies: top-1 and the median
  right-song landmark count and margin should not move. The noise is the bundled pack's
  (``resources/noise``); both indexes hear the same recordings, so the comparison is fair.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.common import DEFAULT_NOISE_DIR, command_line, machine, write_result
from benchmarks.corpus import default_cache_dir, ensure_package, list_songs
from musicid_core.audio import stored
from musicid_core.audio.decode import load_audio
from musicid_core.fingerprint import FingerprintIndex
from musicid_core.library import Library
from musicid_core.storage import file_sha256

PACKAGES = ("wesnoth-1.16-music", "hyperrogue-music")
SR = 22050
FRAGMENT = 5 * SR
EXCERPT_S = 10.0
SNRS = (0, -5)
CODECS = ("opus", "aac", "mp3")


def song_files(limit: int | None) -> list[Path]:
    files: list[Path] = []
    for package in PACKAGES:
        found, _ = list_songs(package, ensure_package(package, default_cache_dir()))
        files.extend(s.path for s in found)
    files.sort(key=lambda p: (p.parent.name, p.name))
    if limit and limit < len(files):  # spread over both packages, deterministically
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return files


def folder_bytes(root: Path, pattern: str = "**/*") -> int:
    return sum(p.stat().st_size for p in root.glob(pattern) if p.is_file())


def flac_bytes(audio: np.ndarray) -> int:
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", SR, 1, format="FLAC", subtype="PCM_16") as out:
        for start in range(0, audio.size, 1 << 16):
            out.write(audio[start:start + (1 << 16)])
    return len(buffer.getvalue())


def fragment_ms(readers: list, reads: int, rng: np.random.Generator) -> tuple[float, float]:
    times = []
    for _ in range(reads):
        reader = readers[int(rng.integers(len(readers)))]
        offset = int(rng.integers(0, len(reader) - FRAGMENT))
        started = time.perf_counter()
        fragment = np.asarray(reader[offset:offset + FRAGMENT], dtype=np.float32)
        times.append(time.perf_counter() - started)
        assert fragment.size == FRAGMENT
    return float(np.median(times) * 1000), float(np.percentile(times, 95) * 1000)


def excerpt_offsets(length: int, count: int, rng: np.random.Generator) -> list[int]:
    n = int(EXCERPT_S * SR)
    return [int(rng.integers(0, max(length - n, 1))) for _ in range(count)]


def summarise(matches: list, truth: list[int]) -> dict:
    right_counts = [int(m.counts[t]) for m, t in zip(matches, truth, strict=True)]
    return {
        "landmark_top1": float(np.mean([m.best == t for m, t in zip(matches, truth, strict=True)])),
        "profile_top1": float(np.mean([m.profiles.best == t for m, t in zip(matches, truth, strict=True)])),
        "right_landmarks_median": float(np.median(right_counts)),
        "landmark_margin_median": float(np.median([m.margin if m.best == t else -m.margin
                                                   for m, t in zip(matches, truth, strict=True)])),
        "profile_margin_median": float(np.median([m.profiles.margin if m.profiles.best == t else -m.profiles.margin
                                                  for m, t in zip(matches, truth, strict=True)])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=0, help="at most this many songs (default: all)")
    parser.add_argument("--excerpts", type=int, default=2, help="excerpts per song and condition")
    parser.add_argument("--reads", type=int, default=400, help="random 5-s fragment reads")
    parser.add_argument("--keep", type=Path, help="import into this folder and keep it")
    args = parser.parse_args(argv)

    load_before = list(os.getloadavg())
    files = song_files(args.songs or None)
    original_bytes = sum(p.stat().st_size for p in files)
    root = args.keep or Path(tempfile.mkdtemp(prefix="musicid-disk-"))
    try:
        library = Library(root)
        started = time.perf_counter()
        report = library.add_songs(files)
        import_s = time.perf_counter() - started
        assert not report.failed, report.failed
        songs = library.songs()
        music_s = sum(s.duration for s in songs)
        print(f"{len(songs)} songs, {music_s / 3600:.2f} h of music, originals {original_bytes / 1e6:.1f} MB "
              f"({original_bytes * 8 / music_s / 1000:.0f} kbit/s)")

        # Size.
        stored_bytes = folder_bytes(root / "songs", f"*{stored.SUFFIX}")
        data_bytes = folder_bytes(root)
        npy_bytes = sum(len(library.song_reader(s)) * 2 + 128 for s in songs)
        by_digest = {file_sha256(p): p for p in files}
        sources = [by_digest[s.sha256] for s in songs]
        started = time.perf_counter()
        originals = [load_audio(p) for p in sources]
        decode_s = time.perf_counter() - started
        flac = sum(flac_bytes(a) for a in originals)
        ratio = data_bytes / original_bytes
        print(f"stored songs {stored_bytes / 1e6:.1f} MB ({stored_bytes * 8 / music_s / 1000:.0f} kbit/s), "
              f"whole data folder {data_bytes / 1e6:.1f} MB = {ratio:.2f}x the originals "
              f"(float16 .npy would be {npy_bytes / original_bytes:.2f}x, FLAC 16-bit {flac / original_bytes:.2f}x)")
        ratios = [library.song_path(s).stat().st_size / p.stat().st_size
                  for s, p in zip(songs, sources, strict=True)]
        print(f"per song: stored/original {min(ratios):.2f}..{max(ratios):.2f}x")

        # Import speed, and the share of it the stored copy's encoding takes.
        started = time.perf_counter()
        for audio in originals:
            stored.encode_vorbis(audio)
        encode_s = time.perf_counter() - started
        print(f"import: {music_s / import_s:.0f}x real time ({import_s:.1f} s, one process); of which decoding "
              f"the originals alone runs at {music_s / decode_s:.0f}x ({decode_s:.1f} s) and encoding the copies "
              f"at {music_s / encode_s:.0f}x ({encode_s:.1f} s)")

        # Training's access pattern: a random 5-s fragment.
        noise = [load_audio(p, allow_silence=True) for p in sorted(DEFAULT_NOISE_DIR.glob("*.ogg"))]
        rng = np.random.default_rng(0)
        readers = [library.song_reader(s) for s in songs]
        ogg_median, ogg_p95 = fragment_ms(readers, args.reads, rng)
        legacy_dir = root / "legacy-npy"
        legacy_dir.mkdir()
        legacy = []
        for song, audio in list(zip(songs, originals, strict=True))[:8]:
            np.save(legacy_dir / f"{song.id}.npy", audio.astype(np.float16))
            legacy.append(stored.StoredAudio(legacy_dir / f"{song.id}.npy"))
        npy_median, npy_p95 = fragment_ms(legacy, args.reads, rng)
        print(f"random 5-s fragment: {ogg_median:.2f} ms median, {ogg_p95:.2f} ms p95 "
              f"(float16 .npy memory map: {npy_median:.2f} / {npy_p95:.2f} ms)")

        # What it costs a dataset build: the same examples from the copies and from float16 maps.
        from training.dataset import build_window_set

        few = min(8, len(legacy))
        build_window_set(root / "warm-up.npy", [[c] for c in legacy[:2]], [8, 8], noise, seed=2)  # imports, caches
        times: dict[str, list[float]] = {"ogg": [], "npy": []}
        for round_ in range(3):  # alternated, so that a change in the machine's load hits both alike
            for name, clips in (("ogg", readers[:few]), ("npy", legacy[:few]))[:: 1 if round_ % 2 else -1]:
                started = time.perf_counter()
                build_window_set(root / f"windows-{name}.npy", [[c] for c in clips], [16] * few, noise, seed=1)
                times[name].append((time.perf_counter() - started) / (16 * few) * 1000)
        build = {name: float(np.median(values)) for name, values in times.items()}
        print(f"training examples built: {build['ogg']:.1f} ms each from the copies, "
              f"{build['npy']:.1f} ms from float16 memory maps")

        # Fidelity, and the checks recognition relies on.
        copies = [library.song_audio(s) for s in songs]
        pairs = list(zip(originals, copies, strict=True))
        snrs = [10 * np.log10(np.mean(o**2) / max(np.mean((c - o) ** 2), 1e-20)) for o, c in pairs]
        print(f"waveform SNR of the copy against the original decode: median {np.median(snrs):.1f} dB "
              f"(min {min(snrs):.1f}); lengths equal: {all(o.size == c.size for o, c in pairs)}")
        started = time.perf_counter()
        from_originals = FingerprintIndex.build(originals)
        from_copies = FingerprintIndex.build(copies)
        print(f"two indexes built in {time.perf_counter() - started:.0f} s: "
              f"{from_originals.hashes.size} landmarks from the originals, {from_copies.hashes.size} from the copies")
        n = int(EXCERPT_S * SR)
        results: dict = {}
        clean, truth = [], []
        for index, copy in enumerate(copies):
            for offset in excerpt_offsets(copy.size, args.excerpts, rng):
                clean.append(from_originals.match(copy[offset:offset + n]))
                truth.append(index)
        results["clean_copy_vs_original_index"] = summarise(clean, truth)
        print("clean 10-s excerpts of the copies against the original index:",
              results["clean_copy_vs_original_index"])

        from benchmarks.simulate import resample, simulate_recording

        for snr in SNRS:
            on_originals, on_copies, truth = [], [], []
            for index, original in enumerate(originals):
                for number, offset in enumerate(excerpt_offsets(original.size, args.excerpts, rng)):
                    recording, rate = simulate_recording(original[offset:offset + n], SR, noise, snr, rng,
                                                         codec=CODECS[(index + number) % len(CODECS)])
                    query = resample(recording, rate, SR).astype(np.float32)
                    on_originals.append(from_originals.match(query))
                    on_copies.append(from_copies.match(query))
                    truth.append(index)
            results[f"noisy_{snr}dB_original_index"] = summarise(on_originals, truth)
            results[f"noisy_{snr}dB_copy_index"] = summarise(on_copies, truth)
            print(f"{len(truth)} recordings at {snr} dB SNR:")
            print(f"  index from the original decode: {results[f'noisy_{snr}dB_original_index']}")
            print(f"  index from the stored copies:   {results[f'noisy_{snr}dB_copy_index']}")

        write_result("disk", {
            "kind": "disk", "command": command_line(), "machine": machine(),
            "load_average_before": load_before, "load_average": list(os.getloadavg()),
            "songs": len(songs), "music_hours": music_s / 3600, "original_bytes": original_bytes,
            "stored_bytes": stored_bytes, "data_folder_bytes": data_bytes, "ratio": ratio,
            "npy_ratio": npy_bytes / original_bytes, "flac_ratio": flac / original_bytes,
            "per_song_ratio": [min(ratios), max(ratios)],
            "import_rtf": music_s / import_s, "decode_rtf": music_s / decode_s, "encode_rtf": music_s / encode_s,
            "example_build_ms": build,
            "fragment_ms": {"ogg_median": ogg_median, "ogg_p95": ogg_p95, "npy_median": npy_median, "npy_p95": npy_p95},
            "waveform_snr_db": {"median": float(np.median(snrs)), "min": float(min(snrs))},
            "checks": results,
        })
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
