"""End to end with the real audio stack: PulseAudio null sink → its monitor as the default
source → PortAudio (sounddevice) → the Listen tab; ``paplay`` plays a noisy excerpt of an
enrolled song and the app must rank that song first."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

import pulse
import synth
from conftest import noisy_song


def test_listen_identifies_a_song_played_through_pulseaudio(
    qtbot: Any, trained_dir: Path, make_window: Any, pulse_server: pulse.PulseServer, tmp_path: Path
) -> None:
    wav = synth.write(tmp_path / "excerpt.wav", noisy_song(3, seconds=14.0, seed=7))
    window = make_window()
    tab = window.listen_tab
    assert tab.listen_button.isEnabled(), tab.mic_message.text()
    tab.seconds_spin.setValue(9)
    player = pulse_server.play(wav)
    try:
        time.sleep(0.3)
        with qtbot.waitSignal(tab.identified, timeout=60000) as blocker:
            qtbot.mouseClick(tab.listen_button, Qt.MouseButton.LeftButton)
            assert tab.listening, tab.mic_message.text()
    finally:
        player.terminate()
        player.wait(5)
    result = blocker.args[0]
    assert result.best.song.title == "song3", [(m.song.title, round(m.score, 3)) for m in result.matches]
    assert tab.results.ranked_titles()[0] == "song3"
    # The live display saw the audio arrive: most of the 3 s (153 frames) a listen hears before its
    # first answer (the display may trail the recogniser by a few blocks); a clear song is answered
    # early, so not necessarily the whole 9 s.
    assert tab.spectrogram.mel.frames >= 100


def _check_timeline(got: list[tuple[str, float, float]], truth: list[tuple[str, float, float]], lag: float) -> None:
    """Names in order, each once; every boundary within 3 s (``lag``: when playback began on the
    listener's clock)."""
    assert [title for title, _, _ in got] == [title for title, _, _ in truth], (got, truth)
    for (title, start, end), (_, want_start, want_end) in zip(got, truth):
        assert abs(start - lag - want_start) <= 3.0, (title, start - lag, want_start, got)
        assert abs(end - lag - want_end) <= 3.0, (title, end - lag, want_end, got)


def _sequence(tmp_path: Path) -> tuple[Path, list[tuple[str, float, float]]]:
    audio, truth = synth.listening_sequence(np.random.default_rng(1))
    # a second of silence first: the listener is running before the music starts
    lead = np.zeros(synth.SR, np.float32)
    truth = [(title, start + 1.0, end + 1.0) for title, start, end in truth]
    return synth.write(tmp_path / "sequence.wav", np.concatenate((lead, audio))), truth


def test_keep_listening_to_this_computers_sound_makes_a_timeline(
    qtbot: Any, trained_dir: Path, make_window: Any, pulse_server: pulse.PulseServer, tmp_path: Path
) -> None:
    """Three library songs (two back to back, a gap of silence, a stranger) played into the null
    sink and heard through its monitor, listed as this computer's sound."""
    wav, truth = _sequence(tmp_path)
    window = make_window()
    tab = window.listen_tab
    tab.refresh_devices(rescan=True)
    monitor = next(name for name in tab.input_names() if name.startswith("This computer's sound"))
    tab.device_combo.setCurrentIndex(tab.device_combo.findData(monitor))
    assert tab.selected_device().pulse_source == f"{pulse.SINK}.monitor"
    tab.continuous_box.setChecked(True)
    ended: list[Any] = []
    tab.timeline_changed.connect(lambda entry: ended.append(entry) if entry.ended is not None else None)
    tab.start_listening()
    assert tab.listening, tab.mic_message.text()
    qtbot.waitUntil(lambda: tab.session.now > 0.5, timeout=20000)
    lag = tab.session.now  # stream seconds already heard when playback starts
    player = pulse_server.play(wav)
    try:
        qtbot.waitUntil(lambda: player.poll() is not None, timeout=90000)  # the event loop keeps running
        qtbot.wait(2500)  # the last song's end is a second of silence after playback
        assert len(ended) >= 3, ([(e.title, e.started, e.ended) for e in tab.session.timeline], tab.session.now,
                                 tab.results.headline.text(), tab.results.detail.text())
    finally:
        player.terminate()
    tab.stop_listening()
    timeline = tab.session.timeline
    got = [(e.title or "?", e.started, e.ended) for e in timeline]
    _check_timeline(got, truth, lag)
    rows = tab.timeline.rows()
    assert [r[2].split("  (")[0] for r in rows] == ["song0", "song1", "Not in your library", "song2"]
    assert all(r[1] != "playing…" for r in rows)
    history = [e for e in window.history.entries if e.started]
    assert [e.display_answer for e in reversed(history)] == ["song0", "song1", "Not in your library", "song2"]
    assert all(e.ended and e.source == monitor for e in history)


def test_musicid_listen_continuous_json_through_pulseaudio(
    trained_dir: Path, pulse_server: pulse.PulseServer, tmp_path: Path
) -> None:
    """The same sequence through ``musicid listen --continuous --json`` in a subprocess, stopped
    by SIGINT (Ctrl+C). The listener's clock is the subprocess's, so times are compared from the
    first song's onset (the silence before it makes that onset sharp)."""
    import json
    import os
    import signal
    import subprocess
    import sys

    wav, truth = _sequence(tmp_path)
    env = {**os.environ, **pulse_server.env, "MUSICID_DATA_DIR": str(trained_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "musicid_cli", "listen", "--continuous", "--json", "--device", "computer"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2],
    )
    try:
        waited = time.monotonic()
        line = ""
        while "listening to" not in line:  # the model is loaded and warmed up first
            line = process.stderr.readline()
            assert line or process.poll() is None, process.stderr.read()
            assert time.monotonic() - waited < 120, "musicid listen did not start"
        assert "This computer's sound" in line, line
        time.sleep(1.0)
        pulse_server.play(wav).wait(90)
        time.sleep(2.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["event"] for e in events} <= {"started", "ended"}
    for event in events:
        assert event["time"] and event["verdict"] in ("match", "unknown") and event["matches"]
        assert {"title", "source", "score"} <= set(event["matches"][0])
    ended = [e for e in events if e["event"] == "ended"]
    got = [(e["matches"][0]["title"] if e["verdict"] == "match" else "?", e["started_s"], e["ended_s"]) for e in ended]
    assert [e["event"] for e in events] == ["started", "ended"] * len(ended), events  # one entry at a time
    lag = got[0][1] - truth[0][1] if got else 0.0
    _check_timeline(got, truth, lag)
    assert all(e["ended"] >= e["started"] for e in ended)
