"""The shortlist-recall benchmark's building blocks: recipes, the constants they set (and give
back), distractors' real songs, and the ranks it reads off the product's summary scan."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from benchmarks.shortlist_recall import Recipe, base_songs, ranks, recipe_in_force
from musicid_core import fingerprint, shortlist
from musicid_core.tonal_profile import QUANTISATION


def test_a_recipe_is_read_and_written_alike_and_a_bad_one_is_refused() -> None:
    assert Recipe.parse("12/4x6") == Recipe(12, 4, 6, True)
    assert Recipe.parse("16/8x4:raw") == Recipe(16, 8, 4, False)
    assert Recipe.parse("16/8x5@96") == Recipe(16, 8, 5, True, 96)
    assert [str(Recipe.parse(t)) for t in ("16/8x4:raw", "16/8x5@128:raw", "12/8x5")] == ["16/8x4:raw", "16/8x5@128:raw", "12/8x5"]
    with pytest.raises(argparse.ArgumentTypeError, match="BLOCKS/HOPxPARTS"):
        Recipe.parse("16x8/4")


def test_a_recipe_sets_the_shortlist_constants_only_while_it_runs() -> None:
    before = shortlist.SUMMARY_BLOCKS, shortlist.SUMMARY_HOP, shortlist.QUERY_PARTS, shortlist.without_steady_part
    query = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    with recipe_in_force(Recipe(4, 2, 3, steady_part_out=False)):
        assert (shortlist.SUMMARY_BLOCKS, shortlist.SUMMARY_HOP, shortlist.QUERY_PARTS) == (4, 2, 3)
        np.testing.assert_array_equal(shortlist.without_steady_part(query), query)
    assert (shortlist.SUMMARY_BLOCKS, shortlist.SUMMARY_HOP, shortlist.QUERY_PARTS, shortlist.without_steady_part) == before


def test_distractors_belong_to_the_real_song_they_were_made_from() -> None:
    assert base_songs(8, 3).tolist() == [0, 1, 2, 0, 1, 2, 0, 1]


def test_a_recording_of_a_song_ranks_it_first_and_counts_its_own_variants_above() -> None:
    rng = np.random.default_rng(1)
    bins = fingerprint.MAX_BIN - fingerprint.MIN_BIN

    def unit(rows: np.ndarray) -> np.ndarray:
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    real = [unit(rng.standard_normal((60, bins))) for _ in range(3)]
    copy_of_song_1 = real[1] + 0.01 * rng.standard_normal((60, bins))  # song 4 "derived from" song 1
    songs = real + [unit(rng.standard_normal((60, bins))), unit(copy_of_song_1)]
    stored = [np.clip(np.round(p * QUANTISATION), -127, 127).astype(np.int8) for p in songs]
    queries = [(1, real[1][10:50].astype(np.float32)), (2, real[2][5:45].astype(np.float32))]
    found, own = ranks(Recipe(16, 8, 5), stored, queries, real=3)
    assert found[1] == 0 and own[1] == 0  # song 2: first
    assert found[0] <= 1 and own[0] == found[0]  # song 1: at worst behind its own near-copy
