"""Where MusicID keeps its data: the platformdirs user-data dir, unless told otherwise.

Precedence: an explicit ``--data-dir`` > ``MUSICID_DATA_DIR`` > ``platformdirs.user_data_dir``.
Tests and the GUI's tests point ``MUSICID_DATA_DIR`` at a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "musicid"
DATA_DIR_ENV = "MUSICID_DATA_DIR"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
