"""Screenshots of Keep listening's timeline, for docs/screenshots/ (run under Xvfb).

    Xvfb :99 -screen 0 1280x860x24 &  DISPLAY=:99 .venv/bin/python tests/gui/make_timeline_screenshots.py

Installs the demo (songs and model), then plays three demo songs under café noise through a
private PulseAudio null sink (two back to back, 4 s of silence, a shipped negative excerpt that
is not in the library, the third song) and listens to "this computer's sound" with *Keep
listening* on. Shots: while the second song plays, and the whole timeline at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

from make_screenshots import OUT, pause, wait_until  # noqa: E402

SONG_S = 25.0


def stream(folder: Path) -> Path:
    import numpy as np
    import soundfile as sf

    from benchmarks.simulate import mix_at_snr, noise_bed
    from musicid_core.audio.decode import load_audio
    from musicid_core.resources import default_negatives_dir, default_noise_dir, demo_dir

    rng = np.random.default_rng(3)
    noises = [load_audio(p) for p in sorted(default_noise_dir().glob("*.ogg"))]
    songs = sorted((demo_dir() / "songs").glob("*.ogg"))
    stranger = sorted(default_negatives_dir().glob("*.ogg"))[2]

    def part(path: Path, seconds: float) -> np.ndarray:
        whole = load_audio(path)
        start = max(0, min(int(20 * 22050), whole.size - int(seconds * 22050)))
        audio = whole[start : start + int(seconds * 22050)]
        mixed, _ = mix_at_snr(audio.astype(np.float64), noise_bed(noises, audio.size, rng), 5.0)
        return (0.3 * mixed / np.max(np.abs(mixed))).astype(np.float32)

    silence = np.zeros(4 * 22050, np.float32)
    audio = np.concatenate([np.zeros(22050, np.float32), part(songs[3], SONG_S), part(songs[6], SONG_S), silence,
                            part(stranger, 16.0), part(songs[4], SONG_S), np.zeros(2 * 22050, np.float32)])
    target = folder / "stream.wav"
    sf.write(str(target), audio, 22050)
    return target


def shot(window: object, name: str) -> None:
    """The window as Qt draws it (no ImageMagick needed), scaled to 1100 px wide like the others."""
    from PySide6.QtCore import Qt

    pause(0.3)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{name}.png"
    image = window.grab().scaledToWidth(1100, Qt.TransformationMode.SmoothTransformation)  # type: ignore[attr-defined]
    image.save(str(target))
    print("saved", target, target.stat().st_size // 1024, "KiB")


def main() -> int:
    import pulse

    work = Path(tempfile.mkdtemp(prefix="musicid-timeline-"))
    server = pulse.PulseServer(work / "pulse").start()
    os.environ.update({k: server.env[k] for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")})
    os.environ["MUSICID_DATA_DIR"] = str(work / "data")
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")
    try:
        from PySide6.QtWidgets import QApplication

        from app import theme
        from app.errors import CrashHandler
        from app.main_window import MainWindow
        from app.settings import Settings
        from musicid_core.demo import install_demo
        from musicid_core.library import Library

        library = Library(work / "data")
        install_demo(library)
        wav = stream(work)
        app = QApplication(sys.argv[:1])
        app.setApplicationDisplayName("MusicID")
        theme.apply_theme(app, os.environ.get("MUSICID_THEME", "light"))
        CrashHandler.dialogs_enabled = False
        window = MainWindow(library, Settings())
        window.setGeometry(0, 0, 1280, 860)
        window.show()
        window.service.recognizer()  # loaded before listening, as the app's preload does
        pause(1.0)
        tab = window.listen_tab
        window.tabs.setCurrentWidget(tab)
        tab.refresh_devices(rescan=True)
        monitor = next(n for n in tab.input_names() if n.startswith("This computer's sound"))
        tab.device_combo.setCurrentIndex(tab.device_combo.findData(monitor))
        tab.continuous_box.setChecked(True)
        tab.start_listening()
        pause(0.5)
        player = server.play(wav)
        wait_until(lambda: tab.timeline.rowCount() >= 2, 120, "second song")
        pause(3.0)
        shot(window, "listen-timeline-live")
        wait_until(lambda: player.poll() is not None, 300, "end of playback")
        pause(2.0)
        tab.stop_listening()
        pause(0.5)
        print("timeline:", tab.timeline.rows())
        shot(window, "listen-timeline")
        window.close()
        return 0
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
