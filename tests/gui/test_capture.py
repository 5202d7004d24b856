"""Qt-free capture pieces: the ring buffer, the Capture wrapper, and the live mel columns."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import FakeInputStream, fake_stream
from musicid_core.audio.capture import Capture, CaptureError, describe_stream_error
from musicid_core.audio.ringbuffer import RingBuffer
from musicid_core.config import DEFAULT_FEATURES
from musicid_core.features import mel_power


def test_ring_buffer_returns_what_arrived_in_order() -> None:
    ring = RingBuffer(8)
    ring.write(np.arange(3))
    ring.write(np.arange(3, 6))
    np.testing.assert_array_equal(ring.read(), np.arange(6))
    ring.write(np.arange(6, 13))  # wraps around
    np.testing.assert_array_equal(ring.read(), np.arange(6, 13))
    assert ring.read().size == 0 and ring.dropped == 0


def test_ring_buffer_drops_oldest_when_reader_falls_behind() -> None:
    ring = RingBuffer(5)
    ring.write(np.arange(4))
    ring.write(np.arange(4, 9))
    np.testing.assert_array_equal(ring.read(), np.arange(4, 9))
    assert ring.dropped == 4
    ring.write(np.arange(20))
    np.testing.assert_array_equal(ring.read(), np.arange(15, 20))


def test_capture_delivers_the_stream_unchanged() -> None:
    audio = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    capture = Capture(stream_factory=fake_stream(audio, speed=50))
    capture.start()
    got = []
    deadline = time.monotonic() + 5
    while sum(g.size for g in got) < audio.size and time.monotonic() < deadline:
        got.append(capture.read())
        time.sleep(0.01)
    capture.stop()
    np.testing.assert_array_equal(np.concatenate(got), audio)
    kwargs = FakeInputStream.instances[-1].kwargs
    assert kwargs["samplerate"] == DEFAULT_FEATURES.sample_rate and kwargs["channels"] == 1


def test_capture_falls_back_to_the_device_rate_and_resamples() -> None:
    from musicid_core.audio.capture import InputDevice

    seen = []

    def picky(**kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["samplerate"])
        if kwargs["samplerate"] != 44100:
            raise ValueError("Invalid sample rate [PaErrorCode -9997]")
        return FakeInputStream(np.ones(44100, dtype=np.float32) * 0.5, speed=50, **kwargs)

    capture = Capture(InputDevice(3, "picky", 2, 44100.0), stream_factory=picky)
    capture.start()
    time.sleep(0.3)
    out = capture.read()
    capture.stop()
    assert seen == [22050, 44100]
    assert 20000 < out.size <= 22050 and abs(float(np.median(out)) - 0.5) < 0.01


def test_capture_explains_a_refused_microphone() -> None:
    def refused(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Error opening InputStream: Permission denied")

    with pytest.raises(CaptureError, match="permission"):
        Capture(stream_factory=refused).start()
    assert "no microphone" in describe_stream_error(RuntimeError("Invalid device [PaErrorCode -9996]"))


def test_live_mel_matches_the_whole_recording_analysis() -> None:
    """Fed in uneven chunks, the display's columns equal the model's features of the whole signal."""
    from app.widgets.spectrogram_view import LiveMel

    audio = np.random.default_rng(1).standard_normal(22050 * 3).astype(np.float32) * 0.1
    live = LiveMel()
    position = 0
    for size in (100, 5000, 731, 20000, 1, 9000) * 20:
        live.feed(audio[position : position + size])
        position += size
        if position >= audio.size:
            break
    whole = mel_power(audio[:position])
    n = live.frames
    assert n > 100
    np.testing.assert_allclose(live.columns[:, -n:], whole[:, :n], rtol=2e-3, atol=1e-6)
