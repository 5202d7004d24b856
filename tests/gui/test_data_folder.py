"""Issue 18 in the app: a full, read-only or vanished data folder is shown in the error dialog,
which offers to choose another data folder; the window then reopens on it and remembers it."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog

from app import errors
from app.main_window import OPEN_WINDOWS
from musicid_core.diskspace import StorageError, storage_error


def _full_disk(folder: Path) -> StorageError:
    error = storage_error(OSError(errno.ENOSPC, "No space left on device", str(folder / "songs" / "x.npy")),
                          "importing x.wav", folder)
    assert error is not None
    return error


def test_the_error_dialog_offers_another_data_folder(qtbot: Any, make_window: Any, data_dir: Path, tmp_path: Path,
                                                     monkeypatch: Any) -> None:
    window = make_window()
    other = tmp_path / "other-disk"
    other.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other))
    errors.CrashHandler.dialogs_enabled = True  # this test answers the dialog itself
    seen: list[str] = []

    def click_choose() -> None:
        box = QApplication.activeModalWidget()
        seen.append(box.text())  # type: ignore[union-attr]
        next(b for b in box.buttons() if "another data folder" in b.text()).click()  # type: ignore[union-attr]

    QTimer.singleShot(200, click_choose)
    with qtbot.waitSignal(window.data_folder_switched, timeout=10000) as switched:
        errors.show_error(window, "Import failed", _full_disk(data_dir))
    errors.CrashHandler.dialogs_enabled = False
    assert seen and "is full" in seen[0] and str(data_dir) in seen[0]
    successor = switched.args[0]
    qtbot.addWidget(successor)
    assert successor.library.root == other.resolve() and successor.isVisible() and not window.isVisible()
    assert window.settings.data_folder() == str(other.resolve())
    assert successor in OPEN_WINDOWS
    successor.close()
    OPEN_WINDOWS.remove(successor)


def test_a_folder_that_cannot_be_used_keeps_the_current_one(qtbot: Any, make_window: Any, data_dir: Path,
                                                            tmp_path: Path) -> None:
    window = make_window()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert window.switch_data_folder(blocker) is None  # the error is shown (logged: dialogs are off)
    assert window.isVisible() and window.library.root == data_dir.resolve()
    assert window.settings.data_folder() != str(blocker)


def test_a_data_folder_that_cannot_be_opened_at_start_offers_another(tmp_path: Path, monkeypatch: Any) -> None:
    from app.main import open_library
    from app.settings import Settings
    from musicid_core.library import Library

    stuck, other = tmp_path / "restored-read-only", tmp_path / "other"
    stuck.mkdir()
    other.mkdir()
    real_init = Library.__init__

    def read_only_for_stuck(self: Library, root: Any = None, **kwargs: Any) -> None:
        if Path(root) == stuck:
            raise OSError(errno.EROFS, "Read-only file system", str(stuck / ".lock"))
        real_init(self, root, **kwargs)

    monkeypatch.setattr(Library, "__init__", read_only_for_stuck)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other))
    errors.CrashHandler.dialogs_enabled = True
    seen: list[str] = []

    def click_choose() -> None:
        box = QApplication.activeModalWidget()
        seen.append(box.text())  # type: ignore[union-attr]
        next(b for b in box.buttons() if "another data folder" in b.text()).click()  # type: ignore[union-attr]

    QTimer.singleShot(200, click_choose)
    try:
        library = open_library(stuck, Settings())
    finally:
        errors.CrashHandler.dialogs_enabled = False
    assert seen and "read-only disk" in seen[0] and str(stuck) in seen[0]
    assert library is not None and library.root == other
    assert Settings().data_folder() == str(other)


def test_a_full_disk_during_import_and_training_is_shown_and_the_app_keeps_running(
    qtbot: Any, make_window: Any, trained_dir: Path, tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    import training.train
    from musicid_core.library import Library

    window = make_window()
    songs_before = window.library_tab.songs_table.rowCount()

    def full_import(self: Library, paths: Any, progress: Any = None, should_stop: Any = None, on_added: Any = None) -> Any:
        raise _full_disk(self.root).noting("0 songs imported before it were kept")

    monkeypatch.setattr(Library, "add_songs", full_import)
    window.library_tab.add_songs([str(tmp_path / "new.wav")])
    qtbot.waitUntil(lambda: not window.library_tab.busy, timeout=10000)
    assert any("Import failed" in r.message and "is full" in r.message for r in caplog.records)
    assert window.library_tab.progress_label.text() == "Import stopped"
    assert window.library_tab.songs_table.rowCount() == songs_before

    def full_training(library: Library, *args: Any, **kwargs: Any) -> Any:
        raise _full_disk(library.root)

    monkeypatch.setattr(training.train, "train", full_training)
    with qtbot.waitSignal(window.training_tab.training_finished, timeout=60000) as finished:
        window.training_tab.start_training()
    assert isinstance(finished.args[0], StorageError)
    label = window.training_tab.stage_label.text()
    assert label.startswith("Training failed: ") and "is full" in label, label
    qtbot.waitUntil(window.training_tab.train_button.isEnabled, timeout=10000)  # ready for another try
    assert window.isVisible()
