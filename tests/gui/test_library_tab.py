"""Library tab: enroll by a simulated drop, bad files listed with reasons, search, remove,
noise packs from a .zip, and the "model out of date" banner."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

import synth


def simulate_drop(widget: Any, paths: list[Path]) -> None:
    """Drive the widget's real drag-enter and drop handlers with file URLs, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = widget.rect().center()
    enter = QDragEnterEvent(QPoint(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the drop zone refused the drag"
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    assert drop.isAccepted()


def test_drop_folder_enrolls_songs_and_lists_bad_files(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    folder = tmp_path / "album"
    for i in range(3):
        synth.write(folder / f"track{i}.wav", synth.song(i, seconds=6.0))
    (folder / "broken.wav").write_bytes(b"this is not audio at all" * 10)
    synth.write(folder / "short.wav", synth.song(5, seconds=1.0))
    tab = make_window().library_tab
    with qtbot.waitSignal(tab.import_finished, timeout=120000) as blocker:
        simulate_drop(tab.song_drop, [folder])
    report = blocker.args[0]
    assert sorted(s.title for s in report.added) == ["track0", "track1", "track2"]
    assert sorted(tab.visible_titles()) == ["track0", "track1", "track2"]
    log_lines = [tab.import_log.item(i).text() for i in range(tab.import_log.count())]
    broken = [line for line in log_lines if "broken.wav" in line]
    assert len(broken) == 1 and broken[0].startswith("✘") and len(broken[0]) > 20 and str(folder) not in broken[0]
    assert any("short.wav" in line and "at least" in line for line in log_lines), log_lines
    assert tab.songs_table.item(0, 2).text() == "0:06"
    assert tab.songs_table.item(0, 3).text().startswith("track")
    assert "No model yet" in tab.model_status.text()

    tab.search.setText("track1")
    assert tab.visible_titles() == ["track1"]
    tab.search.clear()

    # dropping the same files again reports duplicates, adds nothing
    with qtbot.waitSignal(tab.import_finished, timeout=120000) as blocker:
        simulate_drop(tab.song_drop, [folder / "track0.wav"])
    assert not blocker.args[0].added and len(blocker.args[0].duplicates) == 1

    row = next(r for r in range(tab.songs_table.rowCount()) if tab.songs_table.item(r, 0).text() == "track2")
    tab.songs_table.selectRow(row)
    tab.remove_selected()
    assert sorted(tab.visible_titles()) == ["track0", "track1"]
    assert sorted(s.title for s in tab.library.songs()) == ["track0", "track1"]


def test_drop_on_the_window_enrolls_songs(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    song = synth.write(tmp_path / "dropped.flac", synth.song(7, seconds=6.0))
    window = make_window()
    with qtbot.waitSignal(window.library_tab.import_finished, timeout=120000):
        simulate_drop(window, [song])
    assert window.tabs.currentWidget() is window.library_tab
    assert window.library_tab.visible_titles() == ["dropped"]


def test_noise_pack_from_a_zip(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    archive = tmp_path / "cafe.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(2):
            z.write(synth.write(tmp_path / f"n{i}.wav", synth.noise(i, seconds=2.0)), f"cafe/n{i}.wav")
        z.writestr("cafe/readme.txt", "not audio")
    tab = make_window().library_tab
    tab.pack_name.clear()  # blank: the pack is named after the .zip
    with qtbot.waitSignal(tab.import_finished, timeout=120000) as blocker:
        simulate_drop(tab.noise_drop, [archive])
    assert len(blocker.args[0].added) == 2
    assert tab.noise_table.rowCount() == 1
    assert [tab.noise_table.item(0, c).text() for c in range(2)] == ["cafe", "2"]
    tab.noise_table.selectRow(0)
    tab.remove_selected_pack()
    assert tab.noise_table.rowCount() == 0


def test_model_status_says_when_the_model_is_out_of_date(qtbot: Any, trained_dir: Path, make_window: Any, tmp_path: Path) -> None:
    window = make_window()
    tab = window.library_tab
    assert "up to date" in tab.model_status.text()
    with qtbot.waitSignal(tab.import_finished, timeout=120000):
        tab.add_songs([str(synth.write(tmp_path / "new song.wav", synth.song(9, seconds=6.0)))])
    assert "out of date" in tab.model_status.text()
    assert "Out of date" in window.training_tab.model_summary.text()
