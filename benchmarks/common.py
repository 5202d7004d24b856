"""Shared helpers for the benchmark scripts: the corpus minus the negatives, library set-up,
query-set location and result files. Not part of the app; see benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.corpus import (
    Corpus,
    SongFile,
    ambient_noise_files,
    default_cache_dir,
    ensure_corpus,
    pick_library,
    split_noise,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PLOTS = BENCH / "plots"
NEGATIVES_SOURCES = ROOT / "resources" / "negatives" / "sources.json"
DEFAULT_NOISE_DIR = ROOT / "resources" / "noise"
SEED = 0


def negative_song_ids() -> set[str]:
    """Songs used as the model's "not in your library" training class (never enrolled or queried)."""
    return {entry["song_id"] for entry in json.loads(NEGATIVES_SOURCES.read_text())}


def benchmark_corpus(cache: Path | None = None) -> Corpus:
    """The corpus with the negatives' source songs removed, BEFORE any library is picked."""
    corpus = ensure_corpus(cache)
    negatives = negative_song_ids()
    kept = [s for s in corpus.songs if s.song_id not in negatives]
    excluded = list(corpus.excluded) + [(s.path, "used as a training negative") for s in corpus.songs if s.song_id in negatives]
    return Corpus(corpus.cache, kept, corpus.ambient, excluded)


def library_split(corpus: Corpus, n: int | str) -> tuple[list[SongFile], list[SongFile]]:
    """``n`` enrolled songs and the rest; ``"all"`` enrols every song (no open-set queries left)."""
    if n == "all":
        return pick_library(corpus, n=len(corpus.songs), seed=SEED, min_rest=0)
    return pick_library(corpus, n=int(n), seed=SEED)


def noise_split(corpus: Corpus) -> tuple[list[Path], list[Path]]:
    return split_noise(ambient_noise_files(corpus), seed=SEED)


def bench_cache() -> Path:
    path = default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# Vector instruction sets that change TensorFlow's CPU speed several-fold. Two hosts that both
# report "AMD EPYC, 2 cores" ran the same 6-epoch training in 11.3 and 3.0 min (the second has
# AVX-512 with bf16; the first's flags were not recorded), so every result now records them.
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def machine() -> dict[str, str]:
    model, flags = "", set()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("Flags:"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "simd": " ".join(f for f in SIMD_FLAGS if f in flags) or "unknown",
        "cores": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def command_line() -> str:
    return "python -m benchmarks." + Path(sys.argv[0]).stem + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False))
    tmp.replace(path)
    return path
