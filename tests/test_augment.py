"""The multi-noise augmentation really adds 5–20 noises at their gains on a +4 dB song."""

from __future__ import annotations

import numpy as np

from training.augment import MAX_NOISES, MIN_NOISES, NOISE_GAIN_DB, SONG_BOOST_DB, augment, noise_mix, rms


def _clips(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    # Independent white noises of different lengths and levels, some shorter than a fragment.
    return [(rng.standard_normal(int(rng.integers(20_000, 200_000))) * rng.uniform(0.01, 1)).astype(np.float32)
            for _ in range(count)]


def test_song_is_boosted_by_4_db_and_noise_is_exactly_the_rest() -> None:
    rng = np.random.default_rng(0)
    clips = _clips(30, rng)
    fragment = (0.2 * np.sin(np.arange(110_120) * 0.05)).astype(np.float32)
    mixed, draw = augment(fragment, clips, np.random.default_rng(7))
    # Replay the same draw to get the noise alone: mix - noise must be the fragment at +4 dB.
    replay = np.random.default_rng(7)
    replay.integers(MIN_NOISES, MAX_NOISES + 1)
    replay.integers(0, len(clips), size=len(draw.clip_indices))
    replay.uniform(*NOISE_GAIN_DB, size=len(draw.clip_indices))
    noise = noise_mix(clips, draw, fragment.size, float(rms(fragment)), replay)
    song_part = mixed - noise
    gain_db = 20 * np.log10(rms(song_part) / rms(fragment))
    assert abs(gain_db - SONG_BOOST_DB) < 0.01
    np.testing.assert_allclose(song_part, fragment * 10 ** (4 / 20), atol=1e-5)


def test_between_5_and_20_noises_each_at_a_gain_in_range() -> None:
    rng = np.random.default_rng(1)
    clips = _clips(40, rng)
    fragment = (0.1 * rng.standard_normal(110_120)).astype(np.float32)
    counts = []
    for seed in range(200):
        _, draw = augment(fragment, clips, np.random.default_rng(seed))
        counts.append(len(draw.clip_indices))
        assert np.all((draw.gains_db >= NOISE_GAIN_DB[0]) & (draw.gains_db <= NOISE_GAIN_DB[1]))
    assert min(counts) == MIN_NOISES and max(counts) == MAX_NOISES
    assert len(set(counts)) == MAX_NOISES - MIN_NOISES + 1  # every count in 5..20 occurs


def test_noise_energy_matches_the_drawn_gains() -> None:
    """Independent noises add in power: the mix's noise power is the sum of 10^(gain/10)."""
    rng = np.random.default_rng(2)
    clips = _clips(25, rng)
    fragment = (0.05 * rng.standard_normal(110_120)).astype(np.float32)
    for seed in range(20):
        mixed, draw = augment(fragment, clips, np.random.default_rng(seed))
        noise = mixed - fragment * 10 ** (SONG_BOOST_DB / 20)
        expected_power = rms(fragment) ** 2 * np.sum(10 ** (draw.gains_db / 10))
        measured_db = 10 * np.log10(rms(noise) ** 2 / expected_power)
        # Repeated clips are correlated and add more than in power; allow for that upward.
        assert -0.5 < measured_db < 3.5, (seed, measured_db)


def test_silent_noise_clip_adds_nothing_instead_of_dividing_by_zero() -> None:
    fragment = np.ones(110_120, dtype=np.float32) * 0.1
    mixed, _ = augment(fragment, [np.zeros(5000, dtype=np.float32)], np.random.default_rng(0))
    np.testing.assert_allclose(mixed, fragment * 10 ** (4 / 20), rtol=1e-6)
