"""The retraining budget per library size (training.budget) and the options it fills in."""

from __future__ import annotations

import pytest

from training.budget import Budget, default_budget


def test_small_libraries_keep_the_measured_200_x_6() -> None:
    assert default_budget(4) == default_budget(250) == Budget(200, 6)


def test_the_budget_shrinks_with_the_library_and_stays_bounded() -> None:
    assert default_budget(1000) == Budget(100, 5)
    assert default_budget(10_000) == Budget(40, 4)
    assert default_budget(50_000).examples_per_song == 40
    sizes = [10, 250, 500, 1000, 3500, 10_000, 50_000]
    per_song = [default_budget(n).examples_per_song * default_budget(n).epochs for n in sizes]
    assert per_song == sorted(per_song, reverse=True)
    totals = [default_budget(n).example_steps(n) for n in sizes]
    assert totals == sorted(totals)  # a bigger library still trains more in all


def test_a_widened_run_gets_about_half_the_epochs() -> None:
    assert [default_budget(n, warm_start=True).epochs for n in (57, 1000, 10_000)] == [3, 3, 2]
    assert default_budget(57, warm_start=True).examples_per_song == 200


def test_no_songs_has_no_budget() -> None:
    with pytest.raises(ValueError, match="at least one song"):
        default_budget(0)


def test_options_left_open_are_filled_in_and_chosen_ones_kept() -> None:
    from training.train import TrainOptions, resolved_options

    filled = resolved_options(TrainOptions(precision="float32"), 1000, warm_start=True)
    assert (filled.examples_per_song, filled.epochs, filled.precision) == (100, 3, "float32")
    chosen = resolved_options(TrainOptions(epochs=9, examples_per_song=30, precision="float32"), 1000, False)
    assert (chosen.examples_per_song, chosen.epochs) == (30, 9)
