"""Logging bootstrap (STYLE P7): a rotating file in the user log dir, Qt messages included.

A GUI app usually has no terminal, so the file is the record; the console handler is added only
when there is a real stderr and we are not a frozen bundle. A native crash (a segmentation fault
in a C extension) never reaches Python's excepthook, so ``faulthandler`` writes every thread's
stack into the same file when one happens (issue 13: such crashes used to leave no trace).
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import platform
import sys
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

from musicid_core import __version__
from musicid_core.paths import log_dir as default_log_dir

LOG_FILE = "musicid-gui.log"
_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def setup_logging(folder: Optional[Path] = None, console: Optional[bool] = None) -> Path:
    """Configure the root logger; return the log file's path."""
    folder = Path(folder) if folder else default_log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_musicid", False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    file_handler = _CrashRecordingFileHandler(path, maxBytes=100_000, backupCount=5, encoding="utf-8")
    file_handler.setFormatter(formatter)
    file_handler._musicid = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if console is None:
        console = not getattr(sys, "frozen", False) and sys.stderr is not None
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        stream.setFormatter(formatter)
        stream._musicid = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    logging.captureWarnings(True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    qInstallMessageHandler(_qt_message)
    logging.getLogger("musicid").info(
        "MusicID %s starting (Python %s, %s)", __version__, platform.python_version(), platform.platform()
    )
    return path


class _CrashRecordingFileHandler(logging.handlers.RotatingFileHandler):
    """The log file, which is also where ``faulthandler`` writes a native crash's stacks; after a
    rollover the new file takes over that role (the old stream is closed)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._record_crashes()

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        super().doRollover()
        self._record_crashes()

    def _record_crashes(self) -> None:
        if self.stream is None:
            self.stream = self._open()
        faulthandler.enable(file=self.stream, all_threads=True)

    def close(self) -> None:
        if faulthandler.is_enabled():
            faulthandler.disable()  # never leave it pointing at a closed file
        super().close()


def _qt_message(kind: QtMsgType, context: object, message: str) -> None:
    logging.getLogger("qt").log(_QT_LEVELS.get(kind, logging.INFO), message)
