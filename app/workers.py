"""One way to run work off the GUI thread (STYLE P4).

``run_task`` puts a callable on a ``QThreadPool``; its result, error and progress come back on
the GUI thread through queued signals of a ``QObject`` created (and so living) on the GUI thread.
Workers never touch widgets. Cancellation is cooperative: the callable receives a ``TaskState``
whose ``should_stop`` the core polls (STYLE P5); Python threads cannot be killed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

log = logging.getLogger(__name__)


class TaskState:
    """Shared between the GUI and one task: a cancel flag and throttled progress reporting."""

    def __init__(self, emit_progress: Callable[[Any], None], min_interval: float = 0.05) -> None:
        self._stop = threading.Event()
        self._emit = emit_progress
        self._min_interval = min_interval
        self._last = 0.0

    def request_stop(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def progress(self, value: Any, force: bool = False) -> None:
        """Forward ``value`` to the GUI at most every ``min_interval`` s (unless ``force``), so a
        fast loop cannot flood the event loop with queued signals."""
        now = time.monotonic()
        if force or now - self._last >= self._min_interval:
            self._last = now
            self._emit(value)


class _Signals(QObject):
    result = Signal(object)
    error = Signal(object)
    progress = Signal(object)
    finished = Signal()


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[TaskState], Any], signals: _Signals, state: TaskState) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._signals = signals
        self._state = state

    def run(self) -> None:
        try:
            result = self._fn(self._state)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI, never a dead thread
            if not isinstance(exc, Exception):
                log.error("task ended by %r", exc)
            self._signals.error.emit(exc)
        else:
            self._signals.result.emit(result)
            del result
        finally:
            self._fn = None  # PySide may keep this wrapper alive: do not let it keep the task's data
            self._signals.finished.emit()


class TaskHandle:
    """What ``run_task`` returns: cancel it, or ask whether it is still running."""

    def __init__(self, state: TaskState) -> None:
        self.state = state
        self.running = True

    def cancel(self) -> None:
        self.state.request_stop()


_alive: set[_Signals] = set()  # keeps each task's signal object alive until it has finished


def run_task(
    pool: QThreadPool,
    fn: Callable[[TaskState], Any],
    *,
    on_result: Optional[Callable[[Any], None]] = None,
    on_error: Optional[Callable[[BaseException], None]] = None,
    on_progress: Optional[Callable[[Any], None]] = None,
    on_finished: Optional[Callable[[], None]] = None,
    progress_interval: float = 0.05,
) -> TaskHandle:
    """Run ``fn(state)`` on ``pool``; the callbacks run on the GUI thread (call this from it)."""
    signals = _Signals()
    state = TaskState(signals.progress.emit, progress_interval)
    handle = TaskHandle(state)
    queued = Qt.ConnectionType.QueuedConnection
    # PySide keeps a connected Python slot alive for as long as it likes (past the sender's
    # deletion), and the slots hold the task's data. So the connections only reach the callbacks
    # through this dict, which is emptied when the task has finished: continuous listening leaked
    # every identified window (0.7 MB a second) before (benchmarks/listen_cost.py).
    slots: dict[str, Callable[..., None]] = {}
    if on_result is not None:
        slots["result"] = on_result
    slots["error"] = on_error if on_error is not None else (
        lambda exc: log.error("background task failed", exc_info=exc))
    if on_progress is not None:
        slots["progress"] = on_progress
    if on_finished is not None:
        slots["finished"] = on_finished

    def relay(name: str) -> Callable[[Any], None]:
        return lambda value: slots[name](value) if name in slots else None

    for name in ("result", "error", "progress"):
        if name in slots:
            getattr(signals, name).connect(relay(name), queued)

    def finished() -> None:
        handle.running = False
        _alive.discard(signals)
        try:
            if "finished" in slots:
                slots["finished"]()
        finally:
            slots.clear()
            signals.deleteLater()

    signals.finished.connect(lambda: finished(), queued)
    _alive.add(signals)
    pool.start(_Runnable(fn, signals, state))
    return handle


def new_pool(max_threads: int, name: str) -> QThreadPool:
    """A private pool; training gets one of size 1 so two retrains can never overlap."""
    pool = QThreadPool()
    pool.setMaxThreadCount(max_threads)
    pool.setObjectName(name)
    return pool
