"""Errors reach the person (STYLE P6): expected ones as specific messages, unexpected ones
through an excepthook that logs the traceback and shows a dialog naming the log folder.

``--no-crash-dialog`` (CI, tests) logs and carries on without a modal dialog.

A full, read-only or vanished data folder (``diskspace.StorageError``) gets the same dialog with
one more button, *Choose another data folder…*, when the main window has registered how to
switch folders (``set_data_folder_chooser``).
"""

from __future__ import annotations

import html
import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Callable, Optional

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from musicid_core.diskspace import StorageError
from musicid_core.errors import MusicIdError

log = logging.getLogger(__name__)
_choose_data_folder: Optional[Callable[[], None]] = None


def set_data_folder_chooser(chooser: Optional[Callable[[], None]]) -> None:
    """What *Choose another data folder…* in an error dialog does (the main window's chooser)."""
    global _choose_data_folder
    _choose_data_folder = chooser


def user_message(exc: BaseException) -> str:
    """One readable line for ``exc``: our own errors are written for people already."""
    if isinstance(exc, MusicIdError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "the computer ran out of memory; close other programs or use a smaller model"
    if isinstance(exc, OSError):
        target = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"{exc.strerror or exc}{target}"
    return f"an unexpected error happened ({type(exc).__name__}: {exc}); details are in the log"


def show_error(parent: Optional[QWidget], title: str, exc: BaseException | str) -> None:
    """A warning dialog for an expected failure (or a log line only, when dialogs are off)."""
    text = exc if isinstance(exc, str) else user_message(exc)
    if isinstance(exc, BaseException) and not isinstance(exc, MusicIdError):
        log.error("%s: %s", title, text, exc_info=exc)
    else:
        log.warning("%s: %s", title, text)
    if not CrashHandler.dialogs_enabled:
        return
    text = text[:1].upper() + text[1:]
    chooser = _choose_data_folder
    if not (isinstance(exc, StorageError) and exc.data_folder and chooser is not None):
        QMessageBox.warning(parent, title, text)
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Close, parent)
    choose = box.addButton("Choose another data folder…", QMessageBox.ButtonRole.ActionRole)
    box.exec()
    if box.clickedButton() is choose:
        chooser()


class CrashHandler:
    """``sys.excepthook`` for bugs: full traceback to the log, a readable dialog on screen."""

    dialogs_enabled = True

    def __init__(self, log_path: Path, dialogs: bool = True) -> None:
        self.log_path = log_path
        CrashHandler.dialogs_enabled = dialogs
        self._dialog_open = False
        self.count = 0

    def install(self) -> None:
        sys.excepthook = self

    def __call__(self, kind: type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
        self.count += 1
        log.critical("unhandled exception\n%s", "".join(traceback.format_exception(kind, value, tb)))
        if not CrashHandler.dialogs_enabled or self._dialog_open or QApplication.instance() is None:
            return
        self._dialog_open = True  # one dialog at a time: no storm of dialogs from a repeating error
        try:
            box = QMessageBox(QMessageBox.Icon.Critical, "MusicID ran into a problem", "")
            box.setTextFormat(box.textFormat().RichText)
            box.setText(
                f"<p>Something went wrong that MusicID did not expect:</p><p><b>{html.escape(str(value) or kind.__name__)}"
                f"</b></p><p>The details are in the log file:<br><code>{html.escape(str(self.log_path))}</code></p>"
                "<p>You can try to continue; if the problem repeats, restart MusicID.</p>"
            )
            box.addButton("Ignore and try to continue", QMessageBox.ButtonRole.AcceptRole)
            quit_button = box.addButton("Quit MusicID", QMessageBox.ButtonRole.DestructiveRole)
            box.exec()
            if box.clickedButton() is quit_button:
                QApplication.instance().exit(1)  # type: ignore[union-attr]
        finally:
            self._dialog_open = False
