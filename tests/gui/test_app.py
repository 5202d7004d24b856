"""The application shell: main() start-up and its log, the crash handler, settings and geometry,
themes, tab shortcuts, the About box with the bundled data's licences, and the history file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtGui import QPalette
from PySide6.QtTest import QTest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app import about, theme
from app.errors import CrashHandler
from app.history import History


def test_main_starts_logs_and_honours_data_dir(tmp_path: Path) -> None:
    """The real entry point, in its own process (it owns the QApplication and the excepthook)."""
    logs = tmp_path / "logs"
    args = ["--no-crash-dialog", "--data-dir", str(tmp_path / "elsewhere"), "--log-dir", str(logs), "--quit-after", "0.5"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-m", "app", *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    text = (logs / "musicid-gui.log").read_text()
    assert "init finished" in text and str(tmp_path / "elsewhere") in text
    assert (tmp_path / "elsewhere").is_dir()


def test_crash_handler_logs_the_traceback_without_a_dialog(tmp_path: Path) -> None:
    from app.logging_setup import setup_logging

    log_file = setup_logging(tmp_path, console=False)
    handler = CrashHandler(log_file, dialogs=False)
    try:
        raise ValueError("boom in a slot")
    except ValueError as exc:
        handler(type(exc), exc, exc.__traceback__)
    text = log_file.read_text()
    assert "unhandled exception" in text and "boom in a slot" in text and "Traceback" in text


def test_geometry_and_tab_are_remembered(qtbot: Any, make_window: Any, data_dir: Path) -> None:
    window = make_window()
    window.resize(760, 660)
    size = (window.width(), window.height())
    assert size != (1100, 780)  # not the default
    QTest.keyClick(window.windowHandle(), Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.training_tab
    window.close()
    again = make_window()
    assert again.tabs.currentWidget() is again.training_tab
    assert (again.width(), again.height()) == size
    QTest.keyClick(again.windowHandle(), Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert again.tabs.currentWidget() is again.library_tab


def test_dark_and_light_themes_restyle_the_plots(qtbot: Any, make_window: Any, data_dir: Path) -> None:
    window = make_window()
    app = QApplication.instance()
    try:
        assert theme.apply_theme(app, "dark")
        assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
        background = window.listen_tab.spectrogram.plot.backgroundBrush().color()
        assert background.lightness() < 80
        assert not theme.apply_theme(app, "light")
        assert window.training_tab.loss_plot.backgroundBrush().color().lightness() > 180
    finally:
        theme.apply_theme(app, "light")


def test_about_box_shows_the_licences_of_bundled_data(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "resources" / "noise").mkdir(parents=True)
    (tmp_path / "resources" / "noise" / "LICENSE.md").write_text("# Noise\nrain.ogg: CC0, by Somebody\n")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "LICENSES.md").write_text("cafe.ogg: CC-BY 4.0, by Someone Else\n")
    monkeypatch.setattr(about, "resources_dir", lambda: tmp_path / "resources")
    dialog = about.AboutDialog(tmp_path / "data", tmp_path / "log.txt")
    qtbot.addWidget(dialog)
    text = dialog.text.toPlainText()
    assert "rain.ogg: CC0, by Somebody" in text and "CC-BY 4.0, by Someone Else" in text
    assert "Benchmark recordings" in text and str(tmp_path / "data") in text


def test_history_survives_a_restart_and_a_damaged_file(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.add("song1", 0.91, "match", "microphone")
    history.add("song3", 0.22, "unknown", "x.wav")
    again = History(tmp_path)
    assert [e.title for e in again.entries] == ["song3", "song1"]
    assert again.entries[0].display_answer == "Not in your library"
    (tmp_path / "history.json").write_text("{not json")
    assert History(tmp_path).entries == []
    assert (tmp_path / "history.damaged.json").exists()


def test_a_native_crash_leaves_its_stack_in_the_log(tmp_path: Path) -> None:
    """A segmentation fault never reaches the excepthook; faulthandler writes it into the log (issue 13)."""
    code = ("import faulthandler; from pathlib import Path; from app.logging_setup import setup_logging; "
            f"setup_logging(Path({str(tmp_path)!r}), console=False); faulthandler._sigsegv()")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode != 0
    text = (tmp_path / "musicid-gui.log").read_text()
    assert "MusicID" in text and "starting" in text  # the ordinary log lines come first
    assert "Fatal Python error: Segmentation fault" in text and 'File "<string>"' in text


def test_the_crash_record_follows_the_log_file_through_rotation(tmp_path: Path) -> None:
    import faulthandler
    import logging

    from app.logging_setup import setup_logging

    path = setup_logging(tmp_path, console=False)
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_musicid", False))
    handler.doRollover()  # type: ignore[attr-defined]
    assert faulthandler.is_enabled() and handler.stream.name == str(path)  # type: ignore[attr-defined]
    logging.getLogger().removeHandler(handler)
    handler.close()
    assert not faulthandler.is_enabled()
    faulthandler.enable()  # pytest's own crash reports again


def test_signal_emission_keeps_the_reference_counts_of_true_and_false() -> None:
    """PySide6 6.12.0's ``Signal.emit()`` dropped a reference to True on every call; on Python
    3.11 (bools are not immortal) the app aborted with "bool_dealloc" after a few thousand emits,
    about 2.5 minutes of listening (pyproject.toml excludes that version)."""
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        happened = Signal(object)

    emitter = Emitter()
    emitter.happened.connect(lambda value: None)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(500):
        emitter.happened.emit(1)
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert abs(after[0] - before[0]) < 50 and abs(after[1] - before[1]) < 50, (before, after)
