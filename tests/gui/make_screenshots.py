"""Screenshots of each tab while it does real work, for docs/screenshots/ (run under Xvfb).

    Xvfb :99 -screen 0 1280x860x24 &  DISPLAY=:99 .venv/bin/python tests/gui/make_screenshots.py

Enrolls the shipped demo songs and noise, trains a small model through the Training tab, then
plays a noisy café recording through a private PulseAudio null sink and presses Listen. Each
shot is the whole X screen (``import -window root``), scaled to a modest PNG.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]
OUT = ROOT / "docs" / "screenshots"


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        QApplication.processEvents()
        time.sleep(0.01)


def pause(seconds: float) -> None:
    end = time.monotonic() + seconds
    from PySide6.QtWidgets import QApplication

    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def shot(name: str) -> None:
    pause(0.3)
    target = OUT / f"{name}.png"
    subprocess.run(["import", "-window", "root", "-resize", "1100x", "-strip", "-depth", "8", str(target)], check=True)
    print("saved", target, target.stat().st_size // 1024, "KiB")


def main() -> int:
    import pulse

    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="musicid-shots-"))
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
        from musicid_core.library import Library
        from musicid_core.resources import demo_dir, default_noise_dir

        app = QApplication(sys.argv[:1])
        app.setApplicationDisplayName("MusicID")
        theme.apply_theme(app, os.environ.get("MUSICID_THEME", "light"))
        CrashHandler.dialogs_enabled = False
        window = MainWindow(Library(work / "data"), Settings())
        window.setGeometry(0, 0, 1280, 860)
        window.show()
        pause(1.0)

        # Library: drop the demo songs and a noise folder, shoot while and after importing
        library = window.library_tab
        window.tabs.setCurrentWidget(library)
        songs = sorted(str(p) for p in (demo_dir() / "songs").glob("*.ogg"))
        done: list[object] = []
        library.import_finished.connect(done.append)
        library.add_songs(songs[:-1] + [str(ROOT / "README.md")])
        wait_until(lambda: bool(done), 300, "song import")
        library.pack_name.setText("cafe-noise")
        library.add_noise([str(p) for p in sorted(default_noise_dir().glob("*.ogg"))[:6]])
        library.add_songs(songs[-1:])
        wait_until(lambda: library.progress.value() > 0, 60, "noise import start")
        shot("library-importing")
        wait_until(lambda: len(done) >= 3, 300, "noise import")
        library.search.setText("")
        shot("library")

        # Training: a small "fast" model; shoot mid-run with curves
        training = window.training_tab
        window.tabs.setCurrentWidget(training)
        training.arch_combo.setCurrentIndex(training.arch_combo.findData("fast"))
        training.examples_spin.setValue(int(os.environ.get("SHOT_EXAMPLES", "60")))
        training.epochs_spin.setValue(int(os.environ.get("SHOT_EPOCHS", "5")))
        finished: list[object] = []
        training.training_finished.connect(finished.append)
        training.start_training()
        wait_until(lambda: len(training._val) >= 2 or bool(finished), 1200, "two epochs")
        shot("training")
        wait_until(lambda: bool(finished), 1200, "training end")
        if isinstance(finished[0], BaseException):
            raise finished[0]
        shot("training-done")

        # Listen: a noisy café recording of a demo song, played into the null sink
        listen = window.listen_tab
        window.tabs.setCurrentWidget(listen)
        listen.refresh_devices(rescan=True)
        recording = sorted((demo_dir() / "recordings").glob("*.ogg"))[0]
        player = server.play(recording)
        pause(0.5)
        identified: list[object] = []
        listen.identified.connect(identified.append)
        listen.seconds_spin.setValue(12)
        listen.start_listening()
        # Mid-listen: a clear recording is answered from 3 s on (landmarks and profiles need no
        # 5-s window), and the answer stops the listening, so the live shot is taken at 2.5 s.
        wait_until(lambda: listen._samples > 22050 * 2.5 or bool(identified), 60, "listening")
        shot("listen-live")
        wait_until(lambda: bool(identified), 60, "identification")
        player.terminate()
        shot("listen-answer")
        window.close()
        return 0
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
