"""A fixed-size float32 ring buffer between the audio callback and the GUI.

The PortAudio callback runs on a real-time thread and must never wait for the GUI: it only
copies its block in here (STYLE P1). The GUI drains whatever arrived since its last visit on a
timer. If the reader falls behind by more than the capacity, the oldest samples are dropped and
counted, rather than blocking the writer or growing without bound.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Single writer, single reader; both sides take a short lock around a copy."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._data = np.zeros(capacity, dtype=np.float32)
        self._capacity = capacity
        self._written = 0  # samples ever written
        self._read = 0  # samples ever handed to the reader (or dropped)
        self._dropped = 0
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def dropped(self) -> int:
        """Samples lost because the reader fell more than ``capacity`` behind."""
        return self._dropped

    @property
    def available(self) -> int:
        with self._lock:
            return min(self._written - self._read, self._capacity)

    def write(self, samples: np.ndarray) -> None:
        block = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._lock:
            if block.size > self._capacity:
                self._dropped += block.size - self._capacity
                block = block[-self._capacity :]
            start = self._written % self._capacity
            first = min(block.size, self._capacity - start)
            self._data[start : start + first] = block[:first]
            self._data[: block.size - first] = block[first:]
            self._written += block.size

    def read(self) -> np.ndarray:
        """Everything written since the previous read (a copy), oldest first."""
        with self._lock:
            pending = self._written - self._read
            if pending > self._capacity:
                self._dropped += pending - self._capacity
                pending = self._capacity
            start = (self._written - pending) % self._capacity
            end = start + pending
            if end <= self._capacity:
                out = self._data[start:end].copy()
            else:
                out = np.concatenate((self._data[start:], self._data[: end - self._capacity]))
            self._read = self._written
            return out

    def clear(self) -> None:
        with self._lock:
            self._read = self._written = self._dropped = 0
