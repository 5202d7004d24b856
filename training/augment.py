"""The multi-noise augmentation of the method, in numpy.

A training example is a ~5 s song fragment raised by +4 dB with 5–20 ambient-noise segments
overlaid, each at its own random gain. Gains are relative to the fragment's own RMS (before the
boost), so the mix covers the same range of signal-to-noise ratios whether a song is mastered loud
or quiet: with the defaults a single clip sits 6–24 dB under the music and the sum of all of them
lands around 0 dB SNR, as in a noisy room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

SONG_BOOST_DB = 4.0
NOISE_ONLY_RMS = 0.05
"""Reference level for noise-only examples (an all-zero fragment), whose own RMS is 0."""
MIN_NOISES = 5
MAX_NOISES = 20
NOISE_GAIN_DB = (-24.0, -6.0)
_EPS = 1e-8


@dataclass(frozen=True)
class NoiseDraw:
    """Which noise segments were laid over a fragment, and how loud (recorded for tests)."""

    clip_indices: np.ndarray
    gains_db: np.ndarray


def rms(x: np.ndarray, axis: int | None = -1) -> np.ndarray:
    return np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=axis))


def noise_segment(clip: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample stretch of ``clip``; short clips are looped to fill it."""
    clip = np.asarray(clip)
    if clip.size >= length:
        start = int(rng.integers(0, clip.size - length + 1))
        return np.asarray(clip[start : start + length], dtype=np.float32)
    repeats = -(-length // clip.size)
    start = int(rng.integers(0, clip.size))
    return np.tile(np.asarray(clip, dtype=np.float32), repeats + 1)[start : start + length]


def draw_noises(n_clips: int, rng: np.random.Generator) -> NoiseDraw:
    """Pick 5–20 clips (with replacement when the bank is small) and a gain for each."""
    count = int(rng.integers(MIN_NOISES, MAX_NOISES + 1))
    return NoiseDraw(
        clip_indices=rng.integers(0, n_clips, size=count),
        gains_db=rng.uniform(*NOISE_GAIN_DB, size=count),
    )


def noise_mix(
    clips: Sequence[np.ndarray], draw: NoiseDraw, length: int, reference_rms: float, rng: np.random.Generator
) -> np.ndarray:
    """Sum of the drawn segments, each scaled to ``reference_rms`` × its gain."""
    segments = np.stack([noise_segment(clips[i], length, rng) for i in draw.clip_indices])
    levels = rms(segments)
    scale = np.where(levels > _EPS, reference_rms / np.maximum(levels, _EPS), 0.0) * 10.0 ** (draw.gains_db / 20.0)
    return (scale.astype(np.float32) @ segments).astype(np.float32)


def augment(
    fragment: np.ndarray, clips: Sequence[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, NoiseDraw]:
    """Boost the fragment by +4 dB and overlay a fresh multi-noise mix; returns (mix, draw)."""
    fragment = np.asarray(fragment, dtype=np.float32)
    draw = draw_noises(len(clips), rng)
    reference = float(rms(fragment)) or NOISE_ONLY_RMS
    noise = noise_mix(clips, draw, fragment.size, reference, rng)
    boosted = fragment * np.float32(10.0 ** (SONG_BOOST_DB / 20.0))
    return boosted + noise, draw
