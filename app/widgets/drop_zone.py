"""A drop target for files and folders, with visible feedback (STYLE P10).

Accepts only local paths that ``accepts(path)`` approves (audio files, folders, .zip…), always
as a copy (MusicID never moves the person's files), and returns from the drop at once: the
``dropped`` signal is emitted from the event loop's next turn, and the import itself runs in a
background task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QWidget


def local_paths(mime: QMimeData, accepts: Callable[[Path], bool]) -> list[str]:
    if not mime.hasUrls():
        return []
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return [str(p) for p in paths if accepts(p)]


class DropZone(QFrame):
    """A frame (holding any child widgets) that highlights while acceptable files hover over it."""

    dropped = Signal(list)

    def __init__(self, accepts: Callable[[Path], bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.accepts = accepts
        self.setAcceptDrops(True)
        self.setObjectName("dropZone")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._set_highlight(False)

    def _set_highlight(self, on: bool) -> None:
        self.setProperty("hovering", on)
        self.setStyleSheet(
            "#dropZone { border: 2px dashed palette(highlight); border-radius: 6px; background: palette(alternate-base); }"
            if on
            else "#dropZone { border: 1px solid palette(mid); border-radius: 6px; }"
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if local_paths(event.mimeData(), self.accepts):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self._set_highlight(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._set_highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._set_highlight(False)
        paths = local_paths(event.mimeData(), self.accepts)
        if not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        QTimer.singleShot(0, lambda: self.dropped.emit(paths))
