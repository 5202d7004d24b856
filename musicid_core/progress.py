"""The two plain callables long operations take, so the core needs no Qt.

``progress(fraction, message)`` reports 0..1 and a short human-readable line;
``should_stop()`` is polled between files, batches and epochs to cancel cleanly.
"""

from __future__ import annotations

from typing import Callable, Optional

ProgressFn = Callable[[float, str], None]
ShouldStopFn = Callable[[], bool]


def no_progress(fraction: float, message: str) -> None:
    """Default ``progress`` that ignores reports."""


def never_stop() -> bool:
    return False


def or_default(progress: Optional[ProgressFn], should_stop: Optional[ShouldStopFn]) -> tuple[ProgressFn, ShouldStopFn]:
    return progress or no_progress, should_stop or never_stop
