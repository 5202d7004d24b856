"""Room and microphone effects, shared by training augmentation and the benchmark's simulated
recordings (``benchmarks/simulate.py``): a phone across a room hears the song reverberated and
through a small, coloured capsule, and training on that is a fair addition to the method's
multi-noise augmentation.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal


def room_impulse_response(
    sr: int, rt60: float, rng: np.random.Generator, *, drr_db: float | None = None, predelay_s: float = 0.0
) -> np.ndarray:
    """Synthetic room impulse response: a direct-path impulse plus an exponentially decaying noise tail.

    The tail decays by 60 dB over ``rt60`` seconds (Sabine's definition), is gently low-passed
    because air and furnishings absorb highs, and is weighted against the direct path by a
    direct-to-reverberant ratio (random 0–10 dB by default: a phone a few metres from a
    speaker). The result has unit energy so convolving keeps the overall level.
    """
    n = max(int(rt60 * sr), 1)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-3.0 * math.log(10.0) * t / rt60)
    tail = signal.sosfilt(signal.butter(1, min(0.45 * sr, 6000.0), "low", fs=sr, output="sos"), tail)
    drr = rng.uniform(0.0, 10.0) if drr_db is None else drr_db
    tail *= 10.0 ** (-drr / 20.0) / max(np.sqrt(np.sum(tail**2)), 1e-12)
    tail[0] = 0.0
    rir = np.concatenate([np.zeros(int(predelay_s * sr)), [1.0], tail])
    return (rir / np.sqrt(np.sum(rir**2))).astype(np.float64)


def apply_reverb(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve and keep the input length, so the excerpt stays aligned with its source."""
    return signal.fftconvolve(x, rir.astype(x.dtype, copy=False), mode="full")[: x.size]


def _peaking_sos(fc: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """RBJ-cookbook peaking biquad as one SOS row: a smooth bump or dip around ``fc``."""
    a = 10.0 ** (gain_db / 40.0)
    w = 2.0 * math.pi * fc / sr
    alpha = math.sin(w) / (2.0 * q)
    b = np.array([1 + alpha * a, -2 * math.cos(w), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * math.cos(w), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def phone_colouring(
    x: np.ndarray,
    sr: int,
    rng: np.random.Generator,
    *,
    highpass_hz: float | None = None,
    lowpass_hz: float | None = None,
    n_peaks: int = 2,
    max_peak_db: float = 5.0,
) -> np.ndarray:
    """A phone microphone: band limit (about 150 Hz – 7 kHz) plus a mild random EQ.

    Small capsules and voice-oriented processing cut bass and treble; the exact corners and a
    few resonances (±``max_peak_db`` dB peaks, log-uniform between 300 Hz and 5 kHz) differ
    from phone to phone, so they are drawn at random when not given.
    """
    hp = rng.uniform(100.0, 250.0) if highpass_hz is None else highpass_hz
    lp = rng.uniform(6000.0, 8000.0) if lowpass_hz is None else lowpass_hz
    lp = min(lp, 0.45 * sr)
    sos = [signal.butter(2, hp, "high", fs=sr, output="sos"), signal.butter(4, lp, "low", fs=sr, output="sos")]
    for _ in range(n_peaks):
        fc = math.exp(rng.uniform(math.log(300.0), math.log(min(5000.0, 0.4 * sr))))
        sos.append(_peaking_sos(fc, rng.uniform(-max_peak_db, max_peak_db), rng.uniform(0.7, 2.0), sr))
    return signal.sosfilt(np.concatenate(sos), x)
