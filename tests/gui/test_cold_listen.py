"""Issue 13: Listen pressed in the app's first seconds crashed it (SIGSEGV / "take_gil failed").

The model's first TensorFlow trace overlapped live audio capture. Each case is a fresh process
(``cold_listen.py``) whose model was never used before the window opened, a real PulseAudio
microphone playing a demo café recording in a loop, and Listen pressed at once or after a delay.
Before the fix every such process died; now Listen waits ("Loading the model…") and answers.
The hazard is TensorFlow's: the Keras runtime is tested on purpose, beside LiteRT (which the
demo bundle uses and which does not trace).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

import pulse
from musicid_core.demo import demo_available, demo_recordings, install_demo
from musicid_core.library import Library

REPO = Path(__file__).resolve().parents[2]
RECORDING = "hyperrogue-caribbean-cafe.ogg"
SONG = "Caribbean"


@pytest.fixture
def demo_data(tmp_path: Path) -> Path:
    if not demo_available():
        pytest.skip("the demo songs and model are not installed")
    folder = tmp_path / "demo-data"
    install_demo(Library(folder))
    return folder


@pytest.fixture
def looping_recording(pulse_server: pulse.PulseServer, tmp_path: Path) -> Iterator[None]:
    """The café recording played into the null sink again and again until the test ends."""
    wav = tmp_path / "cafe.wav"
    source = next(path for path in demo_recordings() if path.name == RECORDING)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), str(wav)], check=True)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            pulse_server.play(wav).wait()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=15)


@pytest.mark.parametrize(("runtime", "delay"), [("keras", 0.0), ("keras", 1.0), ("keras", 4.0), ("litert", 0.0)])
def test_listen_pressed_early_in_a_fresh_process_answers_without_crashing(
    runtime: str, delay: float, demo_data: Path, pulse_server: pulse.PulseServer, looping_recording: None, tmp_path: Path
) -> None:
    env = {**os.environ, **pulse_server.env, "MUSICID_DATA_DIR": str(demo_data), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("cold_listen.py")), str(delay), runtime, "120"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-1000:]}\n{done.stderr[-4000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["answer"] == SONG and report["verdict"] == "match", report
    assert report["tensorflow_imported"] == (runtime == "keras"), report
    if report["presses_refused"]:
        assert report["refused_text"] == "Loading the model…", report
