"""The multi-noise augmentation of the method, in numpy.

A training example is a ~5 s song fragment raised by +4 dB with 5–20 ambient-noise segments
overlaid, each at its own random gain. Gains are relative to the fragment's own RMS (before the
boost), so the mix covers the same range of signal-to-noise ratios whether a song is mastered loud
or quiet: with the defaults a single clip sits 6–24 dB under the music and the sum of all of them,
against the boosted song, lands at +3 to +11 dB SNR (5th–95th percentile, median +5.5).
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
    """Sum of the drawn segments, each scaled to ``reference_rms`` × its gain.

    Accumulates in place (one segment in memory at a time) with BLAS dot products for the
    levels: this runs once per training example, tens of thousands of times per training."""
    total = np.zeros(length, dtype=np.float32)
    gains = 10.0 ** (draw.gains_db / 20.0)
    for clip_index, gain in zip(draw.clip_indices, gains):
        segment = noise_segment(clips[clip_index], length, rng)
        level = float(np.sqrt(np.dot(segment, segment) / length))
        if level > _EPS:
            total += np.float32(reference_rms * gain / level) * segment
    return total


def augment(
    fragment: np.ndarray, clips: Sequence[np.ndarray], rng: np.random.Generator, room_loudness_db: float = 0.0
) -> tuple[np.ndarray, NoiseDraw]:
    """Boost the fragment by +4 dB and overlay a fresh multi-noise mix; returns (mix, draw).

    With ``room_loudness_db`` 0 this is the method's augmentation exactly; otherwise every noise
    is that much louder (or quieter). ``augment_in_room`` draws it and adds reverb and a phone
    microphone around the mix."""
    fragment = np.asarray(fragment, dtype=np.float32)
    draw = draw_noises(len(clips), rng)
    reference = (float(rms(fragment)) or NOISE_ONLY_RMS) * 10.0 ** (room_loudness_db / 20.0)
    noise = noise_mix(clips, draw, fragment.size, reference, rng)
    boosted = fragment * np.float32(10.0 ** (SONG_BOOST_DB / 20.0))
    return boosted + noise, draw


REVERB_PROBABILITY = 0.5
MICROPHONE_PROBABILITY = 0.5
RT60_RANGE = (0.2, 0.8)
ROOM_LOUDNESS_DB = (-5.0, 8.0)
"""A per-example shift of the whole noise mix. The method's gains alone give SNRs of about
+3 to +11 dB (5th–95th percentile), so a 0 dB room was never heard in training; the shift
spreads them over about −3 to +12 dB (median +4), which covers a loud room."""


def augment_in_room(
    fragment: np.ndarray, clips: Sequence[np.ndarray], rng: np.random.Generator, sample_rate: int
) -> np.ndarray:
    """``augment`` in a room of random loudness (``ROOM_LOUDNESS_DB``) plus, each half of the time,
    room reverb on the music (before the noise, which is already a room recording) and a phone
    microphone's band limit and colouring on the mix."""
    from training.room import apply_reverb, phone_colouring, room_impulse_response

    fragment = np.asarray(fragment, dtype=np.float32)
    if rng.random() < REVERB_PROBABILITY and fragment.any():
        rir = room_impulse_response(sample_rate, float(rng.uniform(*RT60_RANGE)), rng)
        fragment = apply_reverb(fragment, rir).astype(np.float32)
    mixed, _ = augment(fragment, clips, rng, room_loudness_db=float(rng.uniform(*ROOM_LOUDNESS_DB)))
    if rng.random() < MICROPHONE_PROBABILITY:
        mixed = phone_colouring(mixed, sample_rate, rng).astype(np.float32)
    return mixed
