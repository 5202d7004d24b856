"""The benchmark's simulated live recordings, built once and cached as one .npz file.

    python -m benchmarks.queries [--rebuild]

For every song of the benchmark corpus (the negatives' sources removed), excerpts at seeded
random offsets: 2 per song enrolled in the 57-song library, 4 per song not enrolled (so the
rejection rate rests on enough queries). Each 10.0-s excerpt is passed through ``benchmarks.simulate.simulate_recording`` at SNR 10, 5, 0
and -5 dB: room reverb (RT60 0.2-0.8 s), a 1-3 layer ambient bed, phone microphone band limit,
44.1 or 48 kHz, random gain (-15..+3 dB around -20 dBFS, clipping), and a lossy codec rotating
opus / aac / mp3 at 32-64 kbit/s. The result is resampled back to 22050 Hz mono (polyphase), the
rate the recogniser analyses. The 5-s query (exactly 5.0 s, one recognition window) is the first
5.0 s of the 10-s recording, so both lengths are measured on paired recordings at half the cost.

Query noise is never training noise: the query half of ``split_noise`` (Wesnoth ambience that is
not in the bundled pack) plus the synthetic noises of ``resources/make_noise_pack.py --seed 1
--no-ambient`` (other realisations than the bundled seed-0 pack).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, bench_cache, benchmark_corpus, library_split, noise_split

VERSION = 2
LENGTHS = (10, 5)
SNRS = (10, 5, 0, -5)
CODEC_ROTATION = ("opus", "aac", "mp3")
EXCERPTS_ENROLLED = 2
EXCERPTS_NOT_ENROLLED = 4
SR = 22050


def queries_path(salt: str = "") -> Path:
    """The main query set, or (``salt``) a second one with other offsets, noise and rooms."""
    return bench_cache() / (f"queries-v{VERSION}-{salt}.npz" if salt else f"queries-v{VERSION}.npz")


def synthetic_query_noise_dir() -> Path:
    out = bench_cache() / "query-noise-seed1"
    if not any(out.glob("*.ogg")):
        subprocess.run(
            [sys.executable, str(ROOT / "resources" / "make_noise_pack.py"), "--seed", "1", "--no-ambient", "--out", str(out)],
            check=True,
        )
    return out


def query_noise_files() -> list[Path]:
    corpus = benchmark_corpus()
    _, query = noise_split(corpus)
    return list(query) + sorted(synthetic_query_noise_dir().glob("*.ogg"))


def _seed(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def build(path: Path, salt: str = "", snrs: tuple[int, ...] = SNRS) -> None:
    from benchmarks.simulate import resample, simulate_recording
    from musicid_core.audio.decode import load_audio

    corpus = benchmark_corpus()
    enrolled, _ = library_split(corpus, 57)
    enrolled_ids = {s.song_id for s in enrolled}
    noise_files = query_noise_files()
    noise = [load_audio(p, allow_silence=True) for p in noise_files]
    print(f"query noise: {[p.name for p in noise_files]}", flush=True)
    chunks, meta = [], {k: [] for k in ("song", "excerpt", "length", "snr", "codec", "rate", "offset_s", "enrolled57")}
    count, started = 0, time.monotonic()
    for si, song in enumerate(sorted(corpus.songs, key=lambda s: s.song_id)):
        clean_song = load_audio(song.path)
        n_excerpts = EXCERPTS_ENROLLED if song.song_id in enrolled_ids else EXCERPTS_NOT_ENROLLED
        for e in range(n_excerpts):
            n = int(round(max(LENGTHS) * SR))
            salted = (salt,) if salt else ()
            offset = int(np.random.default_rng(_seed(*salted, song.song_id, e)).integers(0, clean_song.size - n))
            clean = clean_song[offset : offset + n]
            for snr in snrs:
                rng = np.random.default_rng(_seed(*salted, song.song_id, e, snr))
                codec = CODEC_ROTATION[count % len(CODEC_ROTATION)]
                audio, rate = simulate_recording(clean, SR, noise, float(snr), rng, codec=codec)
                back = resample(audio.astype(np.float64), rate, SR)
                back = back[:n] if back.size >= n else np.pad(back, (0, n - back.size))
                count += 1
                for length in LENGTHS:
                    # The 5-s query is the first 5.0 s of the 10-s recording: same room, noise and
                    # codec, so the two lengths are compared on paired recordings.
                    chunks.append(back[: int(round(length * SR))].astype(np.float16))
                    for key, value in (("song", song.song_id), ("excerpt", e), ("length", length), ("snr", snr),
                                       ("codec", codec), ("rate", rate), ("offset_s", offset / SR),
                                       ("enrolled57", song.song_id in enrolled_ids)):
                        meta[key].append(value)
        print(f"[{time.strftime('%H:%M:%S')}] {si + 1}/{len(corpus.songs)} songs, {count} recordings, "
              f"{time.monotonic() - started:.0f} s", flush=True)
    sizes = np.array([c.size for c in chunks])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, audio=np.concatenate(chunks), start=starts, size=sizes,
             **{k: np.array(v) for k, v in meta.items()},
             noise_files=np.array([p.name for p in noise_files]))
    tmp.replace(path)
    print(f"wrote {path}: {count} recordings in {time.monotonic() - started:.0f} s", flush=True)


def load_queries(wait_s: float = 3600, salt: str = "", snrs: tuple[int, ...] = SNRS) -> dict:
    """The cached query set, building it if absent (or waiting for a build in progress)."""
    path = queries_path(salt)
    marker = path.with_suffix(".building")
    deadline = time.monotonic() + wait_s
    while not path.exists() and marker.exists() and time.monotonic() < deadline:
        time.sleep(10)
    if not path.exists():
        marker.touch()
        try:
            build(path, salt, snrs)
        finally:
            marker.unlink(missing_ok=True)
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.rebuild:
        queries_path().unlink(missing_ok=True)
    q = load_queries()
    print(json.dumps({"recordings": int(len(q["song"])), "songs": int(len(set(q["song"]))),
                      "enrolled57": int(q["enrolled57"].sum()), "noise": [str(x) for x in q["noise_files"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
