"""Write ``benchmarks/RESULTS.md`` and ``benchmarks/plots/*.png`` from ``benchmarks/results/*.json``.

    python -m benchmarks.report

Tables and plots are generated from the JSON files only; a cell whose run is missing reads
"not run (time)". The hand-written findings in ``benchmarks/analysis.md`` (if present) are
included verbatim under "Findings".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.common import BENCH, PLOTS, RESULTS, machine

MISSING = "not run (time)"
ARCHS = ("fast", "fc", "alexnet", "resnet50")
# As quoted in issue 4: the reference's test accuracies (fc / alexnet / resnet50, in the order the
# issue lists the architectures) and its live-recording figures.
REFERENCE = {"fc": 78.3, "alexnet": 92.9, "resnet50": 94.4, "live_top1": 86.4, "live_top5": 96.0}
TARGETS = {"top1": 0.97, "top5": 0.99, "rejected": 0.95, "latency_ms": 100.0, "train_s": 15 * 60}


def load() -> list[dict]:
    out = []
    for path in sorted(RESULTS.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict):  # a list of runs (training-widen-lr-*.json): not a report row
            continue
        data["_file"] = path.name
        out.append(data)
    return out


def pct(x) -> str:
    return MISSING if x is None else f"{100 * x:.1f} %"


def secs(x) -> str:
    if x is None:
        return MISSING
    return f"{x / 60:.1f} min" if x >= 120 else f"{x:.0f} s"


def cond(result: dict, length: int, snr: int) -> dict:
    for row in result.get("evaluation", {}).get("conditions", []):
        if row["length_s"] == length and row["snr_db"] == snr:
            return row
    return {}


def recogniser(r: dict) -> str:
    """Which recogniser a result measured (recorded since tonal profiles; older runs with a CNN-alone
    evaluation had landmarks)."""
    return r.get("recogniser") or ("CNN + landmarks" if "evaluation_cnn_only" in r else "CNN")


def cnn_only(r: dict) -> dict:
    """The same result as measured by the CNN alone (itself, for runs from before landmarks)."""
    return {**r, "evaluation": r["evaluation_cnn_only"]} if "evaluation_cnn_only" in r else r


def main_runs(results: list[dict]) -> dict[str, dict]:
    """The newest accuracy run per architecture on the 57-song library (not the scale runs)."""
    runs: dict[str, dict] = {}
    for r in results:
        if r.get("kind") == "accuracy" and r.get("songs") == 57 and r["name"].startswith("accuracy-"):
            runs.setdefault(r["arch"], [])
            runs[r["arch"]].append(r)
    return runs


def machine_label(m: dict) -> str:
    """Which host a result came from: its platform string and, where recorded, its SIMD flags."""
    return f"{m.get('platform', '?').split('-x86_64')[0]}; {m.get('simd', 'not recorded')}"


def host_label(r: dict) -> str:
    """The short host name for table cells: the last part of the platform string (e.g. v669)."""
    return r["machine"]["platform"].split("-x86_64")[0].split("-")[-1]


def hosts_sentence(results: list[dict]) -> str:
    """Say when the results come from more than one host: their times are not comparable."""
    hosts: dict[str, list[str]] = {}
    for r in results:
        hosts.setdefault(machine_label(r["machine"]), []).append(r["machine"]["date"][:10])
    if len(hosts) < 2:
        return ""
    parts = [f"`{label}` ({len(dates)} results, " + (min(dates) if min(dates) == max(dates) else f"{min(dates)} to {max(dates)}")
             + ")" for label, dates in hosts.items()]
    return ("The results come from " + str(len(hosts)) + " hosts described as the same 2-core machine: "
            + ", ".join(parts) + "; TensorFlow's speed differs several-fold between them, so compare "
            "times only between results of one host (Commands table). ")


def epoch_seconds(r: dict) -> list[float]:
    marks = r.get("epoch_end_s") or []
    start = r.get("training_started_s") or 0.0
    prev, out = start, []
    for m in marks:
        out.append(m - prev)
        prev = m
    return out


def plots(runs: dict[str, list[dict]], scale: list[dict]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    PLOTS.mkdir(parents=True, exist_ok=True)
    made = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, length in zip(axes, (10, 5)):
        for arch, rs in runs.items():
            for r in rs:
                rows = [c for c in r["evaluation"]["conditions"] if c["length_s"] == length]
                if not rows:
                    continue
                label = f"{arch} ({r['examples_per_song']}x{r['epochs']}, {recogniser(r)})"
                ax.plot([c["snr_db"] for c in rows], [100 * c["top1"] for c in rows], marker="o", label=label + " top-1")
                if "evaluation_cnn_only" in r:
                    alone = [c for c in r["evaluation_cnn_only"]["conditions"] if c["length_s"] == length]
                    ax.plot([c["snr_db"] for c in alone], [100 * c["top1"] for c in alone], marker="o", linestyle=":",
                            label=f"{arch} ({r['examples_per_song']}x{r['epochs']}, CNN alone) top-1")
                if arch == "fast":
                    ax.plot([c["snr_db"] for c in rows], [100 * c["rejected"] for c in rows if c.get("rejected") is not None]
                            if all(c.get("rejected") is not None for c in rows) else [None] * len(rows),
                            marker="x", linestyle="--", label=label + " unknown rejected")
        ax.axhline(97, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(f"{length}-s queries")
        ax.set_xlabel("SNR (dB)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("%")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(PLOTS / "accuracy_vs_snr.png", dpi=110)
    plt.close(fig)
    made.append("accuracy_vs_snr.png")
    if scale:
        scale = sorted(scale, key=lambda r: r["songs"])
        fig, ax = plt.subplots(figsize=(6, 4))
        n = [r["songs"] for r in scale]
        ax.plot(n, [100 * cond(r, 10, 0).get("top1", float("nan")) for r in scale], marker="o", label="top-1 (10 s, 0 dB)")
        ax.plot(n, [100 * cond(r, 10, 0).get("top5", float("nan")) for r in scale], marker="s", label="top-5")
        ax.plot(n, [100 * cond(cnn_only(r), 10, 0).get("top1", float("nan")) for r in scale], marker="o", linestyle=":",
                label="top-1, CNN alone")
        ax.set_ylim(0, 100)
        ax.set_xlabel("songs in the library")
        ax.set_ylabel("%")
        ax2 = ax.twinx()
        ax2.plot(n, [r["train_seconds"] / 60 for r in scale], color="tab:red", marker="^", label="training time")
        ax2.set_ylabel("training time (min)")
        ax.legend(loc="lower left", fontsize=8)
        ax2.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(PLOTS / "scale.png", dpi=110)
        plt.close(fig)
        made.append("scale.png")
    return made


def verdict_plot(verdicts: list[dict]) -> list[str]:
    """Right-match rate against unknown-rejected rate as the threshold sweeps, 10-s queries."""
    if not verdicts:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    v = verdicts[0]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for key, c in v["conditions"].items():
        if not key.startswith("10s/"):
            continue
        line, = ax.plot([100 * p["rejected"] for p in c["curve"]], [100 * p["correct_match"] for p in c["curve"]],
                        label=f"10 s, {key.split('/')[1]}")
        ax.plot(100 * c["shipped"]["rejected"], 100 * c["shipped"]["correct_match"], "o", color=line.get_color())
    ax.axvline(95, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("non-enrolled answered unknown (%)")
    ax.set_ylabel("enrolled answered with the right song (%)")
    ax.set_title(f"Verdict threshold sweep, {v['songs']} songs (dot: shipped threshold)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    PLOTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOTS / "verdict.png", dpi=110)
    plt.close(fig)
    return ["verdict.png"]


def holdout_section(w, holdouts: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """The same model on a second query set nobody looked at (``benchmarks.holdout``)."""
    for h in holdouts:
        w(f"### Out-of-sample check: a second query set ({h['salt']})\n")
        w(f"`{h['command']}` measures the 57-song library's current model (`{h['model']}`, trained "
          f"{h['model_trained_at'][:16].replace('T', ' ')} UTC, {h['recogniser']}) on recordings built like the main "
          "set from other random draws (excerpt offsets, noise beds, rooms, gains) and never inspected while "
          "designing the recogniser (the landmark settings were swept on the main set, and the tonal profiles "
          "were designed from its failures).\n")
        alone = {(c["length_s"], c["snr_db"]): c for c in h["evaluation_cnn_only"]["conditions"]}
        w("| query | SNR | top-1 | top-5 | unknown rejected | correct match | CNN alone: top-1 / top-5 / rejected | "
          "queries (enrolled / not) |")
        w("|---|---|---|---|---|---|---|---|")
        for row in h["evaluation"]["conditions"]:
            a = alone.get((row["length_s"], row["snr_db"]), {})
            w(f"| {row['length_s']} s | {row['snr_db']:+d} dB | {pct(row.get('top1'))} | {pct(row.get('top5'))} | "
              f"{pct(row.get('rejected'))} | {pct(row.get('correct_match'))} | "
              f"{pct(a.get('top1'))} / {pct(a.get('top5'))} / {pct(a.get('rejected'))} | "
              f"{row['n_enrolled']} / {row['n_unknown']} |")
        w("")


def catalogue_section(w, r: dict | None) -> None:  # type: ignore[no-untyped-def]
    """The catalogue alone, JSON document against SQLite (``benchmarks.catalogue``)."""
    w("### Catalogue: JSON against SQLite\n")
    if r is None:
        w(f"{MISSING}: run `python -m benchmarks.catalogue`.\n")
        return
    n, big = r["entries"], r["large"]
    w(f"Command: `{r['command']}` — fake song entries, catalogue operations only (no audio); each add "
      "as `Library` does it: list the songs to find a duplicate, then the lock and the change. "
      f"Load average {r['load_average_before'][0]:.1f} before, {r['load_average'][0]:.1f} after "
      "(other jobs shared the CPU: times are upper bounds).\n")
    w("| measure | JSON (`catalogue.json`, before) | SQLite (`catalogue.sqlite`) |")
    w("|---|---|---|")
    j, q = r["json"], r["sqlite"]
    w(f"| add {n} entries one by one: total | {j['total_s']:.1f} s | {q['total_s']:.1f} s |")
    w(f"| one add: median (first 10 % → last 10 % of the adds) | {j['median_ms']:.1f} ms "
      f"({j['first_10pct_mean_ms']:.1f} → {j['last_10pct_mean_ms']:.1f} ms) | {q['median_ms']:.1f} ms "
      f"({q['first_10pct_mean_ms']:.1f} → {q['last_10pct_mean_ms']:.1f} ms) |")
    w(f"| list {n} entries (validated) | {j['list_ms']:.1f} ms | {q['list_ms']:.1f} ms |")
    w(f"| list {big['entries']} entries | {big['json_list_ms']:.1f} ms | {big['sqlite_list_ms']:.1f} ms "
      f"(repair's full integrity check: {big['sqlite_integrity_check_list_ms']:.1f} ms) |")
    w(f"| one change at {big['entries']} entries, without the listing | {big['json_change_ms']:.1f} ms (read + rewrite) | "
      f"add {big['sqlite_add_ms']:.1f} ms, remove {big['sqlite_remove_ms']:.1f} ms (validates every row) |")
    w(f"| file at {big['entries']} entries | {big['json_bytes'] / 1024:.0f} KiB | {big['sqlite_bytes'] / 1024:.0f} KiB |")
    w("\nA JSON add rewrites the whole file, so it grows with the catalogue; an SQLite add does not, but "
      "pays a fixed cost (opening and checking the database, a fsynced commit, the checkpoint when the "
      "connection closes) that makes it slower on a nearly empty catalogue (first 10 %). What still grows "
      "with SQLite is the listing `Library` does before an add to report duplicates by title.\n")


def disk_section(r: dict | None) -> list[str]:
    """The stored form of songs against the originals (``benchmarks.disk``, issue 14 point 3)."""
    if r is None:
        return []
    ms, checks = r["fragment_ms"], r["checks"]
    if "load_average_before" in r:
        load = f"{r['load_average_before'][0]:.1f} before, {r['load_average'][0]:.1f} after"
    else:
        load = f"{r['load_average'][0]:.1f} at the end"
    L = ["## Disk: the data folder against the original files\n",
         f"Command: `{r['command']}` — {r['songs']} songs ({r['music_hours']:.2f} h) of `wesnoth-1.16-music` and "
         f"`hyperrogue-music` (Ogg Vorbis, {r['original_bytes'] * 8 / (r['music_hours'] * 3600) / 1000:.0f} kbit/s on "
         f"average) imported with `Library.add_songs` into a fresh data folder. Load average {load} (other jobs shared "
         "the two cores: times are upper bounds).\n",
         "| measure | figure |", "|---|---|",
         f"| data folder / originals (songs stored as Ogg Vorbis q5, 22050 Hz mono) | **{r['ratio']:.2f}x** "
         f"({r['data_folder_bytes'] / 1e6:.1f} MB for {r['original_bytes'] / 1e6:.1f} MB; per song "
         f"{r['per_song_ratio'][0]:.2f}–{r['per_song_ratio'][1]:.2f}x) |",
         "| the same as float16 `.npy` (earlier versions) / as FLAC 16-bit | "
         f"{r['npy_ratio']:.2f}x / {r['flac_ratio']:.2f}x |",
         f"| import, one process (decode + hash + encode + write) | {r['import_rtf']:.0f}x real time "
         f"(decoding the originals alone {r['decode_rtf']:.0f}x, encoding the copies alone {r['encode_rtf']:.0f}x) |",
         f"| random 5-s fragment read: Ogg copy / float16 memory map | {ms['ogg_median']:.1f} ms median, "
         f"{ms['ogg_p95']:.1f} ms p95 / {ms['npy_median']:.2f} ms, {ms['npy_p95']:.2f} ms |",
         f"| one training example built from the copies / from float16 maps | {r['example_build_ms']['ogg']:.1f} ms / "
         f"{r['example_build_ms']['npy']:.1f} ms |",
         f"| waveform SNR of a copy against the original decode | median {r['waveform_snr_db']['median']:.1f} dB "
         f"(min {r['waveform_snr_db']['min']:.1f}) |",
         ""]
    clean = checks["clean_copy_vs_original_index"]
    L.append(f"Clean 10-s excerpts of the copies matched against an index built from the original decode: landmarks "
             f"top-1 {pct(clean['landmark_top1'])}, profiles {pct(clean['profile_top1'])} (median "
             f"{clean['right_landmarks_median']:.0f} aligned landmarks). Simulated phone recordings of the originals "
             "(reverb, the bundled noise pack, phone band, opus/aac/mp3), matched against an index built from the "
             "original decode and one built from the stored copies:\n")
    L += ["| SNR | index from | landmarks top-1 | profiles top-1 | right song's aligned landmarks (median) | "
          "landmark margin (median) | profile margin (median) |", "|---|---|---|---|---|---|---|"]
    keys = [k for k in checks if k.startswith("noisy_") and k.endswith("original_index")]
    for key in sorted(keys, key=lambda k: -int(k.split("_")[1].removesuffix("dB"))):
        snr = key.split("_")[1].replace("dB", " dB")
        for label, name in (("original decode", key), ("stored copies", key.replace("original_index", "copy_index"))):
            c = checks[name]
            L.append(f"| {snr} | {label} | {pct(c['landmark_top1'])} | {pct(c['profile_top1'])} | "
                     f"{c['right_landmarks_median']:.1f} | {c['landmark_margin_median']:.1f} | "
                     f"{c['profile_margin_median']:.3f} |")
    L.append("")
    return L


def phone_server_section(loads: list[dict], w) -> None:  # type: ignore[no-untyped-def]
    """``benchmarks.phone_server_load``: concurrent phone clients against one ``musicid serve``."""
    if not loads:
        return
    r = loads[-1]
    first = r["runs"][0]
    w("## Phone server load\n")
    w(f"Command: `{r['command']}` — {first['clients']} concurrent clients x {first['requests_per_client']} "
      f"requests of {r['query']} against one `musicid serve` (HTTPS, 127.0.0.1) on the demo library "
      f"({r['songs']} songs, its shipped model), on host `{machine_label(r['machine'])}` ({r['machine']['date']}; "
      "other jobs shared its two cores, see the load average, so times are upper bounds). Every request is "
      "either answered with the right song first or refused with 429/503 and Retry-After; anything else would "
      "be counted as a failure. All clients share one address, so with the default limits the per-client rate "
      "limit (2 requests/s, bursts of 10) decides; the second run lifts it, so the one recognition worker and "
      "its queue of 8 decide.\n")
    w("| limits | right song | wrong | 429 + Retry-After | 503 + Retry-After | failures | wall | answered/s | "
      "latency p50 / p95 (all) | latency p50 / p95 (answered) | server RSS before → after | load avg |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in r["runs"]:
        o = run["outcomes"]
        label = "default" if not run["config"] else "rate limit lifted"
        fails = sum(n for k, n in o.items() if k.startswith("failure"))
        load = (f"{run['load_average_1min_before']:.1f} → {run['load_average_1min_after']:.1f}"
                if "load_average_1min_before" in run else MISSING)
        w(f"| {label} | {o.get('right', 0)} | {o.get('wrong', 0)} | {o.get('429+Retry-After', 0)} | "
          f"{o.get('503+Retry-After', 0)} | {fails} | {run['wall_s']:.0f} s | "
          f"{(o.get('right', 0) + o.get('wrong', 0)) / run['wall_s']:.2f} | "
          f"{run['p50_ms_all']:.0f} / {run['p95_ms_all']:.0f} ms | "
          f"{run['p50_ms_answered']:.0f} / {run['p95_ms_answered']:.0f} ms | "
          f"{run['rss_mb_before']:.0f} → {run['rss_mb_after']:.0f} MB | {load} |")
    w("")


def continuous_section(results: list[dict]) -> list[str]:
    """Keep listening: the vote measurements (benchmarks.continuous) and the cost (benchmarks.listen_cost)."""
    votes = sorted((r for r in results if r["_file"].startswith("continuous-")), key=lambda r: r["snr_db"])
    costs = [r for r in results if r["_file"].startswith("listen-cost-")]
    if not votes and not costs:
        return []
    L = ["## Continuous listening (Keep listening, `musicid listen --continuous`)\n"]
    if votes:
        L.append(
            "Streams from the shipped demo (8 songs, its model): per seed two demo songs back to back (30 s each), "
            "4 s of silence, 20 s of a shipped negative excerpt (not in the library), a third song; under the "
            "shipped ambient noise at the given SNR. *Right*: the timeline names the three songs in order, each "
            "once, and the stranger once as \"not in your library\". Errors are |start - truth| and |end - truth| "
            "of right timelines; *delay* is when an entry was first reported after it began. Hold 10 = a song is "
            "closed by \"not in your library\" only when none of the last 10 answers named it "
            f"(`musicid_core/listening.py`). Identification of one window: median "
            + ", ".join(f"{r['median_identify_ms']:.0f} ms ({r['snr_db']:g} dB run)" for r in votes) + ".\n")
        keys = sorted({(row["window_s"], row["interval_s"], row["k"], row["n"]) for r in votes for row in r["rows"]
                       if row["hold"] == 10})
        head = " | ".join(f"right {r['snr_db']:g} dB" for r in votes)
        L.append(f"| window | every | k of n | hold | {head} | mean / max error (right ones) | delay |")
        L.append("|---|---|---|---|" + "---|" * len(votes) + "---|---|")
        for key in keys:
            rows = [next((row for row in r["rows"] if (row["window_s"], row["interval_s"], row["k"], row["n"]) == key
                          and row["hold"] == 10), None) for r in votes]
            got = [row for row in rows if row and row["mean_abs_error_s"] is not None]
            rights = " | ".join(f"{row['right']}/{row['streams']}" if row else "—" for row in rows)
            err = " / ".join((f"{max(g['mean_abs_error_s'] for g in got):.1f}", f"{max(g['max_abs_error_s'] for g in got):.1f} s")) if got else "—"
            delay = f"{max(g['mean_report_delay_s'] for g in got):.1f} s" if got else "—"
            mark = " **(default)**" if key == (8.0, 1.0, 3, 3) else ""
            L.append(f"| {key[0]:g} s | {key[1]:g} s | {key[2]} of {key[3]}{mark} | 10 | {rights} | {err} | {delay} |")
        L.append("\nWorse figures of two SNRs are shown where both exist. Without the hold (hold 0), a library song "
                 "the recogniser cannot name for a few seconds in loud noise is split by a spurious \"not in your "
                 "library\" entry; see the result files for every hold.\n")
    if costs:
        L.append("Cost: the demo songs under café noise, looped through a PulseAudio null sink and heard on its "
                 "monitor (`python -m benchmarks.listen_cost`). CPU is the listener's own CPU time (user + system) "
                 "per second of wall time after its first minute; memory is its resident set. The runs are minutes, "
                 "not the hour the target speaks of: memory flat over them is the evidence of no growth.\n")
        L.append("| listener | measured | CPU (% of one core) | RSS at 1 min → end (max) | RSS slope | load avg at end |")
        L.append("|---|---|---|---|---|---|")
        for r in sorted(costs, key=lambda r: r["target"]):
            who = "`musicid listen --continuous`" if r["target"] == "cli" else "the app (Listen tab, offscreen Qt)"
            load = (r.get("load_average") or [float("nan")])[0]
            L.append(f"| {who} | {r['minutes_measured']:.1f} min | {r['cpu_percent_of_one_core']:.1f} % | "
                     f"{r['rss_mb_start']} → {r['rss_mb_end']} MB ({r['rss_mb_max']} MB) | "
                     f"{r['rss_slope_mb_per_min']:+.2f} MB/min | {load:.1f} |")
        L.append("")
        L += [f"{r['note']}\n" for r in sorted(costs, key=lambda r: r["target"]) if r.get("note")]
    return L


def main() -> int:
    results = load()
    runs = main_runs(results)
    speeds = {r["_file"]: r for r in results if r.get("kind") == "speed"}
    speed = speeds.get("speed.json") or next(iter(speeds.values()), None)
    scale = [r for r in results if r.get("kind") == "accuracy" and r["name"].startswith("scale-")]
    fast = runs.get("fast") or []
    default57 = next((r for r in fast if r["epochs"] == 6 and r["examples_per_song"] == 200), fast[0] if fast else None)
    scale_points = list(scale) + ([default57] if default57 else [])
    made = plots(runs, scale_points) + verdict_plot([r for r in results if r.get("kind") == "verdict"])
    m = (default57 or speed or {}).get("machine") or machine()
    L: list[str] = []
    w = L.append
    w("# MusicID benchmarks on real music\n")
    w(f"Generated by `python -m benchmarks.report` on {machine()['date']} from `benchmarks/results/*.json`. "
      f"Machine: **{m['cpu']}, {m['cores']} cores**, no GPU, Python {m['python']}, {m['platform']}. "
      + hosts_sentence(results) +
      "A run's own load is about 2 on these two cores; each result's load average is in the Commands "
      "table, and where it is well above 2 another job shared the CPU, so wall-clock times are upper "
      "bounds; CPU seconds are given beside them.\n")
    w("## How it was measured\n")
    w("- **Corpus** (`benchmarks/corpus.py`): four Debian game-music packages (Wesnoth, HyperRogue, "
      "Planet Blupi, Drascula), 90 songs; the 18 songs used as the model's \"not in your library\" "
      "training class (`resources/negatives/sources.json`) are removed first, leaving 72. "
      "`pick_library(n=57, seed=0)` enrols 57 and leaves 15 never-enrolled songs for rejection.\n"
      "- **Training noise**: the Wesnoth ambience on the training side of `split_noise` (birds1, campfire, "
      "night, ship) as pack `bench-ambient` plus the bundled `resources/noise/*.ogg` as pack `default`.\n"
      "- **Queries** (`benchmarks/queries.py`): 2 excerpts per enrolled song and 4 per non-enrolled song, "
      "at seeded offsets, 10.0 s long (the 5.0-s query is the first 5.0 s of the same recording), "
      "at SNR 10/5/0/-5 dB: 1392 queries in all. Each passes through a room impulse "
      "response (RT60 0.2-0.8 s), a 1-3 layer ambient bed, a phone-microphone band limit, 44.1/48 kHz, "
      "random gain with clipping, and a lossy codec rotating opus/aac/mp3 at 32-64 kbit/s, then back to "
      "22050 Hz. Query noise is only the *query* half of the Wesnoth ambience (birds2, birds3, morning, "
      "wardrums) and the seed-1 synthetic pack (`resources/make_noise_pack.py --seed 1 --no-ambient`), "
      "never training noise.\n"
      "- **Metrics**: top-1/top-5 over enrolled-song queries (ranking, whatever the verdict); "
      "*accepted* = enrolled queries answered `match`; *correct match* = answered `match` with the right "
      "song first; *unknown rejected* = non-enrolled queries answered `unknown`.\n"
      "- **Recogniser**: *CNN + landmarks + profiles* is the app's (`musicid_core/recognizer.py`); runs "
      "made since landmarks were added also measure the same trained model with the CNN alone; runs "
      "marked *CNN + landmarks* predate tonal profiles, and runs marked *CNN* predate landmarks.\n")

    w("## Headline: 10-s queries at 0 dB SNR, reverb + phone band + codec, 57 songs\n")
    w("| model | recogniser | budget (examples/song x epochs) | top-1 | top-5 | unknown rejected | enrolled accepted | "
      "correct match | training time (wall) | CPU time | best epoch / run | val. acc. | bundle size |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for arch in ARCHS:
        rs = runs.get(arch) or []
        if not rs:
            w(f"| {arch} | — | {MISSING} |" + f" {MISSING} |" * 10)
            continue
        for r in rs:
            for variant in ([r, cnn_only(r)] if "evaluation_cnn_only" in r else [r]):
                c = cond(variant, 10, 0)
                who = recogniser(r) if variant is r else "CNN alone (same model)"
                w(f"| {arch}{' (default)' if arch == 'fast' else ''} | {who} | {r['examples_per_song']} x {r['epochs']} | "
                  f"{pct(c.get('top1'))} | {pct(c.get('top5'))} | {pct(c.get('rejected'))} | {pct(c.get('accepted'))} | "
                  f"{pct(c.get('correct_match'))} | {secs(r['train_seconds'])} | {secs(r.get('train_cpu_seconds'))} | "
                  f"{r['best_epoch']} / {r['epochs_run']} | {pct(r['validation'].get('accuracy', r['validation'].get('top1')))} | "
                  f"{r['model_bytes'] / 1e6:.1f} MB |")
    w(f"| *reference (as quoted in issue 4)* | CNN | — | fc {REFERENCE['fc']} %, alexnet {REFERENCE['alexnet']} %, "
      f"resnet50 {REFERENCE['resnet50']} % (test); live {REFERENCE['live_top1']} % | live {REFERENCE['live_top5']} % | "
      "— | — | — | — | — | — | — | — |")
    w(f"| *target* | — | — | ≥ 97 % | ≥ 99 % | ≥ 95 % | — | — | < 15 min | — | — | — | — |\n")
    w("The reference's figures come from a different corpus and recording set-up; they are beside ours "
      "for orientation, not as a like-for-like comparison.\n")

    if default57:
        w("### Targets, default model\n")
        c = cond(default57, 10, 0)
        lat = (speed or {}).get("latency", {}).get("identify_total", {}).get("median_ms")
        rows = [("top-1 (10 s, 0 dB)", c.get("top1"), TARGETS["top1"], True),
                ("top-5 (10 s, 0 dB)", c.get("top5"), TARGETS["top5"], True),
                ("non-enrolled answered unknown", c.get("rejected"), TARGETS["rejected"], True)]
        w("| target | goal | measured | verdict |")
        w("|---|---|---|---|")
        for label, value, goal, _ in rows:
            if value is None:
                w(f"| {label} | ≥ {100 * goal:.0f} % | {MISSING} | — |")
            else:
                gap = 100 * (value - goal)
                w(f"| {label} | ≥ {100 * goal:.0f} % | {pct(value)} | {'met' if gap >= 0 else f'missed by {-gap:.1f} points'} |")
        if lat is None:
            w(f"| recognition of a 10-s recording | < 100 ms | {MISSING} | — |")
        else:
            w(f"| recognition of a 10-s recording | < 100 ms | {lat:.0f} ms (median) | "
              f"{'met' if lat < 100 else f'missed by {lat - 100:.0f} ms'} |")
        t = default57["train_seconds"]
        w(f"| full retrain, 57 songs | < 15 min | {secs(t)} wall ({secs(default57.get('train_cpu_seconds'))} CPU) | "
          f"{'met' if t < 900 else f'missed by {(t - 900) / 60:.1f} min (on a shared CPU)'} |\n")

        w(f"### Default model by SNR and query length ({recogniser(default57)})\n")
        alone = {(c["length_s"], c["snr_db"]): c for c in cnn_only(default57)["evaluation"]["conditions"]}
        w("| query | SNR | top-1 | top-5 | unknown rejected | enrolled accepted | correct match | "
          "CNN alone: top-1 / top-5 / rejected | queries (enrolled / not) |")
        w("|---|---|---|---|---|---|---|---|---|")
        for row in default57["evaluation"]["conditions"]:
            a = alone.get((row["length_s"], row["snr_db"]), {})
            w(f"| {row['length_s']} s | {row['snr_db']:+d} dB | {pct(row.get('top1'))} | {pct(row.get('top5'))} | "
              f"{pct(row.get('rejected'))} | {pct(row.get('accepted'))} | {pct(row.get('correct_match'))} | "
              f"{pct(a.get('top1'))} / {pct(a.get('top5'))} / {pct(a.get('rejected'))} | "
              f"{row['n_enrolled']} / {row['n_unknown']} |")
        w("")
        w("### Default model by codec (all SNRs and lengths pooled)\n")
        w("| codec | top-1 | top-5 | unknown rejected | enrolled accepted |")
        w("|---|---|---|---|---|")
        for codec, row in default57["evaluation"]["per_codec"].items():
            w(f"| {codec} | {pct(row.get('top1'))} | {pct(row.get('top5'))} | {pct(row.get('rejected'))} | {pct(row.get('accepted'))} |")
        w("")
        holdout_section(w, [r for r in results if r.get("kind") == "holdout"])

    verdicts = [r for r in results if r.get("kind") == "verdict"]
    if verdicts:
        v = verdicts[0]
        w(f"### The verdict's trade-off: the threshold or the model? ({v['songs']} songs)\n")
        w(f"`{v['command']}` sweeps the verdict threshold for the trained model `{v['model']}` over the same "
          f"queries (the other two verdict conditions unchanged). *Right match* = answered `match` with the "
          f"right song. The shipped threshold ({v['threshold']:.3f}) was calibrated on validation windows; "
          "nothing here is tuned on the queries.\n")
        w("| query | SNR | top-1 | shipped: right match | shipped: unknown rejected | best right match with ≥ 95 % rejected |")
        w("|---|---|---|---|---|---|")
        for key, c in v["conditions"].items():
            length, snr = key.split("/")
            w(f"| {length.replace('s', ' s')} | {snr.replace('dB', ' dB')} | {pct(c['top1'])} | {pct(c['shipped']['correct_match'])} | "
              f"{pct(c['shipped']['rejected'])} | {pct(c['best_correct_match_at_95_rejected'])} |")
        w("")
        if "verdict.png" in made:
            w("![verdict trade-off](plots/verdict.png)\n")

    aggregations = [r for r in results if r.get("kind") == "aggregation"]
    if aggregations:
        a = aggregations[0]
        combos = sorted({(r["step"], r["rule"]) for r in a["rows"]}, key=lambda c: (-c[0], c[1]))
        w(f"### Pooling the windows: step and rule ({a['songs']} songs, top-1 / top-5)\n")
        w(f"`{a['command']}` re-ranks the same enrolled queries with model `{a['model']}` ({a['arch']}): "
          "window step 51 frames (the method) or 17, and the windows' probabilities pooled by their mean "
          "(what the app does), the mean of their logarithms, or a vote of each window's top song. "
          "Only 10-s queries: a 5-s query is a single window, where every rule gives the same answer.\n")
        w("| query | SNR | " + " | ".join(f"step {st}, {rule.replace('_', ' ')}" for st, rule in combos) + " |")
        w("|---|---|" + "---|" * len(combos))
        cells = {(r["length_s"], r["snr_db"], r["step"], r["rule"]): r for r in a["rows"]}
        for length, snr in sorted({(r["length_s"], r["snr_db"]) for r in a["rows"] if r["length_s"] >= 10},
                                  key=lambda c: (-c[0], -c[1])):
            row = [cells.get((length, snr, st, rule)) for st, rule in combos]
            w(f"| {length} s | {snr:+d} dB | " + " | ".join(
                f"{100 * c['top1']:.0f} / {100 * c['top5']:.0f}" if c else MISSING for c in row) + " |")
        w("")

    w("## All architectures by SNR (top-1 / top-5 / unknown rejected)\n")
    w("| model | budget | " + " | ".join(f"{L_} s, {s:+d} dB" for L_ in (10, 5) for s in (10, 5, 0, -5)) + " |")
    w("|---|---|" + "---|" * 8)
    for arch in ARCHS:
        for r in runs.get(arch) or [None]:
            if r is None:
                w(f"| {arch} | {MISSING} |" + f" {MISSING} |" * 8)
                continue
            cells = []
            for L_ in (10, 5):
                for s in (10, 5, 0, -5):
                    c = cond(r, L_, s)
                    cells.append(MISSING if not c else f"{100 * c['top1']:.0f} / {100 * c['top5']:.0f} / "
                                 + (f"{100 * c['rejected']:.0f}" if c.get("rejected") is not None else "—"))
            w(f"| {arch} | {r['examples_per_song']} x {r['epochs']} | " + " | ".join(cells) + " |")
    w("")
    if "accuracy_vs_snr.png" in made:
        w("![accuracy vs SNR](plots/accuracy_vs_snr.png)\n")

    w("## Speed and cost\n")
    if speed:
        lat = speed["latency"]
        w(f"Command: `{speed['command']}` — model timed: {lat.get('arch')} with {lat.get('songs', '?')} songs "
          f"({lat.get('model', '')}); load average {speed['load_average_before'][0]:.1f} before.\n")
        w("| measure | median | p10 – p90 |")
        w("|---|---|---|")
        for key, label in (("features", "feature extraction, 10-s recording"),
                           ("model_and_verdict", f"model + verdict ({lat['windows']} windows, {lat['arch']})"),
                           ("landmarks", f"landmark matching ({lat.get('index_entries', 0) / 1e6:.1f} M indexed landmarks)"),
                           ("profiles", f"tonal-profile matching ({lat.get('profile_blocks', 0) / 1e3:.0f} k indexed profiles)"),
                           ("identify_total", "end to end: 10-s recording to ranked top-5")):
            if key not in lat:
                continue
            s = lat[key]
            w(f"| {label} | {s['median_ms']:.1f} ms | {s['p10_ms']:.1f} – {s['p90_ms']:.1f} ms ({s['runs']} runs) |")
        w(f"| model load (once per process) | {lat['model_load_s']:.2f} s | — |")
        if "dataset" in speed:
            d = speed["dataset"]
            w(f"| dataset building ({d['songs']} songs x {d['examples_per_song']} + validation + unknown) | "
              f"{d['windows_per_s']:.1f} augmented windows/s | {d['windows']} windows in {d['seconds']:.0f} s |")
        if "rss_after_recognition_mb" in lat:
            w(f"| RSS of a recognition process (model loaded, after {2 * lat['identify_total']['runs'] + 3} recognitions) | {lat['rss_after_recognition_mb']:.0f} MB | — |")
        g = speed.get("gui", {})
        if "skipped" in g:
            w(f"| GUI app RSS | skipped: {g['skipped'][:150]} | — |")
        else:
            w(f"| GUI app RSS (`{g['command'].split('/')[-1]}`, offscreen, {g['seconds_sampled']} s) | settled {g['settled_rss_mb']:.0f} MB | peak {g['peak_rss_mb']:.0f} MB |")
        w("")
    else:
        w(f"Speed: {MISSING}.\n")
    w("| model | budget | host | training time (wall) | dataset building | dataset throughput | per epoch (median) | to best val. epoch | peak RSS training | model on disk |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for arch in ARCHS:
        for r in runs.get(arch) or [None]:
            if r is None:
                w(f"| {arch} | {MISSING} |" + f" {MISSING} |" * 8)
                continue
            eps = epoch_seconds(r)
            med = sorted(eps)[len(eps) // 2] if eps else None
            start = r.get("training_started_s")
            to_best = (r["epoch_end_s"][r["best_epoch"] - 1] if r.get("epoch_end_s") and r["best_epoch"] else None)
            x = r["examples_per_song"]
            windows = (x + max(4, x // 5)) * (r["songs"] + 2)  # songs + 2x for "not in your library"
            rate = f"{windows / start:.1f} windows/s ({windows})" if start else MISSING
            w(f"| {arch} | {r['examples_per_song']} x {r['epochs']} | {host_label(r)} | {secs(r['train_seconds'])} | {secs(start)} | {rate} | "
              f"{secs(med)} | {secs(to_best)} (epoch {r['best_epoch']}) | {r['train_peak_rss_mb']:.0f} MB | "
              f"{r['model_bytes'] / 1e6:.1f} MB |")
    w("\n*To best val. epoch* counts from the start of `train()` (dataset building included).\n")
    catalogue_section(w, next((r for r in results if r.get("kind") == "catalogue"), None))

    for line in disk_section(next((r for r in results if r.get("kind") == "disk"), None)):
        w(line)
    phone_server_section([r for r in results if r.get("kind") == "phone_server_load"], w)
    for line in continuous_section(results):
        w(line)

    w("## Scale: library size\n")
    w("10-s queries at 0 dB SNR; the same default budget (200 examples/song x 6 epochs) at every size.\n")
    w("| songs | recogniser | top-1 | top-5 | unknown rejected | enrolled accepted | CNN alone: top-1 / top-5 / rejected | training time (wall) | host | val. acc. |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    by_n = {r["songs"]: r for r in sorted(scale_points, key=lambda r: r["songs"])}
    for n in (10, 30, 57, 72):
        r = by_n.get(n)
        if r is None:
            w(f"| {n} |" + f" {MISSING} |" * 9)
            continue
        c, a = cond(r, 10, 0), cond(cnn_only(r), 10, 0)
        none_left = "— (none left)"
        w(f"| {n} | {recogniser(r)} | {pct(c.get('top1'))} | {pct(c.get('top5'))} | "
          f"{pct(c.get('rejected')) if c.get('n_unknown') else none_left} | {pct(c.get('accepted'))} | "
          f"{pct(a.get('top1'))} / {pct(a.get('top5'))} / {pct(a.get('rejected')) if a.get('n_unknown') else '—'} | "
          f"{secs(r['train_seconds'])} | {host_label(r)} | {pct(r['validation'].get('accuracy', r['validation'].get('top1')))} |")
    w("")
    if "scale.png" in made:
        w("![scale](plots/scale.png)\n")

    noted = [r for r in results if r.get("kind") == "accuracy" and r.get("note")]
    sizes = {r["songs"] for r in noted}
    experiments = noted + [r for r in scale_points if r["songs"] in sizes and not r.get("note")]
    if experiments:
        w("## Experiments\n")
        w("Runs that changed one thing, each with what it tried, beside the current default at the same "
          "library size (10-s queries at 0 dB SNR; validation is each run's own, so it is only comparable "
          "between runs with the same augmentation; training times compare only within one host).\n")
        w("| result file | songs | what was tried | recogniser | top-1 | top-5 | correct match | unknown rejected | training time (wall) | host | val. acc. |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sorted(experiments, key=lambda r: (r["songs"], r["_file"])):
            for variant in ([r, cnn_only(r)] if "evaluation_cnn_only" in r else [r]):
                c = cond(variant, 10, 0)
                who = recogniser(r) if variant is r else "CNN alone (same model)"
                w(f"| `{r['_file']}` | {r['songs']} | {r.get('note') or '**current default**'} | {who} | {pct(c.get('top1'))} | {pct(c.get('top5'))} | "
                  f"{pct(c.get('correct_match'))} | {pct(c.get('rejected'))} | {secs(r['train_seconds'])} | "
                  f"{host_label(r)} | {pct(r['validation'].get('accuracy'))} |")
        w("")

    analysis = BENCH / "analysis.md"
    if analysis.exists():
        w("## Findings\n")
        w(analysis.read_text().strip() + "\n")

    w("## Commands\n")
    w("Every result file records the command that produced it:\n")
    w("| result file | command | date | machine (platform; vector extensions) | load avg (1 min, at the end) |")
    w("|---|---|---|---|---|")
    for r in results:
        la = r.get("load_average") or r.get("load_average_after") or [float("nan")]
        w(f"| `{r['_file']}` | `{r['command']}` | {r['machine']['date']} | {machine_label(r['machine'])} | {la[0]:.1f} |")
    not_run = {
        "fc": "python -m benchmarks.accuracy --arch fc",
        "alexnet": "python -m benchmarks.accuracy --arch alexnet --examples-per-song 60 --epochs 3",
        "resnet50": "python -m benchmarks.accuracy --arch resnet50 --examples-per-song 60 --epochs 3",
    }
    todo = [cmd for arch, cmd in not_run.items() if not runs.get(arch)]
    if 72 not in {r["songs"] for r in scale_points}:
        todo.append("python -m benchmarks.scale_training --sizes all")
    w("\nThe alexnet and resnet50 budgets are reduced because they are 5-25x slower per sample on this "
      "CPU, so their figures are budget-limited, not the architectures' best.\n")
    if todo:
        w("To fill the cells marked \"not run (time)\" (one training at a time):\n")
        for cmd in todo:
            w(f"    {cmd}")
    w("\nThe tuning change the still-rising validation curve suggests (about twice the retrain time):\n")
    w("    python -m benchmarks.accuracy --arch fast --epochs 12")
    w("\nSet-up: `apt-get install sox espeak-ng ffmpeg` (query noise and codecs) and "
      "`.venv/bin/pip install -r benchmarks/requirements.txt`; the corpus with "
      "`python -m benchmarks.corpus`, the queries with `python -m benchmarks.queries`, this page with "
      "`python -m benchmarks.report`. Cache: `$MUSICID_BENCH_CACHE` or `~/.cache/musicid-bench`.\n")
    (BENCH / "RESULTS.md").write_text("\n".join(L))
    print("wrote", BENCH / "RESULTS.md", "plots:", made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
