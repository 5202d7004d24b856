"""Microphone capture without Qt: a sounddevice InputStream whose callback only copies.

The callback (PortAudio's thread) copies each block into a ``RingBuffer`` and counts overflows;
everything else (resampling, features, display) happens in the reader (STYLE P1). Devices are
chosen and remembered by *name*, because PortAudio's indices change when hardware is plugged
in or out (STYLE P2). sounddevice is imported lazily so that a missing PortAudio library turns
into a readable ``CaptureError`` instead of an ImportError at start-up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from musicid_core.config import SAMPLE_RATE
from musicid_core.audio import sources
from musicid_core.audio.ringbuffer import RingBuffer
from musicid_core.errors import MusicIdError

PORTAUDIO_MISSING = (
    "the PortAudio library is not installed, so no microphone can be used "
    "(Debian/Ubuntu: sudo apt-get install libportaudio2). Identifying files still works."
)
NO_MICROPHONE = "no microphone (audio input device) was found; plug one in, or identify a recording file instead"


class CaptureError(MusicIdError):
    """The microphone cannot be used; the message says why and what to do."""


MICROPHONE = "microphone"
COMPUTER = "computer"


@dataclass(frozen=True)
class InputDevice:
    """An input to record from: a microphone, or this computer's sound (``kind`` COMPUTER).

    ``name`` is what people see and what is remembered; ``pulse_source`` names the PulseAudio
    monitor to open through ALSA's ``pulse`` device (``musicid_core.audio.sources``)."""

    index: int
    name: str
    channels: int
    default_samplerate: float
    is_default: bool = False
    kind: str = MICROPHONE
    pulse_source: str = ""


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise CaptureError(PORTAUDIO_MISSING) from None
    return sounddevice


def list_input_devices(refresh: bool = False) -> list[InputDevice]:
    """Microphones (the system default first), then this computer's sound sources.
    ``refresh`` re-scans (PortAudio caches the list)."""
    sd = _sounddevice()
    if refresh:
        try:  # re-initialise PortAudio so devices plugged in since start-up appear
            sd._terminate()
            sd._initialize()
        except Exception:  # noqa: BLE001 - a failed re-scan keeps the old list
            pass
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0]
        host_apis = [str(api["name"]) for api in sd.query_hostapis()]
    except Exception as exc:  # noqa: BLE001 - PortAudio errors come in several types
        raise CaptureError(f"the audio system could not list devices ({exc})") from None
    found = []
    for i, d in enumerate(devices):
        if int(d["max_input_channels"]) <= 0:
            continue
        name, api = str(d["name"]), host_apis[int(d.get("hostapi", 0))] if host_apis else ""
        kind = COMPUTER if sources.is_loopback_name(name, api) else MICROPHONE
        if kind == COMPUTER and not name.startswith(sources.COMPUTER_PREFIX):
            name = f"{sources.COMPUTER_PREFIX} ({name.replace('[Loopback]', '').strip()})"
        found.append(InputDevice(i, name, int(d["max_input_channels"]), float(d["default_samplerate"]),
                                 i == default_in, kind))
    pulse = next((d for d in found if d.name == sources.PULSE_DEVICE), None)
    if pulse is not None:
        taken = {d.name for d in found}
        for source, description in sources.pulse_monitors():
            label = sources.monitor_label(description)
            if label in taken:  # two outputs with one description: tell them apart by source name
                label = f"{label[:-1]}, {source})"
            taken.add(label)
            found.append(InputDevice(pulse.index, label, pulse.channels, pulse.default_samplerate,
                                     kind=COMPUTER, pulse_source=source))
    return sorted(found, key=lambda d: (d.kind != MICROPHONE, not d.is_default))


def find_device(name: Optional[str], devices: list[InputDevice]) -> Optional[InputDevice]:
    """The device called ``name``, or None (meaning: use the system default)."""
    return next((d for d in devices if d.name == name), None) if name else None


def choose_device(wanted: str, devices: list[InputDevice]) -> InputDevice:
    """For the command line: the exact name, else the one device whose name contains ``wanted``
    (case-insensitive; "computer" finds this computer's sound), or a PulseAudio source name; a clear error otherwise."""
    exact = find_device(wanted, devices)
    if exact is not None:
        return exact
    close = [d for d in devices if wanted.lower() in d.name.lower() or (d.pulse_source and wanted == d.pulse_source)]
    if len(close) == 1:
        return close[0]
    names = ", ".join(repr(d.name) for d in (close or devices)) or "none"
    what = "matches several devices" if close else "is not an input device"
    raise CaptureError(f"{wanted!r} {what}; choose one of: {names}")


def describe_stream_error(exc: BaseException) -> str:
    """Turn PortAudio's terse errors into something a person can act on."""
    text = str(exc)
    lowered = text.lower()
    if "permission" in lowered or "access" in lowered or "-9999" in lowered:
        return (
            "the microphone could not be opened: permission was refused or it is in use by another "
            f"program. Allow microphone access for MusicID in your system settings ({text})"
        )
    if "invalid device" in lowered or "no default input" in lowered or "-9996" in lowered:
        return NO_MICROPHONE
    return f"the microphone could not be opened ({text})"


StreamFactory = Callable[..., Any]


class Capture:
    """One input stream at ``sample_rate`` mono. ``read()`` returns the samples that arrived.

    ``stream_factory`` defaults to ``sounddevice.InputStream``; tests pass a fake with the same
    constructor keywords (samplerate, channels, dtype, device, blocksize, callback) and
    ``start``/``stop``/``close`` methods. If the device refuses ``sample_rate``, the stream opens
    at the device's own rate and is resampled (streaming, with soxr) on the reader's side.
    """

    def __init__(
        self,
        device: Optional[InputDevice] = None,
        sample_rate: int = SAMPLE_RATE,
        buffer_seconds: float = 30.0,
        stream_factory: Optional[StreamFactory] = None,
    ) -> None:
        self.device = device
        self.sample_rate = sample_rate
        self._stream_factory = stream_factory
        self._stream: Any = None
        self._input_rate = sample_rate
        self._buffer_seconds = buffer_seconds
        self._buffer = RingBuffer(int(buffer_seconds * sample_rate))
        self._resampler: Any = None
        self._overflows = 0
        self._lock = threading.Lock()

    @property
    def overflows(self) -> int:
        """Blocks PortAudio reported as overflowed (audio lost before it reached us)."""
        return self._overflows

    @property
    def dropped(self) -> int:
        return self._buffer.dropped

    @property
    def active(self) -> bool:
        return self._stream is not None

    def start(self) -> None:
        factory = self._stream_factory or _sounddevice().InputStream
        device = self.device.index if self.device is not None else None
        try:
            self._stream = self._open(factory, device, self.sample_rate)
            self._input_rate = self.sample_rate
        except CaptureError:
            raise
        except Exception as first:  # noqa: BLE001 - PortAudio raises PortAudioError/ValueError
            rate = self._device_rate(device)
            if rate is None or rate == self.sample_rate:
                raise CaptureError(describe_stream_error(first)) from None
            try:
                self._stream = self._open(factory, device, rate)
            except Exception as second:  # noqa: BLE001
                raise CaptureError(describe_stream_error(second)) from None
            self._input_rate = rate
            self._buffer = RingBuffer(int(self._buffer_seconds * rate))
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.sample_rate, 1, dtype="float32")
        try:
            self._stream.start()
        except Exception as exc:  # noqa: BLE001
            self.stop()
            raise CaptureError(describe_stream_error(exc)) from None

    def _open(self, factory: StreamFactory, device: Optional[int], rate: int) -> Any:
        with sources.pulse_source_env(self.device.pulse_source if self.device is not None else ""):
            return factory(samplerate=rate, channels=1, dtype="float32", device=device, blocksize=0,
                           callback=self._callback)

    def _device_rate(self, device: Optional[int]) -> Optional[int]:
        if self.device is not None:
            return int(self.device.default_samplerate)
        try:
            info = _sounddevice().query_devices(device, "input")
            return int(info["default_samplerate"])
        except Exception:  # noqa: BLE001
            return None

    def _callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """PortAudio thread: copy and count, nothing else."""
        if status and getattr(status, "input_overflow", False):
            self._overflows += 1
        self._buffer.write(indata[:, 0] if indata.ndim == 2 else indata)

    def read(self) -> np.ndarray:
        """Samples (mono float32 at ``sample_rate``) that arrived since the previous call."""
        samples = self._buffer.read()
        if self._resampler is not None and samples.size:
            samples = np.asarray(self._resampler.resample_chunk(samples), dtype=np.float32)
        return samples

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        for method in ("stop", "close"):
            try:
                getattr(stream, method)()
            except Exception:  # noqa: BLE001 - a vanished device may fail to stop; it is gone anyway
                pass
