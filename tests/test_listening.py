"""ListeningSession without Qt or a model: a scripted "recogniser" that names whatever a
stream's seconds are labelled with, so the policy (refinement, early stop, votes, silence,
boundaries, generations) is tested on its own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musicid_core.config import DEFAULT_FEATURES
from musicid_core.listening import ContinuousListening, SingleListening
from musicid_core.models.store import SongLabel
from musicid_core.recognizer import Identification, Match

SR = DEFAULT_FEATURES.sample_rate
SONGS = {name: SongLabel(name, name, f"{name}.wav") for name in ("a", "b", "c", "d")}


def result(title: str | None, agreement: float = 1.0, margin: int | None = 20) -> Identification:
    """A match for ``title``, or "unknown" when it is None."""
    top = SONGS[title or "d"]
    others = [s for s in SONGS.values() if s is not top]
    matches = [Match(top, 0.9)] + [Match(s, 0.1 / len(others)) for s in others]
    return Identification("match" if title else "unknown", matches, 5, agreement, 0.0, margin)


class Script:
    """Plays the part of the recogniser over a stream labelled second by second: a window is
    named after the label that fills most of it (silence and "?" are unknown)."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.calls = 0
        self.end = 0.0  # stream seconds at the end of the next identified window

    def stream(self) -> np.ndarray:
        rng = np.random.default_rng(0)
        parts = [np.zeros(SR, np.float32) if lab == "-" else (0.1 * rng.standard_normal(SR)).astype(np.float32)
                 for lab in self.labels]
        return np.concatenate(parts)

    def identify(self, audio: np.ndarray) -> Identification:
        self.calls += 1
        start = self.end - audio.size / SR
        seconds = [self.labels[int(t)] for t in np.arange(start, self.end, 1.0) if int(t) < len(self.labels)]
        seconds = [s for s in seconds if s != "-"]
        top = max(set(seconds), key=seconds.count) if seconds else "?"
        return result(None if top == "?" else top)


def run(session: ContinuousListening, script: Script, chunk_s: float = 0.1) -> list:
    audio = script.stream()
    answers = []
    step = int(chunk_s * SR)
    for start in range(0, audio.size, step):
        script.end = min(audio.size, start + step) / SR
        answers += session.feed(audio[start : start + step])
    return answers + session.stop()


def test_single_listen_refines_then_answers_early_when_two_clear_answers_agree() -> None:
    calls: list[float] = []

    def identify(audio: np.ndarray) -> Identification:
        calls.append(audio.size / SR)
        return result("b")

    session = SingleListening(identify, max_seconds=20)
    answers = []
    for _ in range(200):
        answers += session.feed(np.full(SR // 10, 0.1, np.float32))
        if session.done:
            break
    kinds = [a.kind for a in answers]
    assert kinds == ["refined", "refined", "final"] and answers[-1].early
    assert answers[-1].identification.best.song.title == "b"
    assert calls[0] >= DEFAULT_FEATURES.min_recording_samples / SR and calls[1] - calls[0] == pytest.approx(1.0, abs=0.11)
    assert session.feed(np.zeros(SR, np.float32)) == []  # done: nothing more


def test_single_listen_without_a_clear_answer_identifies_everything_at_the_limit() -> None:
    answers = []
    session = SingleListening(lambda audio: result("a", agreement=0.5, margin=None), max_seconds=7)
    while not session.done:
        answers += session.feed(np.full(SR // 4, 0.1, np.float32))
    assert answers[-1].kind == "final" and not answers[-1].early
    assert answers[-1].seconds == pytest.approx(7.0)
    assert [a.kind for a in answers].count("refined") >= 1


def test_single_listen_too_short_and_errors() -> None:
    session = SingleListening(lambda audio: result("a"), max_seconds=10)
    session.feed(np.full(SR * 2, 0.1, np.float32))
    assert [a.kind for a in session.stop()] == ["too_short"]

    def broken(audio: np.ndarray) -> Identification:
        raise ValueError("no model")

    session = SingleListening(broken, max_seconds=6)
    answers = session.feed(np.full(SR * 6, 0.1, np.float32))
    assert [a.kind for a in answers] == ["error"] and "no model" in str(answers[0].error)


def test_a_result_of_an_older_generation_is_ignored() -> None:
    session = SingleListening(max_seconds=20)
    session.push(np.full(SR * 6, 0.1, np.float32))
    old = session.take_request()
    assert old is not None and not old.final
    assert session.take_request() is None  # one request in flight at a time
    session.reset()
    assert session.complete(old, result("a")) == []
    session.push(np.full(SR * 6, 0.1, np.float32))
    request = session.take_request()
    assert [a.kind for a in session.complete(request, result("a"))] == ["refined"]


def test_stop_overtakes_a_running_refinement() -> None:
    session = SingleListening(max_seconds=20)
    session.push(np.full(SR * 6, 0.1, np.float32))
    refinement = session.take_request()
    session.stop_nowait()
    final = session.take_request()
    assert final is not None and final.final
    assert session.complete(refinement, result("a")) == []
    assert [a.kind for a in session.complete(final, result("b"))] == ["final"]


def timeline(session: ContinuousListening) -> list[tuple[str, float, float]]:
    return [(e.title or "?", e.started, e.ended) for e in session.timeline]


def test_continuous_lists_each_song_once_with_its_boundaries() -> None:
    labels = ["a"] * 20 + ["b"] * 20 + ["-"] * 4 + ["c"] * 20
    script = Script(labels)
    session = ContinuousListening(script.identify, k=3, n=4)
    answers = run(session, script)
    got = timeline(session)
    assert [t for t, _, _ in got] == ["a", "b", "c"], got
    for (_, start, end), (want_start, want_end) in zip(got, [(0, 20), (20, 40), (44, 64)]):
        assert abs(start - want_start) <= 1.5 and abs(end - want_end) <= 1.5, got
    started = [a.entry.title for a in answers if a.kind == "started"]
    ended = [a.entry.title for a in answers if a.kind == "ended"]
    assert started == ended == ["a", "b", "c"]
    assert script.calls < 64  # nothing identified during the silence; at most one per second


def test_odd_answers_do_not_make_entries_and_unknown_is_said_once() -> None:
    labels = ["a"] * 12 + ["?"] * 15 + ["a"] * 12
    script = Script(labels)
    flicker = {"n": 0}

    def noisy(audio: np.ndarray) -> Identification:
        flicker["n"] += 1
        if flicker["n"] % 5 == 0:
            return result("c")  # a wrong answer now and then: must never be listed
        return script.identify(audio)

    session = ContinuousListening(noisy, k=3, n=4)
    run(session, script)
    got = timeline(session)
    assert [t for t, _, _ in got] == ["a", "?", "a"], got


def test_answers_serialise_to_json() -> None:
    script = Script(["a"] * 12)
    session = ContinuousListening(script.identify, source="test source")
    answers = run(session, script)
    entry = next(a for a in answers if a.kind == "ended")
    data = json.loads(json.dumps(entry.to_json(session.clock_start)))
    assert data["verdict"] == "match" and data["matches"][0]["title"] == "a"
    assert data["event"] == "ended" and data["started_s"] == 0.0 and data["ended_s"] == pytest.approx(12.0, abs=0.3)
    assert data["source"] == "test source" and data["started"] <= data["ended"] and data["time"]


def test_continuous_skips_silence_entirely() -> None:
    script = Script(["-"] * 30)
    session = ContinuousListening(script.identify)
    run(session, script)
    assert script.calls == 0 and session.timeline == []


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        ContinuousListening(k=4, n=3)
    with pytest.raises(ValueError):
        ContinuousListening(window_s=2.0)
