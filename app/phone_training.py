"""Training asked for by a phone is the Training tab's own run.

The server's threads never touch widgets: ``start`` and ``cancel`` are queued to the GUI thread,
which sets the tab's choices and presses its buttons, so the run shows its progress and Cancel in
the tab and has the tab's guarantee (a cancelled run leaves the previous model in use). The tab's
signals keep a thread-safe status for ``GET /api/v1/train``.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from app.training_tab import TrainingTab
from musicid_server.training_jobs import TrainingBusy, TrainingStatus

_BUSY = "a training run is already in progress; cancel it or wait for it to finish"


class _Reply:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Exception | None = None


class TabTraining(QObject):
    _start_requested = Signal(object, object)
    _cancel_requested = Signal(object)

    def __init__(self, tab: TrainingTab) -> None:
        super().__init__()  # created on the GUI thread, so queued slots run there
        self.tab = tab
        self.status_report = TrainingStatus()
        queued = Qt.ConnectionType.QueuedConnection
        self._start_requested.connect(self._start_on_gui, queued)
        self._cancel_requested.connect(self._cancel_on_gui, queued)
        tab.training_started.connect(lambda: self.status_report.reset(state="running", stage="starting",
                                                                      fraction=0.0, message="starting"))
        tab.progress_reported.connect(self.status_report.report_progress)
        tab.training_finished.connect(self.status_report.report_end)

    # ----- called from server threads
    def start(self, overrides: dict[str, Any]) -> None:
        reply = self._ask(self._start_requested, overrides)
        if reply.error is not None:
            raise reply.error

    def cancel(self) -> bool:
        reply = self._ask(self._cancel_requested)
        return reply.error is None

    def status(self) -> dict[str, Any]:
        return self.status_report.snapshot()

    def _ask(self, signal: Any, *args: Any) -> _Reply:
        reply = _Reply()
        signal.emit(*args, reply)
        if not reply.done.wait(10):
            reply.error = TrainingBusy("the app did not answer; try again")
        return reply

    # ----- on the GUI thread
    def _start_on_gui(self, overrides: dict[str, Any], reply: _Reply) -> None:
        try:
            if self.tab.running:
                raise TrainingBusy(_BUSY)
            if "arch" in overrides:
                index = self.tab.arch_combo.findData(overrides["arch"])
                if index < 0:
                    raise TrainingBusy(f"the app does not offer the architecture {overrides['arch']!r}")
                self.tab.arch_combo.setCurrentIndex(index)
            if "epochs" in overrides:
                self.tab.epochs_spin.setValue(int(overrides["epochs"]))
            if "examples_per_song" in overrides:
                self.tab.examples_spin.setValue(int(overrides["examples_per_song"]))
            self.tab.start_training()
        except Exception as exc:  # noqa: BLE001 - goes back to the request as its answer
            reply.error = exc
        finally:
            reply.done.set()

    def _cancel_on_gui(self, reply: _Reply) -> None:
        if self.tab.running:
            self.tab.cancel_training()
            self.status_report.update(state="cancelling", message="cancelling; the previous model stays in use")
        else:
            reply.error = TrainingBusy("no training run is in progress")
        reply.done.set()
