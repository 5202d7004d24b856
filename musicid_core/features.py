"""Log-mel windows: the single feature function of MusicID.

Training turns each ~5 s fragment into exactly one window with ``recording_windows``, and
recognition slides over a longer recording with the same function, so the two cannot disagree:
a fragment of a recording and the matching window of the recording differ only in the first and
last two frames (librosa centres its frames and pads the edges).

Each window is ``power_to_db(ref=max)`` of *that window*, as the method prescribes, which also
makes the features independent of the recording's loudness.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from musicid_core.config import DEFAULT_FEATURES, MIN_RECORDING_SECONDS, FeatureSettings
from musicid_core.errors import RecordingTooShortError


@lru_cache(maxsize=4)
def mel_filterbank(settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """librosa's Slaney mel filterbank, (n_mels, 1 + n_fft // 2), cached: it costs ~10 ms."""
    import librosa

    return librosa.filters.mel(sr=settings.sample_rate, n_fft=settings.n_fft, n_mels=settings.n_mels).astype(
        np.float32
    )


def mel_power(audio: np.ndarray, settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """Mel power spectrogram, ``librosa.feature.melspectrogram`` with these settings (to float32 rounding).

    ``audio`` may be 1-D (one signal) or 2-D (a batch of equal-length signals); the result is
    (..., n_mels, frames). Batching lets dataset building run one STFT call per batch.
    """
    import librosa

    spectrum = librosa.stft(
        np.asarray(audio, dtype=np.float32), n_fft=settings.n_fft, hop_length=settings.hop_length
    )
    power = np.abs(spectrum) ** 2
    if power.ndim == 2:
        # One signal: a plain matrix product, the einsum below's product (to float32 rounding)
        # without its few milliseconds of planning per call, which the live spectrogram paid ten
        # times a second.
        return mel_filterbank(settings) @ power
    # The spectrum first, as librosa.feature.melspectrogram writes it ("...ft,mf->...mt"): the same
    # numbers (bit for bit on Intel, within a few float32 ulps where the BLAS kernels round
    # otherwise, as on AMD EPYC), and ~3x faster than the filterbank first, whose plan copied the
    # (non-contiguous) STFT output before the product (7.6 -> 2.5 ms per training fragment).
    return np.einsum("...ft,mf->...mt", power, mel_filterbank(settings), optimize=True)


def to_db_window(power: np.ndarray, settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """``librosa.power_to_db(power, ref=np.max, top_db)`` per window, vectorised over leading axes."""
    amin = 1e-10
    log_spec = 10.0 * np.log10(np.maximum(power, amin))
    ref = 10.0 * np.log10(np.maximum(power.max(axis=(-2, -1), keepdims=True), amin))
    db = log_spec - ref
    return np.maximum(db, -settings.top_db).astype(np.float32)


def window_starts(n_frames: int, settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """First frame of every sliding window (step ``step_frames``) that fits in ``n_frames``."""
    if n_frames < settings.window_frames:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_frames - settings.window_frames + 1, settings.step_frames, dtype=np.int64)


def recording_length_problem(n_samples: int, settings: FeatureSettings = DEFAULT_FEATURES) -> str | None:
    """Why a recording of ``n_samples`` is too short to answer, or None. The length is given to the
    nearest hundredth of a second, but rounded down where rounding would reach the minimum, so
    2.999 s never reads as the 3.00 s that is needed."""
    if n_samples >= settings.min_recording_samples:
        return None
    seconds = round(n_samples / settings.sample_rate, 2)
    if seconds >= MIN_RECORDING_SECONDS:
        seconds = math.floor(100 * n_samples / settings.sample_rate) / 100
    return f"the recording is {seconds:.2f} s long; at least {MIN_RECORDING_SECONDS:.2f} s is needed"


def check_recording_length(n_samples: int, settings: FeatureSettings = DEFAULT_FEATURES) -> None:
    """Raise ``RecordingTooShortError`` for a recording under ``MIN_RECORDING_SECONDS``."""
    problem = recording_length_problem(n_samples, settings)
    if problem is not None:
        raise RecordingTooShortError(problem)


def looped_to(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """``audio`` repeated from its start until it is ``n_samples`` long (unchanged if longer).

    How the network sees a recording shorter than its window: music that keeps playing forwards,
    with one seam, rather than silence (a level the model never heard at the end of a window, and
    which per-window dB scaling would make the loudest thing in it) or time run backwards
    (reflection). Looping and reflecting ranked alike on short demo recordings
    (``benchmarks/short.py``). Leaving the network out (landmarks and profiles alone) lost one
    4.97-s recording of 64 its first place, and throws away the one check that knows what a song
    sounds like: by itself it ranked 70 % (0 dB) and 89 % (+5 dB) of the 3-s recordings first."""
    audio = np.asarray(audio)
    return audio if audio.size >= n_samples else np.resize(audio, n_samples)


def recording_windows(audio: np.ndarray, settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """All sliding log-mel windows of a recording, shape (n_windows, n_mels, window_frames).

    A recording from ``MIN_RECORDING_SECONDS`` up to one window long gives one window of the
    recording looped (``looped_to``) to a training fragment's length; a shorter one raises
    ``RecordingTooShortError`` with its length.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError("recording_windows expects one mono signal")
    check_recording_length(audio.size, settings)
    if audio.size < settings.window_samples:
        audio = looped_to(audio, settings.fragment_samples)
    power = mel_power(audio, settings)
    starts = window_starts(power.shape[-1], settings)
    windows = np.stack([power[:, s : s + settings.window_frames] for s in starts])
    return to_db_window(windows, settings)


def fragment_windows(fragments: np.ndarray, settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """One window per training fragment, (batch, n_mels, window_frames), by the same code path."""
    power = mel_power(fragments, settings)[..., : settings.window_frames]
    if power.shape[-1] != settings.window_frames:
        raise ValueError(f"fragments give {power.shape[-1]} frames, expected {settings.window_frames}")
    return to_db_window(power, settings)
