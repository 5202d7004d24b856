"""The profile-aggregation benchmark's pooling rules: its "mean" must be the product's score, or
the other rules are compared against something the product does not do."""

from __future__ import annotations

import numpy as np

from benchmarks.profile_aggregation import PaddedLibrary
from musicid_core import tonal_profile as tp


def _unit_rows(rng: np.random.Generator, n: int, bins: int = 24) -> np.ndarray:
    rows = rng.normal(size=(n, bins)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_mean_rule_is_the_products_profile_score() -> None:
    rng = np.random.default_rng(3)
    songs = [_unit_rows(rng, n) for n in (30, 7, 50)]
    query = tp.without_steady_part(np.concatenate([songs[2][11:23], _unit_rows(rng, 4)]))
    product = tp.ProfileIndex.from_songs(songs)
    tp_before = tp.QUERY_STEADY_SHARE
    try:
        tp.QUERY_STEADY_SHARE = 0.0  # the query above has had its steady part taken out already
        expected = product.match_profiles(query).similarity
    finally:
        tp.QUERY_STEADY_SHARE = tp_before
    got = PaddedLibrary(songs).scores(query, ["mean"])["mean"]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_trimmed_mean_ignores_the_blocks_a_noise_covered() -> None:
    rng = np.random.default_rng(4)
    songs = [_unit_rows(rng, 40), _unit_rows(rng, 40)]
    query = np.concatenate([songs[0][5:13], -songs[0][13:21]])  # half the music, half its opposite
    scores = PaddedLibrary(songs).scores(query, ["mean", "top-0.5", "z"])
    assert scores["top-0.5"][0] > 0.99 > scores["mean"][0] + 0.5
    assert np.argmax(scores["top-0.5"]) == 0 and scores["z"].shape == (2,)


def test_a_swapped_side_keeps_its_music_and_takes_the_other_rooms() -> None:
    from benchmarks.by_source import SIDES
    from benchmarks.profile_variants import with_noise_of

    swapped = with_noise_of(SIDES["held-out"], SIDES["tuning"])
    assert swapped.enrolled_packages == SIDES["held-out"].enrolled_packages
    assert swapped.unknown_packages == SIDES["held-out"].unknown_packages
    assert swapped.noise_sources == SIDES["tuning"].noise_sources
    assert swapped.name not in SIDES  # its recordings are cached and seeded apart


def test_recordings_are_labelled_by_song_position_and_condition() -> None:
    from types import SimpleNamespace

    from benchmarks.profile_variants import truth_and_labels

    enrolled = [SimpleNamespace(song_id="a/1"), SimpleNamespace(song_id="a/2")]
    queries = {"song": np.array(["a/2", "b/9"]), "condition": np.array(["plain", "drift"]),
               "length": np.array([10, 3]), "snr": np.array([0, -5])}
    truth, labels = truth_and_labels(queries, enrolled)
    assert truth.tolist() == [1, -1] and labels.tolist() == ["plain 10-s +0 dB", "drift 3-s -5 dB"]
