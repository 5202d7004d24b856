"""Errors written for the person using MusicID, not for a programmer.

Every message should say *what* went wrong, *which* file or item, and, where there is one,
the fix. The command line prints ``str(error)`` on one line; the GUI shows it in a dialog.
"""

from __future__ import annotations

from pathlib import Path


class MusicIdError(Exception):
    """Base class for every expected failure; anything else is a bug."""


class AudioError(MusicIdError):
    """An audio file could not be used; names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class RecordingTooShortError(MusicIdError):
    """A recording is shorter than one analysis window."""


class LibraryError(MusicIdError):
    """The song/noise library on disk is missing something or is inconsistent."""


class ModelError(MusicIdError):
    """No usable model bundle (missing, damaged, or made for other feature settings)."""


class TrainingCancelled(MusicIdError):
    """Training stopped because the person asked; the previous model is still in place."""
