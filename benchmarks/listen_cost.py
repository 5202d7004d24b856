"""What continuous listening costs: average CPU and memory over time, app and command line.

    python -m benchmarks.listen_cost [--minutes 5] [--target cli|gui]

A private PulseAudio server (tests/gui/pulse.py) plays the shipped demo songs under café noise
into a null sink, over and over (with a few seconds of silence between songs); the listener
records its monitor as "this computer's sound" with the demo model installed in a temporary data
folder:

- ``cli``: ``musicid listen --continuous --json --device computer``;
- ``gui``: the real main window (offscreen Qt) with *Keep listening* on, live spectrogram and all.

The listener's CPU time (user + system, from /proc) and resident memory are sampled every 10 s;
the first minute (TensorFlow import, model load, first traces) is reported apart, and the
averages are over the rest. Linux only (/proc, PulseAudio).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "gui")]
TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 10.0
WARM_S = 60.0

GUI_DRIVER = """
import os, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow
from app.settings import Settings
from musicid_core.library import Library
app = QApplication([])
window = MainWindow(Library(os.environ["MUSICID_DATA_DIR"]), Settings())
window.show()
tab = window.listen_tab
tab.refresh_devices(rescan=True)
name = next(n for n in tab.input_names() if n.startswith("This computer's sound"))
tab.device_combo.setCurrentIndex(tab.device_combo.findData(name))
tab.continuous_box.setChecked(True)
def begin():
    if not tab.model_ready:  # Listen is offered once the model has loaded and run once
        QTimer.singleShot(200, begin)
        return
    tab.start_listening()
    print("listening to", name, file=sys.stderr, flush=True)
QTimer.singleShot(1000, begin)
tab.timeline_changed.connect(lambda e: print(e.display_answer, e.started, e.ended, flush=True))
app.exec()
"""


def stream_file(folder: Path) -> tuple[Path, float]:
    """All demo songs under café noise with 3 s of silence after each, as one wav."""
    import soundfile as sf

    from benchmarks.simulate import mix_at_snr, noise_bed
    from musicid_core.audio.decode import load_audio
    from musicid_core.resources import default_noise_dir, demo_dir

    rng = np.random.default_rng(0)
    noises = [load_audio(p) for p in sorted(default_noise_dir().glob("*.ogg"))]
    parts = []
    for path in sorted((demo_dir() / "songs").glob("*.ogg")):
        song = load_audio(path)
        mixed, _ = mix_at_snr(song.astype(np.float64), noise_bed(noises, song.size, rng), 5.0)
        parts += [(0.3 * mixed / np.max(np.abs(mixed))).astype(np.float32), np.zeros(3 * 22050, np.float32)]
    audio = np.concatenate(parts)
    target = folder / "stream.wav"
    sf.write(str(target), audio, 22050)
    return target, audio.size / 22050


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--target", choices=("cli", "gui"), default="cli")
    args = parser.parse_args(argv)
    import pulse

    from musicid_core.demo import install_demo
    from musicid_core.library import Library

    work = Path(tempfile.mkdtemp(prefix="musicid-cost-"))
    server = pulse.PulseServer(work / "pulse").start()
    env = {**os.environ, **server.env, "MUSICID_DATA_DIR": str(work / "data"), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(work / "config"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    player = listener = None
    try:
        install_demo(Library(work / "data"))
        wav, seconds = stream_file(work)
        command = ([sys.executable, "-m", "musicid_cli", "listen", "--continuous", "--json", "--device", "computer"]
                   if args.target == "cli" else [sys.executable, "-c", GUI_DRIVER])
        log_path = work / "listener.log"
        with open(log_path, "w") as log_file:  # a file, not a pipe: nobody must have to read it
            listener = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 180
        while "listening to" not in log_path.read_text():
            if listener.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the listener did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        player = subprocess.Popen(["sh", "-c", f"while true; do paplay '{wav}'; done"], env=server.env,
                                  start_new_session=True)
        began = time.monotonic()
        samples: list[tuple[float, float, float]] = []  # (elapsed s, cpu s, rss MB)
        print(f"{args.target}: demo stream of {seconds / 60:.1f} min looped, {args.minutes:g} min measured")
        print(f"{'minute':>6} {'CPU % of a core (last 10 s)':>28} {'RSS MB':>7}")
        while time.monotonic() - began < args.minutes * 60:
            time.sleep(SAMPLE_S)
            if listener.poll() is not None:
                text = log_path.read_text()
                fatal = text.find("Fatal Python error")
                raise RuntimeError(f"the listener exited: {text[fatal:fatal + 6000] if fatal >= 0 else text[-2000:]}")
            samples.append((time.monotonic() - began, cpu_seconds(listener.pid), rss_mb(listener.pid)))
            if len(samples) >= 2:
                (t0, c0, _), (t1, c1, rss) = samples[-2], samples[-1]
                if len(samples) % 3 == 0:
                    print(f"{t1 / 60:6.1f} {100 * (c1 - c0) / (t1 - t0):28.1f} {rss:7.0f}", flush=True)
        steady = [s for s in samples if s[0] >= WARM_S]
        (t0, c0, m0), (t1, c1, m1) = steady[0], steady[-1]
        rss = [s[2] for s in steady]
        print(f"CPU after the first minute: {100 * (c1 - c0) / (t1 - t0):.1f} % of one core on average "
              f"over {(t1 - t0) / 60:.1f} min (total CPU {c1:.0f} s incl. start-up)")
        print(f"RSS: {m0:.0f} MB at 1 min, {m1:.0f} MB at the end, min {min(rss):.0f} / max {max(rss):.0f} MB; "
              f"slope {np.polyfit([s[0] / 60 for s in steady], rss, 1)[0]:+.2f} MB/min")
        from benchmarks.common import command_line, machine, write_result

        load = os.getloadavg()[0]
        write_result(f"listen-cost-{args.target}", {
            "machine": machine(), "command": command_line(), "target": args.target, "minutes_measured": round((t1 - t0) / 60, 2),
            "cpu_percent_of_one_core": round(100 * (c1 - c0) / (t1 - t0), 1), "rss_mb_start": round(m0),
            "rss_mb_end": round(m1), "rss_mb_max": round(max(rss)), "rss_slope_mb_per_min": round(float(
                np.polyfit([s[0] / 60 for s in steady], rss, 1)[0]), 2), "load_average": [round(load, 1)],
        })
        print(f"load average at the end: {load:.1f} (other jobs share these 2 cores; CPU time is the process's own)")
    finally:
        if player is not None:
            os.killpg(player.pid, signal.SIGTERM)  # the loop's own process group: sh and its paplay
        if listener is not None and listener.poll() is None:
            listener.send_signal(signal.SIGINT)
            try:
                listener.wait(30)
            except subprocess.TimeoutExpired:
                listener.kill()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
