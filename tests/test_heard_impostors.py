"""The network's answers for the calibration impostors it never trained on: which recordings are
heard, what is kept of each answer, how songs map onto a library's order, and the stored form."""

from __future__ import annotations

import numpy as np
import pytest

from musicid_core.config import DEFAULT_FEATURES
from training import heard_impostors
from training.heard_impostors import HeardImpostors, hear

SECONDS = 6.0


def _recordings(clips: list[int]) -> list[tuple[int, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(clip, 0.1 * rng.standard_normal(int(SECONDS * DEFAULT_FEATURES.sample_rate)).astype(np.float32))
            for clip in clips]


def _sure_of(song: int, songs: int = 3) -> object:
    def predict(windows: np.ndarray) -> np.ndarray:
        assert windows.ndim == 4 and windows.shape[-1] == 1  # (n, mels, frames, 1), as the network takes
        out = np.full((len(windows), songs + 1), 0.05)  # the last column: "not in your library"
        out[:, song] = 1.0 - 0.05 * songs
        return out
    return predict


def test_only_recordings_of_never_trained_clips_are_heard() -> None:
    heard = hear(_sure_of(2), _recordings([0, 1, 4, 4, 5]), [0, 4], ["a", "b", "c"], DEFAULT_FEATURES, "recipe")
    assert heard.recordings == (0, 2, 3) and heard.recipe == "recipe"
    assert heard.songs[0][0] == "c" and heard.probabilities[0][0] == pytest.approx(0.85)


def test_songs_past_the_kept_ones_get_an_upper_bound_and_untrained_songs_the_neutral_share(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(heard_impostors, "TOP_SONGS", 1)
    heard = hear(_sure_of(1), _recordings([0]), [0], ["a", "b", "c"], DEFAULT_FEATURES)
    assert heard.songs == (("b",),) and heard.rest == (pytest.approx(0.05),)
    answers = heard.answers(["new", "c", "b"], ["a", "b", "c"], impostors=2)
    np.testing.assert_allclose(answers[0], [1 / 3, 0.05, 0.85])
    assert answers[1] is None  # a recording the network did not hear
    with pytest.raises(ValueError, match="among the 0 impostor"):
        heard.answers(["b"], ["b"], impostors=0)


def test_the_stored_form_reads_back_and_a_damaged_one_is_refused() -> None:
    heard = hear(_sure_of(0), _recordings([0, 0]), [0], ["a", "b", "c"], DEFAULT_FEATURES, "r")
    again = HeardImpostors.from_dict(heard.to_dict())
    assert again.recordings == heard.recordings and again.songs == heard.songs and again.recipe == "r"
    np.testing.assert_allclose(again.probabilities, heard.probabilities, atol=1e-6)
    damaged = heard.to_dict()
    damaged["rest"] = damaged["rest"][:1]
    with pytest.raises(ValueError, match="different lengths"):
        HeardImpostors.from_dict(damaged)
