"""Training started from the API: the same background job, cancel and guarantees as the app's.

``TrainingControl`` is what the routes need. The headless server uses ``BackgroundTraining`` (one
thread, one run at a time, ``training.train.train`` with a cancel flag); the app passes a bridge to
its Training tab, so a run started from a phone *is* the app's run, with its progress and Cancel
button. Either way a cancelled or failed run leaves the previous model in use: ``train`` only
switches ``current.json`` after the new bundle is completely saved.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import Any, Callable, Optional, Protocol

from musicid_core.errors import MusicIdError, TrainingCancelled
from musicid_core.library import Library

log = logging.getLogger(__name__)


class TrainingBusy(MusicIdError):
    """A run is already in progress (409)."""


class TrainingControl(Protocol):
    def start(self, overrides: dict[str, Any]) -> None: ...
    def cancel(self) -> bool: ...
    def status(self) -> dict[str, Any]: ...


class TrainingStatus:
    """A thread-safe snapshot of one run, as the API reports it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"state": "idle", "message": "no training has run since the server started"}

    def update(self, **fields: Any) -> None:
        with self._lock:
            self._state.update({k: _finite(v) for k, v in fields.items()})

    def reset(self, **fields: Any) -> None:
        with self._lock:
            self._state = {k: _finite(v) for k, v in fields.items()}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def report_progress(self, p: Any) -> None:
        """A ``TrainProgress`` from the core."""
        self.update(stage=p.stage, fraction=round(float(p.fraction), 4), message=p.message, epoch=p.epoch,
                    epochs=p.epochs, eta_seconds=p.eta_seconds)

    def report_end(self, outcome: Any) -> None:
        """A ``TrainResult`` or the exception the run ended with."""
        if isinstance(outcome, TrainingCancelled):
            self.update(state="cancelled", message="training was cancelled; the previous model is still in use")
        elif isinstance(outcome, BaseException):
            self.update(state="failed", message=f"training failed: {outcome}")
        else:
            metrics = {k: v for k, v in outcome.metrics.items() if k in ("accuracy", "top5", "precision", "roc_auc")}
            self.update(state="done", fraction=1.0, bundle=outcome.bundle.name, metrics=metrics, stale=outcome.stale,
                        message=f"done in {outcome.seconds:.0f} s; recognition now uses the new model")


def training_options(base: Any, overrides: dict[str, Any]) -> Any:
    """``base`` TrainOptions with the API's few allowed fields replaced (already validated)."""
    allowed = {k: v for k, v in overrides.items() if k in ("arch", "epochs", "examples_per_song") and v is not None}
    return dataclasses.replace(base, **allowed)


class BackgroundTraining:
    """One training thread at a time for a headless server."""

    def __init__(self, library: Library, base_options: Any = None,
                 train_fn: Optional[Callable[..., Any]] = None) -> None:
        self.library = library
        self.base_options = base_options
        self._train_fn = train_fn
        self.status_report = TrainingStatus()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, overrides: dict[str, Any]) -> None:
        from training.train import TrainOptions

        with self._lock:
            if self.running():
                raise TrainingBusy("a training run is already in progress; cancel it or wait for it to finish")
            options = training_options(self.base_options or TrainOptions(), overrides)
            self._stop = threading.Event()
            self.status_report.reset(state="running", stage="starting", fraction=0.0, message="starting",
                                     arch=options.arch, epochs=options.epochs, started=time.time())
            self._thread = threading.Thread(target=self._run, args=(options, self._stop), name="musicid-training",
                                            daemon=True)
            self._thread.start()

    def cancel(self) -> bool:
        if not self.running():
            return False
        self._stop.set()
        self.status_report.update(state="cancelling", message="cancelling; the previous model stays in use")
        return True

    def status(self) -> dict[str, Any]:
        return self.status_report.snapshot()

    def wait(self, timeout: Optional[float] = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, options: Any, stop: threading.Event) -> None:
        from musicid_core.tfquiet import load_tensorflow

        try:
            load_tensorflow()
            train_fn = self._train_fn
            if train_fn is None:
                from training.train import train as train_fn
            result = train_fn(self.library, options, progress=self.status_report.report_progress,
                              should_stop=stop.is_set)
        except BaseException as exc:  # noqa: BLE001 - the outcome is reported through the API
            if not isinstance(exc, TrainingCancelled):
                log.error("training from the API failed", exc_info=exc)
            self.status_report.report_end(exc)
        else:
            self.status_report.report_end(result)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value
