"""GUI test fixtures: offscreen Qt, private data/settings/log folders, fake microphones.

The tiny model comes from the session-scoped ``trained_library`` fixture of ``tests/conftest.py``
(trained once per session) and is copied into each test's private data folder.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import pulse  # noqa: E402
import synth  # noqa: E402


@pytest.fixture(autouse=True)
def _private_qt_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings and logs go to the test's folder; no modal dialogs."""
    from PySide6.QtCore import QSettings

    from app.errors import CrashHandler

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    CrashHandler.dialogs_enabled = False
    yield


@pytest.fixture
def data_dir(_private_data_dir: Path) -> Path:
    _private_data_dir.mkdir(parents=True, exist_ok=True)
    return _private_data_dir


@pytest.fixture
def trained_dir(trained_library: Any, _private_data_dir: Path) -> Path:
    """A private copy of the session's trained library (songs song0..song3, noise, tiny model)."""
    library, _ = trained_library
    shutil.copytree(library.root, _private_data_dir, ignore=shutil.ignore_patterns(".lock", "cache", "tmp"))
    return _private_data_dir


@pytest.fixture
def make_window(qtbot: Any) -> Callable[..., Any]:
    """Build the real main window on the current data folder (call again to simulate a restart)."""
    from app.main_window import MainWindow
    from app.settings import Settings
    from musicid_core.library import Library
    from musicid_core.models.store import current_bundle_path
    from musicid_core.paths import data_dir as resolve

    windows: list[Any] = []

    def make(devices: list[Any] | None = None, stream: Any = None) -> Any:
        window = MainWindow(Library(resolve()), Settings())
        qtbot.addWidget(window)
        if devices is not None:
            window.listen_tab.bridge.list_devices = lambda refresh=False: devices
            window.listen_tab.refresh_devices()
        if stream is not None:
            window.listen_tab.bridge.stream_factory = stream
        with qtbot.waitActive(window):  # shortcuts only reach the active window
            window.show()
            window.activateWindow()
        windows.append(window)
        if current_bundle_path(window.library.models_dir) is not None:
            # Listen is offered once the model is loaded and has run once (issue 13), as a person sees it.
            qtbot.waitUntil(lambda: window.listen_tab.model_ready, timeout=60000)
        return window

    yield make
    for window in windows:
        if window.isVisible():
            window.close()


class FakeInputStream:
    """Stands in for ``sounddevice.InputStream``: calls the callback from its own thread with
    blocks of ``audio``, ``speed`` times faster than real time, like PortAudio would."""

    instances: list["FakeInputStream"] = []

    def __init__(self, audio: np.ndarray, speed: float = 4.0, **kwargs: Any) -> None:
        self.audio = audio
        self.speed = speed
        self.kwargs = kwargs
        self.callback = kwargs["callback"]
        self.samplerate = kwargs["samplerate"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.blocks = 0
        FakeInputStream.instances.append(self)

    def _run(self) -> None:
        block = 1024
        for start in range(0, self.audio.size, block):
            if self._stop.is_set():
                return
            chunk = self.audio[start : start + block].reshape(-1, 1).astype(np.float32)
            self.callback(chunk, len(chunk), None, None)
            self.blocks += 1
            time.sleep(len(chunk) / self.samplerate / self.speed)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()


def fake_stream(audio: np.ndarray, speed: float = 4.0) -> Callable[..., FakeInputStream]:
    return lambda **kwargs: FakeInputStream(audio, speed, **kwargs)


def fake_devices() -> list[Any]:
    from musicid_core.audio.capture import InputDevice

    return [InputDevice(0, "Fake USB microphone", 1, 48000.0, True), InputDevice(1, "Fake headset", 1, 16000.0)]


def noisy_song(index: int, seconds: float = 9.0, seed: int = 0) -> np.ndarray:
    return synth.noisy_excerpt(index, start_s=1.0 + index, seconds=seconds, rng=np.random.default_rng(seed), snr_db=5.0)


class LoopWatch:
    """Measures the longest gap between event-loop turns (a 10 ms timer's ticks).

    A sampling thread also keeps the GUI thread's stack from the longest stall, so a failure says
    *what* blocked the loop (``culprit``) instead of only how long."""

    STALL_S = 0.1

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.max_gap = 0.0
        self.stalls: list[float] = []  # every gap over STALL_S
        self.culprit = "(no stall seen by the sampler)"
        self._worst_sampled = 0.0
        self._last = time.monotonic()
        self._sampling = False
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.max_gap = max(self.max_gap, now - self._last)
        if now - self._last > self.STALL_S:
            self.stalls.append(now - self._last)
        self._last = now

    def _sample(self, gui_thread: int) -> None:
        import sys
        import traceback

        while self._sampling:
            time.sleep(0.02)
            stalled = time.monotonic() - self._last
            frame = sys._current_frames().get(gui_thread)
            if stalled > max(0.08, self._worst_sampled) and frame is not None:
                self._worst_sampled = stalled
                self.culprit = "".join(traceback.format_stack(frame)[-8:])

    def start(self) -> "LoopWatch":
        self._last = time.monotonic()
        self.timer.start()
        self._sampling = True
        threading.Thread(target=self._sample, args=(threading.get_ident(),), daemon=True).start()
        return self

    def stop(self) -> float:
        self.timer.stop()
        self._sampling = False
        return self.max_gap


@pytest.fixture
def pulse_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pulse.PulseServer]:
    reason = pulse.available()
    if reason:
        pytest.skip(reason)
    server = pulse.PulseServer(Path("/tmp") / f"musicid-pulse-{tmp_path.name[:20]}-{time.monotonic_ns()}").start()
    for key in ("XDG_RUNTIME_DIR", "PULSE_SERVER"):
        monkeypatch.setenv(key, server.env[key])
    import sounddevice

    sounddevice._terminate()  # PortAudio lists devices once; make it see this server
    sounddevice._initialize()
    yield server
    server.stop()
    shutil.rmtree(server.runtime_dir, ignore_errors=True)
    sounddevice._terminate()
    sounddevice._initialize()
