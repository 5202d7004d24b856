"""Log-mel windows: the single feature function of MusicID.

Training turns each ~5 s fragment into exactly one window with ``recording_windows``, and
recognition slides over a longer recording with the same function, so the two cannot disagree:
a fragment of a recording and the matching window of the recording differ only in the first and
last two frames (librosa centres its frames and pads the edges).

Each window is ``power_to_db(ref=max)`` of *that window*, as the method prescribes, which also
makes the features independent of the recording's loudness.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.errors import RecordingTooShortError


@lru_cache(maxsize=4)
def mel_filterbank(settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """librosa's Slaney mel filterbank, (n_mels, 1 + n_fft // 2), cached: it costs ~10 ms."""
    import librosa

    return librosa.filters.mel(sr=settings.sample_rate, n_fft=settings.n_fft, n_mels=settings.n_mels).astype(
        np.float32
    )


def mel_power(audio: np.ndarray, settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """Mel power spectrogram, identical to ``librosa.feature.melspectrogram`` with these settings.

    ``audio`` may be 1-D (one signal) or 2-D (a batch of equal-length signals); the result is
    (..., n_mels, frames). Batching lets dataset building run one STFT call per batch.
    """
    import librosa

    spectrum = librosa.stft(
        np.asarray(audio, dtype=np.float32), n_fft=settings.n_fft, hop_length=settings.hop_length
    )
    power = np.abs(spectrum) ** 2
    if power.ndim == 2:
        # One signal: a plain matrix product, bit-identical to the einsum below (which does the
        # same product) without its few milliseconds of planning per call, which the live
        # spectrogram paid ten times a second.
        return mel_filterbank(settings) @ power
    return np.einsum("mf,...ft->...mt", mel_filterbank(settings), power, optimize=True)


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


def recording_windows(audio: np.ndarray, settings: FeatureSettings = DEFAULT_FEATURES) -> np.ndarray:
    """All sliding log-mel windows of a recording, shape (n_windows, n_mels, window_frames).

    Raises ``RecordingTooShortError`` when the recording is shorter than one window; we refuse
    rather than pad, because padding with silence puts the model outside what it was trained on.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError("recording_windows expects one mono signal")
    if audio.size < settings.window_samples:
        raise RecordingTooShortError(
            f"the recording is {audio.size / settings.sample_rate:.1f} s long; "
            f"at least {settings.window_samples / settings.sample_rate:.1f} s is needed"
        )
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
