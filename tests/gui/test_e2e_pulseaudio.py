"""End to end with the real audio stack: PulseAudio null sink → its monitor as the default
source → PortAudio (sounddevice) → the Listen tab; ``paplay`` plays a noisy excerpt of an
enrolled song and the app must rank that song first."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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
    assert tab.spectrogram.mel.frames > 200  # the live display saw the audio arrive
