"""Logging bootstrap (STYLE P7): a rotating file in the user log dir, Qt messages included.

A GUI app usually has no terminal, so the file is the record; the console handler is added only
when there is a real stderr and we are not a frozen bundle.
"""

from __future__ import annotations

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
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=100_000, backupCount=5, encoding="utf-8")
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


def _qt_message(kind: QtMsgType, context: object, message: str) -> None:
    logging.getLogger("qt").log(_QT_LEVELS.get(kind, logging.INFO), message)
