"""The answer's detail line: the network's windows said as counts."""

from __future__ import annotations

from app.widgets.results_view import network_phrase


def test_one_padded_window_that_names_another_song_reads_as_a_count() -> None:
    assert network_phrase(1, 0.0) == "0 of 1 network window names it"
    assert network_phrase(5, 0.6) == "3 of 5 network windows name it"


def test_no_model_says_the_recording_checks_answered_alone() -> None:
    assert network_phrase(0, 1.0) == "by the recording checks alone (no model trained yet)"
