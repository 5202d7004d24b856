"""Files shipped with MusicID (``resources/``), found relative to the installed package.

``resources/`` sits beside ``musicid_core/`` in the source tree and is installed as package data
(see pyproject.toml); PyInstaller bundles put it next to the code as well.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def default_noise_dir() -> Path:
    return resources_dir() / "noise"


def default_negatives_dir() -> Path:
    return resources_dir() / "negatives"


def demo_dir() -> Path:
    return resources_dir() / "demo"
