"""Recognition requests queue on ONE worker thread that holds the shared model.

The event loop never decodes or runs the network: a request becomes a job on a bounded queue
and its handler awaits the job's future. A full queue answers 503 with Retry-After at once
instead of letting latency grow without bound. The model comes from a provider callable: the
app passes its ``ModelService.recognizer`` (the model already loaded for Listen), the headless
server a ``CurrentModel``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Optional

from musicid_core.recognizer import Recognizer

log = logging.getLogger(__name__)
RecognizerProvider = Callable[[], Recognizer]


class QueueFull(Exception):
    pass


@dataclass
class _Job:
    fn: Callable[[], Any]
    future: Future
    queued_at: float


class RecognitionWorker:
    """One thread; ``submit`` returns a Future whose result is ``(value, queue_seconds)``."""

    def __init__(self, queue_size: int) -> None:
        self._queue: queue.Queue[Optional[_Job]] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="musicid-recognition", daemon=True)
        self._thread.start()
        self.average_seconds = 0.5

    def submit(self, fn: Callable[[], Any]) -> Future:
        job = _Job(fn, Future(), time.monotonic())
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull from None
        return job.future

    def retry_after(self) -> float:
        """Seconds until the queue has room again, roughly."""
        return max(1.0, self._queue.qsize() * self.average_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            waited = time.monotonic() - job.queued_at
            started = time.monotonic()
            try:
                value = job.fn()
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to its request
                job.future.set_exception(exc)
            else:
                job.future.set_result((value, waited))
            self.average_seconds = 0.8 * self.average_seconds + 0.2 * (time.monotonic() - started)
