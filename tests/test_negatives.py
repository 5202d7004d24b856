"""The "not in your library" class's own material: library songs at another speed."""

from __future__ import annotations

import numpy as np

from musicid_core.config import SAMPLE_RATE
from training.dataset import DISGUISED_CLIPS, TONE_CLIPS, unknown_clips
from training.noise_bank import SPEED_CHANGES, disguised_songs


def dominant_hz(clip: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(clip * np.hanning(clip.size)))
    return float(np.fft.rfftfreq(clip.size, 1 / SAMPLE_RATE)[np.argmax(spectrum)])


def sine(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.1 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_disguised_song_is_moved_to_another_pitch_by_a_speed_change() -> None:
    song = sine(440.0, 8.0)
    clips = disguised_songs([song], count=5, seconds=4.0, rng=np.random.default_rng(1))
    assert len(clips) == 1  # never more than there are songs
    allowed = {round(440.0 * down / up) for up, down in SPEED_CHANGES}
    assert round(dominant_hz(clips[0])) in allowed
    assert clips[0].dtype == np.float32
    assert abs(clips[0].size - 4.0 * SAMPLE_RATE) <= 0.26 * 4.0 * SAMPLE_RATE


def test_disguised_songs_are_seeded_and_drawn_from_different_songs() -> None:
    songs = [sine(hz, 6.0) for hz in (200.0, 300.0, 500.0, 700.0)]
    first = disguised_songs(songs, 3, 2.0, np.random.default_rng(7))
    again = disguised_songs(songs, 3, 2.0, np.random.default_rng(7))
    assert len(first) == 3
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert len({round(dominant_hz(c)) for c in first}) == 3


def test_unknown_class_holds_negatives_silence_tones_and_disguised_songs() -> None:
    length = 5 * SAMPLE_RATE
    negatives = [sine(1000.0, 6.0) for _ in range(4)]
    songs = [sine(200.0 + 10 * k, 10.0) for k in range(DISGUISED_CLIPS + 5)]
    clips = unknown_clips(negatives, songs, length, np.random.default_rng(0))
    silent = [c for c in clips if not c.any()]
    assert len(silent) == 2
    assert len(clips) == len(negatives) + len(silent) + TONE_CLIPS + DISGUISED_CLIPS
