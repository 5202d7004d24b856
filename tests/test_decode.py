"""Every supported format, rate, width and channel count decodes to 22050 Hz mono float32;
bad files give an error that names the file and the reason."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicid_core.audio.decode import load_audio
from musicid_core.errors import AudioError

SECONDS = 3.0


def _tone(rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(SECONDS * rate)) / rate
    mono = 0.4 * np.sin(2 * np.pi * 440 * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def _assert_decoded(audio: np.ndarray) -> None:
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size / 22050 - SECONDS) < 0.1
    spectrum = np.abs(np.fft.rfft(audio))
    peak_hz = np.argmax(spectrum) * 22050 / audio.size
    assert abs(peak_hz - 440) < 5


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_wav_any_width_and_rate(tmp_path: Path, subtype: str, rate: int) -> None:
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(rate, channels=2), rate, subtype=subtype)
    _assert_decoded(load_audio(path))


@pytest.mark.parametrize(("suffix", "fmt", "subtype"), [
    (".flac", "FLAC", "PCM_16"), (".ogg", "OGG", "VORBIS"), (".opus", "OGG", "OPUS"), (".mp3", "MP3", "MPEG_LAYER_III"),
])
def test_compressed_formats_through_libsndfile(tmp_path: Path, suffix: str, fmt: str, subtype: str) -> None:
    rate = 48000 if subtype == "OPUS" else 44100
    path = tmp_path / f"tone{suffix}"
    sf.write(path, _tone(rate, channels=2), rate, format=fmt, subtype=subtype)
    _assert_decoded(load_audio(path))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_m4a_aac_through_ffmpeg(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    sf.write(wav, _tone(44100), 44100)
    m4a = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "96k", str(m4a)], check=True)
    _assert_decoded(load_audio(m4a))


def _expect_error(path: Path, reason: str, **kwargs: object) -> None:
    with pytest.raises(AudioError) as info:
        load_audio(path, **kwargs)  # type: ignore[arg-type]
    assert str(path) in str(info.value)
    assert reason in info.value.reason, info.value.reason


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.wav", "no such file")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_text_file_with_audio_extension(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are my shopping notes, not audio\n" * 50)
    _expect_error(path, "not")


def test_truncated_flac(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    sf.write(path, _tone(44100), 44100, format="FLAC")
    path.write_bytes(path.read_bytes()[:60])
    _expect_error(path, "")


def test_silent_file(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(44100 * 6), 44100)
    _expect_error(path, "silent")


def test_too_short_for_a_song(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, _tone(22050)[:22050], 22050)
    _expect_error(path, "at least 5.0 s is needed", min_seconds=5.0)


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "picture.xyz"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    _expect_error(path, "not")
