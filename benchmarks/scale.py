"""Identification as the library grows: 100 to 10,000 songs (issue 14).

    python -m benchmarks.scale [--sizes 100 1000 3500 10000] [--exact-too 1000] [--memory-limit-mb 2048]

Each size is a library of the allowed packages' 122 enrolled songs (both sides of
``benchmarks.scale_data``) plus distractors derived from them (pitch ±1…±6 semitones, tempo
±5…20 %) up to the size, indexed exactly as ``song_index.SongIndex.snapshot`` would: in memory up
to ``PACKED_ABOVE`` songs, through packs on disk and the shortlist above, its projection fitted on a
seeded sample of the library's own songs (``shortlist.fit_basis``, as ``SongIndex`` does). Distractors' index
entries are *simulated* (``scale_data.derived_analysis``: made from the real song's analysis, not
from audio), so every size is a simulated library except for its 122 real songs; the table says
so. Then, in a fresh process per size (so its memory is the recogniser's, not the builder's):
the verdict's margins are calibrated for the size (``training.fingerprints.calibrate_margin`` on
the bundled negatives' impostor recordings, as enrolment does), and every recording of
``scale_data.recordings`` (10-s phone recordings in a room at 0 and -5 dB, per side:
40 enrolled songs and 15 songs not in the library, ``RECORDINGS``) is identified by
``Recognizer(None, songs).identify``: the index alone, no network (none can be trained on
simulated songs; the network's share of the time is constant in the library size, its last
layer aside). Prints, per size and side: ranked first, top 5, answered with the right ``match``,
unknown answered ``unknown``; identify latency median / p99; peak RSS; index size on disk. The
recogniser runs as a user's does: the BLAS uses both cores unless ``OPENBLAS_NUM_THREADS`` says
otherwise (the result records how many threads it had).

``--exact-too N`` also runs size N through the in-memory index (no shortlist), to measure what
the shortlist loses.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import bench_cache, write_result
from benchmarks import scale_data

SIZES = (100, 1000, 3500, 10000)
RECORDINGS: tuple = (40, 15, (0, -5))
"""``scale_data.recordings`` arguments: per side 40 enrolled songs, 15 unknown, at 0 and -5 dB."""


def build(size: int, folder: Path, exact: bool) -> dict:
    """Write the size's index into ``folder`` (packs, or per-song arrays for the in-memory index)
    and its labels; returns what was built."""
    from musicid_core import fingerprint, index_pack, shortlist
    from musicid_core.song_index import FIT_SONGS, PACKED_ABOVE, pack_arrays, pack_parameters

    songs = scale_data.scale_songs()
    queried = {r.song_id for r in scale_data.recordings(songs, *RECORDINGS)}
    # A library smaller than the real songs keeps every queried song (the rest are left out).
    enrolled = sorted(songs.enrolled, key=lambda s: s.song_id not in queried)[:size]
    real = [(s.song_id, scale_data.real_analysis(s)) for s in enrolled]
    pairs = list(itertools.islice(scale_data.variants(seed=0), scale_data.VARIANT_COUNT))

    def song(k: int):  # type: ignore[no-untyped-def]
        """The library's k-th song: the real ones first, then distractors derived in turn."""
        if k < len(real):
            return real[k]
        base_id, base = real[(k - len(real)) % len(real)]
        semitones, tempo = pairs[(k - len(real)) % len(pairs)]
        return f"{base_id}#{semitones:+d}st{tempo:.2f}x", scale_data.derived_analysis(base, semitones, tempo)

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.monotonic()
    packed = size > PACKED_ABOVE and not exact
    basis = None
    if packed:  # as ``SongIndex`` does: fitted on a seeded sample of the library's own songs
        sample = np.sort(np.random.default_rng(0).choice(size, min(FIT_SONGS, size), replace=False))
        basis = shortlist.fit_basis((song(int(k))[1].profiles for k in sample), fingerprint.MAX_BIN - fingerprint.MIN_BIN)
    ids: list[str] = []
    batch: list = []

    def flush() -> None:
        if packed and batch:
            index_pack.write_pack(folder / "packs", list(batch), pack_parameters(basis), basis)
        elif batch:
            for song_id, analysis in batch:
                marks = analysis.landmarks
                np.savez(folder / f"song-{len(list(folder.glob('song-*.npz')))}.npz", hashes=marks.hashes, times=marks.times, profiles=analysis.profiles)
        batch.clear()

    for k in range(size):
        song_id, analysis = song(k)
        ids.append(song_id)
        batch.append((song_id, pack_arrays(analysis, basis) if packed else analysis))
        if len(batch) >= 1000:
            flush()
    flush()
    (folder / "ids.json").write_text(json.dumps({"ids": ids, "packed": packed}))
    return {"songs": size, "real": len(real), "simulated": size - len(real), "packed": packed,
            "build_s": round(time.monotonic() - started, 1), "index_bytes": _folder_bytes(folder)}


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def recognise(folder: Path, out: Path) -> None:
    """The recognising process: open the index, calibrate the margins, identify every recording."""
    from musicid_core import index_pack
    from musicid_core.fingerprint import Landmarks, analyse_query
    from musicid_core.models.store import SongLabel
    from musicid_core.recognizer import Recognizer
    from musicid_core.song_index import IndexedSongs, Margins, SongAnalysis, fingerprint_index, pack_parameters
    from musicid_core.shortlist import basis_id
    from musicid_core.shortlisted_index import ShortlistedIndex
    from musicid_core.speed_search import calibrated_speeds, restricted, speeds_for
    from training.fingerprints import calibrate_margin

    meta = json.loads((folder / "ids.json").read_text())
    ids = meta["ids"]
    # The calibration's impostor recordings first (they are the same for every size), then the
    # index, so the peak RSS is the recogniser's.
    impostors = scale_data.impostor_analyses()
    recordings = scale_data.recordings(scale_data.scale_songs(), *RECORDINGS)
    started = time.monotonic()
    if meta["packed"]:
        stored = [np.load(p / "basis.npy") for p in sorted((folder / "packs").iterdir()) if p.is_dir()]
        packs = index_pack.open_packs(folder / "packs", pack_parameters(stored[0]))
        assert len(packs) == len(stored) and len({basis_id(b) for b in stored}) == 1
        where = {song_id: (p, i) for p, pack in enumerate(packs) for i, song_id in enumerate(pack.ids)}
        index = ShortlistedIndex(packs, [where[i] for i in ids])
    else:
        analyses = []
        for k in range(len(ids)):
            with np.load(folder / f"song-{k}.npz") as data:
                analyses.append(SongAnalysis(Landmarks(data["hashes"], data["times"]), data["profiles"]))
        index = fingerprint_index(analyses)
        del analyses
    open_s = time.monotonic() - started
    started = time.monotonic()
    impostors = restricted(impostors, speeds_for(len(ids)))  # as enrolment calibrates a library of this size
    found = calibrate_margin(index, [], [], queries=impostors)  # type: ignore[arg-type]
    calibrate_s = time.monotonic() - started
    margins = Margins(found["fingerprint_margin"], found.get("profile_margin", 0.0), len(ids), found.get("verdict_impostors_rejected"),
                      calibrated_speeds(impostors))
    labels = [SongLabel(song_id, song_id, "", "") for song_id in ids]
    recognizer = Recognizer(None, IndexedSongs(labels, index, margins, "bench"))  # type: ignore[arg-type]
    position = {song_id: k for k, song_id in enumerate(ids)}
    rows, latencies = [], []
    recognizer.identify(recordings[0].audio)  # warm
    for r in recordings:
        t = time.perf_counter()
        answer = recognizer.identify(r.audio)
        latencies.append(time.perf_counter() - t)
        names = [m.song.id for m in answer.matches]
        shortlisted = None
        if r.song_id is not None and isinstance(index, ShortlistedIndex):  # outside the timing: what the shortlist kept
            shortlisted = bool(position[r.song_id] in index.candidates(analyse_query(r.audio)))
        rows.append({"shortlisted": shortlisted, "side": r.side, "snr": r.snr_db, "known": r.song_id is not None,
                     "first": r.song_id is not None and names[0] == r.song_id,
                     "top5": r.song_id is not None and r.song_id in names[:5],
                     "match": answer.verdict == "match", "truth_rank": position.get(r.song_id or "", -1)})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = {line.split(":")[0]: line.split(":")[1].strip() for line in Path("/proc/self/status").read_text().splitlines() if ":" in line}
    out.write_text(json.dumps({
        "rows": rows, "latency_ms": [round(x * 1000, 2) for x in latencies], "peak_rss_mb": round(peak_mb, 1),
        "rss_at_end": {k: status.get(k) for k in ("VmRSS", "RssAnon", "RssFile")},
        "open_s": round(open_s, 2), "calibrate_s": round(calibrate_s, 1), "margins": found, "blas_threads": _blas_threads(),
    }))


def _blas_threads() -> int | None:
    """Threads the BLAS uses here: the recogniser's as a user runs it (no limit set: both cores)."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


class MemoryCgroup:
    """A cgroup-v1 memory group: its limit covers the process's own memory *and* the page cache of
    the packs it maps, so running in it shows the recogniser works within the limit (the kernel
    reclaims mapped pages under it) rather than that its RSS happened to stay low."""

    def __init__(self, limit_mb: int) -> None:
        self.path = Path("/sys/fs/cgroup/memory") / f"musicid-scale-{os.getpid()}"
        self.path.mkdir()
        (self.path / "memory.limit_in_bytes").write_text(str(limit_mb * 1024 * 1024))
        if (self.path / "memory.memsw.limit_in_bytes").exists():
            (self.path / "memory.memsw.limit_in_bytes").write_text(str(limit_mb * 1024 * 1024))

    def join(self) -> None:
        (self.path / "tasks").write_text(str(os.getpid()))

    def peak_mb(self) -> float:
        return round(int((self.path / "memory.max_usage_in_bytes").read_text()) / 2**20, 1)

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError:
            pass


class memory_cgroup:  # noqa: N801 - a context manager used like a function
    def __init__(self, limit_mb: int) -> None:
        self.limit_mb = limit_mb
        self.group: MemoryCgroup | None = None

    def __enter__(self) -> MemoryCgroup | None:
        if self.limit_mb > 0 and Path("/sys/fs/cgroup/memory").is_dir():
            try:
                self.group = MemoryCgroup(self.limit_mb)
            except OSError as exc:
                print(f"no memory cgroup ({exc}); running without a limit", flush=True)
        return self.group

    def __exit__(self, *exc: object) -> None:
        if self.group is not None:
            self.group.remove()


def summarise(result: dict) -> dict:
    rows = result["rows"]
    table = {}
    for side in ("tuning", "held-out"):
        for snr in (0, -5):
            known = [r for r in rows if r["side"] == side and r["snr"] == snr and r["known"]]
            foreign = [r for r in rows if r["side"] == side and r["snr"] == snr and not r["known"]]
            table[f"{side} {snr:+d} dB"] = {
                "ranked_first": _share(known, "first"), "top5": _share(known, "top5"),
                "right_match": _share(known, lambda r: r["first"] and r["match"]),
                "unknown_rejected": _share(foreign, lambda r: not r["match"]),
                "shortlist_kept": _share([r for r in known if r.get("shortlisted") is not None], "shortlisted"),
                "queries": [len(known), len(foreign)],
            }
    lat = np.array(result["latency_ms"])
    return {"table": table, "latency_median_ms": float(np.median(lat)), "latency_p99_ms": float(np.percentile(lat, 99)),
            "peak_rss_mb": result["peak_rss_mb"], "rss_at_end": result.get("rss_at_end"), "margins": {k: result["margins"].get(k) for k in ("fingerprint_margin", "profile_margin", "verdict_impostors_rejected")}}


def _share(rows: list, key) -> float | None:  # type: ignore[no-untyped-def]
    if not rows:
        return None
    test = key if callable(key) else (lambda r: r[key])
    return round(100.0 * sum(bool(test(r)) for r in rows) / len(rows), 1)


AUDFPRINT_BUCKET_FILL = {20.0: 2**20 * 100 / 20.0 / 240.0, 7.0: 2**20 * 100 / 7.0 / 240.0}
"""Songs of four minutes at which audfprint's table (2^20 hashes x 100 entries per bucket, its
README's "Scaling") starts dropping entries, at its default density (20 hashes/s) and at the 7/s
it recommends for large databases; its 32-bit entries also cap it at 2^18 = 262k tracks."""


def report(path: Path) -> str:
    """The markdown table of a result file, and its plot (``benchmarks/plots/scale-library.png``)."""
    data = json.loads(path.read_text())["sizes"]
    lines = ["| songs (real + simulated) | index | held-out 0 dB: first / top 5 / right `match` | held-out −5 dB | tuning 0 dB | tuning −5 dB "
             "| unknown answered `unknown` (0 / −5 dB, both sides) | shortlist kept (0 dB, both sides) | identify median / p99 | memory: cgroup peak / RSS at end (own + mapped) | index on disk | calibrate |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in data.items():
        t = r["table"]

        def cell(key: str) -> str:
            row = t[key]
            return f"{row['ranked_first']:.1f} / {row['top5']:.1f} / {row['right_match']:.1f} %"

        rejected = [t[f"{side} {snr:+d} dB"]["unknown_rejected"] for snr in (0, -5) for side in ("held-out", "tuning")]
        kept = [t[f"{side} +0 dB"].get("shortlist_kept") for side in ("held-out", "tuning")]
        rss = r.get("rss_at_end") or {}
        memory = (f"{r['cgroup_peak_mb']:.0f} MB (limit {r['memory_limit_mb']}) / " if r.get("cgroup_peak_mb") else "") + \
                 f"{rss.get('RssAnon', '?')} + {rss.get('RssFile', '?')}"
        lines.append(
            f"| {r['songs']:,} ({r['real']} + {r['simulated']:,}) | {'packs + shortlist' if r['packed'] else 'in memory'} "
            f"| {cell('held-out +0 dB')} | {cell('held-out -5 dB')} | {cell('tuning +0 dB')} | {cell('tuning -5 dB')} "
            f"| {min(rejected):.1f}-{max(rejected):.1f} % | {' / '.join('—' if k is None else f'{k:.1f} %' for k in kept)} "
            f"| {r['latency_median_ms']:.0f} / {r['latency_p99_ms']:.0f} ms | {memory} | {r['index_bytes'] / 1e9:.2f} GB | {r['calibrate_s']:.0f} s |")
    _plot(data)
    return "\n".join(lines)


def _plot(data: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for name, r in data.items() if "exact" not in name]
    sizes = [r["songs"] for r in rows]
    fig, (acc, cost) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in (("held-out +0 dB", "held-out 0 dB"), ("held-out -5 dB", "held-out −5 dB"), ("tuning +0 dB", "tuning 0 dB")):
        acc.plot(sizes, [r["table"][key]["right_match"] for r in rows], marker="o", label=f"right match, {label}")
    acc.plot(sizes, [min(r["table"][k]["unknown_rejected"] for k in r["table"]) for r in rows], marker="s", ls="--", label="unknown rejected (worst)")
    cost.plot(sizes, [r["latency_median_ms"] for r in rows], marker="o", label="identify median (ms)")
    cost.plot(sizes, [r["latency_p99_ms"] for r in rows], marker="o", label="identify p99 (ms)")
    cost.plot(sizes, [r["index_bytes"] / 1e8 for r in rows], marker="^", label="index on disk (100 MB)")
    for density, songs in AUDFPRINT_BUCKET_FILL.items():
        for ax in (acc, cost):
            ax.axvline(songs, color="grey", ls=":", lw=1)
        cost.text(songs, cost.get_ylim()[1] * 0.9, f"audfprint buckets\nfill ({density:g}/s)", fontsize=7, ha="right")
    for ax, title in ((acc, "accuracy (%)"), (cost, "cost")):
        ax.set_xscale("log")
        ax.set_xlabel("songs in the library")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(__file__).resolve().parent / "plots" / "scale-library.png"
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--memory-limit-mb", type=int, default=2048,
                        help="run each recognising process in a memory cgroup of this size (page cache included), "
                             "where the machine has one (cgroup v1 memory controller); 0: no limit")
    parser.add_argument("--exact-too", type=int, nargs="*", default=[])
    parser.add_argument("--report", action="store_true", help="print the table of the last run and draw its plot")
    parser.add_argument("--keep", action="store_true", help="keep each size's index folder")
    parser.add_argument("--worker", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report:
        from benchmarks.common import RESULTS

        print(report(RESULTS / "scale-library.json"))
        return 0
    if args.worker:
        recognise(Path(args.worker[0]), Path(args.worker[1]))
        return 0
    scale_data.recordings(scale_data.scale_songs(), *RECORDINGS)  # made once, cached
    scale_data.impostor_analyses()
    results = {}
    runs = [(size, False) for size in args.sizes] + [(size, True) for size in args.exact_too]
    for size, exact in runs:
        name = f"{size}{' exact' if exact else ''}"
        folder = bench_cache() / "scale" / "libraries" / name.replace(" ", "-")
        built = build(size, folder, exact)
        print(f"=== {name}: built {built}", flush=True)
        out = folder / "result.json"
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        started = time.monotonic()
        with memory_cgroup(args.memory_limit_mb) as group:
            subprocess.run([sys.executable, "-m", "benchmarks.scale", "--worker", str(folder), str(out)], check=True, env=env,
                           preexec_fn=group.join if group else None)
            cgroup_peak = group.peak_mb() if group else None
        raw = json.loads(out.read_text())
        summary = {**built, **summarise(raw), "load_average": os.getloadavg(), "open_s": raw["open_s"], "calibrate_s": raw["calibrate_s"],
                   "blas_threads": raw.get("blas_threads"),
                   "run_s": round(time.monotonic() - started, 1), "memory_limit_mb": args.memory_limit_mb if group else None,
                   "cgroup_peak_mb": cgroup_peak}
        results[name] = summary
        print(json.dumps(summary, indent=1), flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    from benchmarks.common import RESULTS

    previous = RESULTS / "scale-library.json"
    merged = json.loads(previous.read_text())["sizes"] if previous.is_file() else {}
    merged.update(results)  # sizes not run this time keep their last figures
    order = sorted(merged, key=lambda name: (merged[name]["songs"], "exact" in name))
    write_result("scale-library", {"sizes": {name: merged[name] for name in order}, "load_average": os.getloadavg()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
