"""Qt side of microphone capture: owns a ``musicid_core.audio.capture.Capture`` and drains it.

The PortAudio callback only fills a ring buffer; a ``QTimer`` here (every 30 ms, STYLE P1)
takes what arrived and emits it on the GUI thread, with its level for the meter. Repeated
overflow warnings are throttled, as Friture does.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from musicid_core.audio.capture import Capture, CaptureError, InputDevice, StreamFactory, list_input_devices

log = logging.getLogger(__name__)
DRAIN_MS = 30


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS (−120 for silence)."""
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(-120.0, 20.0 * np.log10(max(rms, 1e-6)))


class AudioBridge(QObject):
    audio = Signal(object)  # np.ndarray of new samples at the model's sample rate
    level = Signal(float)  # dBFS of the latest chunk

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.list_devices: Callable[..., list[InputDevice]] = list_input_devices
        self.stream_factory: Optional[StreamFactory] = None  # None: sounddevice.InputStream
        self._capture: Optional[Capture] = None
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)
        self._last_warning = 0.0
        self._overflows = 0

    @property
    def active(self) -> bool:
        return self._capture is not None

    def start(self, device: Optional[InputDevice]) -> None:
        """Open the microphone; raises ``CaptureError`` with a readable reason."""
        self.stop()
        capture = Capture(device, stream_factory=self.stream_factory)
        capture.start()
        self._capture = capture
        self._overflows = 0
        self._timer.start()
        log.info("listening on %s", device.name if device else "the system default input")

    def drain(self) -> None:
        capture = self._capture
        if capture is None:
            return
        samples = capture.read()
        if capture.overflows != self._overflows and time.monotonic() - self._last_warning > 5:
            self._last_warning = time.monotonic()
            log.warning("audio input overflowed %d times (the system is busy)", capture.overflows)
            self._overflows = capture.overflows
        if samples.size:
            self.audio.emit(samples)
            self.level.emit(level_dbfs(samples))

    def stop(self) -> None:
        self._timer.stop()
        capture, self._capture = self._capture, None
        if capture is not None:
            self.drain_final(capture)
            capture.stop()

    def drain_final(self, capture: Capture) -> None:
        """Hand over what is still in the buffer before the stream closes."""
        samples = capture.read()
        if samples.size:
            self.audio.emit(samples)


__all__ = ["AudioBridge", "CaptureError", "level_dbfs"]
