"""Listen: one button to record from the microphone, a live spectrogram, the ranked answer.

While listening, identification is refined on a worker every second once one model window
(~5 s) has arrived, and listening stops early when the answer is already clear (two successive
refinements agree on a confident match). The final answer goes into the history.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PySide6.QtCore import Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.audio_bridge import AudioBridge
from app.errors import show_error, user_message
from app.history import History, HistoryEntry
from app.model_service import ModelService
from app.settings import Settings
from app.widgets.results_view import ResultsView
from app.widgets.spectrogram_view import SpectrogramView
from app.workers import TaskState, run_task
from musicid_core.audio.capture import CaptureError, InputDevice, find_device
from musicid_core.config import DEFAULT_FEATURES, MIN_RECORDING_SECONDS
from musicid_core.errors import MusicIdError
from musicid_core.features import recording_length_problem
from musicid_core.recognizer import Identification

log = logging.getLogger(__name__)
REFINE_EVERY_S = 1.0
CLEAR_AGREEMENT = 0.8
FILE_FILTER = "Audio recordings (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.aac *.mp4 *.aif *.aiff);;All files (*)"


class ModelState:
    """Where the model stands, as far as Listen is concerned."""

    NONE = "none"  # no trained model
    LOADING = "loading"
    READY = "ready"  # loaded and run once
    FAILED = "failed"


class ListenTab(QWidget):
    identified = Signal(object)  # the final Identification of a listen or a file
    listening_changed = Signal(bool)

    def __init__(self, service: ModelService, history: History, settings: Settings, pool: QThreadPool) -> None:
        super().__init__()
        self.service = service
        self.history = history
        self.settings = settings
        self.pool = pool
        self.bridge = AudioBridge(self)
        self.bridge.audio.connect(self._on_audio)
        self.bridge.level.connect(self._on_level)
        self._chunks: list[np.ndarray] = []
        self._samples = 0
        self._generation = 0  # results of an older listen are ignored
        self._refining = False
        self._last_refined = 0
        self._previous: Optional[Identification] = None
        self._started = 0.0
        self._devices: list[InputDevice] = []
        self._model_state = ModelState.NONE
        self._model_detail = ""
        self._build()
        self.refresh_devices()

    # ----- layout
    def _build(self) -> None:
        self.listen_button = QPushButton("Listen")
        self.listen_button.setCheckable(True)
        self.listen_button.setToolTip("Start or stop listening (Space)")
        self.listen_button.setMinimumHeight(56)
        font = QFont(self.listen_button.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.listen_button.setFont(font)
        self.listen_button.clicked.connect(self.toggle_listening)

        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(220)
        self.device_combo.currentIndexChanged.connect(self._device_chosen)
        refresh = QPushButton("Rescan")
        refresh.setToolTip("Look for microphones plugged in since MusicID started")
        refresh.clicked.connect(lambda: self.refresh_devices(rescan=True))
        self.seconds_spin = QSpinBox()
        self.seconds_spin.setRange(6, 60)
        self.seconds_spin.setSuffix(" s")
        self.seconds_spin.setValue(max(6, min(60, self.settings.listen_seconds())))
        self.seconds_spin.valueChanged.connect(self.settings.set_listen_seconds)
        self.file_button = QPushButton("Identify a file…")
        self.file_button.clicked.connect(self.choose_file)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Microphone:"))
        controls.addWidget(self.device_combo, 1)
        controls.addWidget(refresh)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Listen for at most"))
        controls.addWidget(self.seconds_spin)
        controls.addSpacing(12)
        controls.addWidget(self.file_button)

        self.mic_message = QLabel("")
        self.mic_message.setWordWrap(True)
        self.mic_message.setStyleSheet("color: #d9822b; font-weight: bold;")
        self.mic_message.setVisible(False)

        self.spectrogram = SpectrogramView(DEFAULT_FEATURES)
        self.level_meter = QProgressBar()
        self.level_meter.setRange(-60, 0)
        self.level_meter.setValue(-60)
        self.level_meter.setFormat("input level: silent")
        self.level_meter.setToolTip("Microphone level (dBFS); music should reach −40 dB or more")
        self.elapsed = QProgressBar()
        self.elapsed.setRange(0, 1000)
        self.elapsed.setFormat("")
        self.elapsed.setTextVisible(True)

        live = QGroupBox("What the microphone hears (the model's view of the last 5 s)")
        live_layout = QVBoxLayout(live)
        live_layout.addWidget(self.spectrogram, 1)
        meter_row = QHBoxLayout()
        meter_row.addWidget(self.level_meter, 1)
        meter_row.addWidget(self.elapsed, 1)
        live_layout.addLayout(meter_row)

        self.results = ResultsView()
        answer = QGroupBox("Answer")
        QVBoxLayout(answer).addWidget(self.results)

        self.history_table = QTableWidget(0, 3)
        self.history_table.setHorizontalHeaderLabels(["Time", "Answer", "Confidence"])
        self.history_table.verticalHeader().setVisible(False)
        self.history_table.setWordWrap(False)
        self.history_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.history_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.history_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.history_table.horizontalHeader()
        # The answer gets the width; where it came from (microphone or a file) is in its tooltip.
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        recent = QGroupBox("Recent identifications")
        QVBoxLayout(recent).addWidget(self.history_table)
        self._fill_history()

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(answer)
        lower.addWidget(recent)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(self.listen_button)
        layout.addLayout(controls)
        layout.addWidget(self.mic_message)
        layout.addWidget(live, 3)
        layout.addWidget(lower, 2)

    # ----- devices
    def refresh_devices(self, rescan: bool = False) -> None:
        """Fill the chooser; restore the remembered device by name if it is still there."""
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        try:
            devices = [] if self.bridge.active else self.bridge.list_devices(refresh=rescan)
        except CaptureError as exc:
            devices = []
            self._show_mic_problem(str(exc))
        else:
            if not devices:
                from musicid_core.audio.capture import NO_MICROPHONE

                self._show_mic_problem(NO_MICROPHONE[:1].upper() + NO_MICROPHONE[1:] + ".")
            else:
                self.mic_message.setVisible(False)
        self._devices = devices
        default = next((d for d in devices if d.is_default), None)
        self.device_combo.addItem(f"System default ({default.name})" if default else "System default", "")
        for device in devices:
            self.device_combo.addItem(device.name, device.name)
        remembered = self.settings.input_device()
        index = self.device_combo.findData(remembered) if remembered else 0
        if remembered and index < 0:
            log.info("remembered microphone %r is not connected; using the system default", remembered)
        self.device_combo.setCurrentIndex(max(index, 0))
        self.device_combo.blockSignals(False)
        self._update_listen_button()

    # ----- the model: not loaded while the microphone streams (issue 13)
    @property
    def model_ready(self) -> bool:
        return self._model_state == ModelState.READY

    def set_model_state(self, state: str, detail: str = "") -> None:
        """Called by the window as the model loads. Listen is not offered while a model loads, so
        that TensorFlow never loads or traces while the microphone streams (``ModelService``)."""
        self._model_state, self._model_detail = state, detail
        self._update_listen_button()

    def _update_listen_button(self) -> None:
        """The one place that decides whether Listen can be pressed and what it says."""
        button = self.listen_button
        if self.listening:
            button.setEnabled(True)
            return
        state = self._model_state
        button.setText("Loading the model…" if state == ModelState.LOADING else "Listen")
        # Without a model Listen still works (the live view checks the microphone; the answer says
        # what is missing): only a model being loaded must not overlap a stream.
        button.setEnabled(bool(self._devices) and state != ModelState.LOADING)
        button.setToolTip({
            ModelState.LOADING: "The model is loading; Listen is ready in a few seconds",
            ModelState.NONE: "Start or stop listening (Space). There is no model yet: add songs and train one",
            ModelState.FAILED: f"Start or stop listening (Space). The model cannot be used: {self._model_detail}",
        }.get(state, "Start or stop listening (Space)"))

    def _device_chosen(self, index: int) -> None:
        self.settings.set_input_device(self.device_combo.itemData(index) or "")

    def selected_device(self) -> Optional[InputDevice]:
        return find_device(self.device_combo.currentData() or "", self._devices)

    def _show_mic_problem(self, text: str) -> None:
        self.mic_message.setText(text[:1].upper() + text[1:])
        self.mic_message.setVisible(True)
        log.warning("microphone: %s", text)

    # ----- listening
    @property
    def listening(self) -> bool:
        return self.bridge.active

    def toggle_listening(self) -> None:
        if self.listening:
            self.stop_listening()
        else:
            self.start_listening()

    def start_listening(self) -> None:
        self._generation += 1
        self._chunks, self._samples, self._last_refined = [], 0, 0
        self._previous = None
        self._refining = False
        self.spectrogram.reset()
        try:
            self.bridge.start(self.selected_device())
        except CaptureError as exc:
            self.listen_button.setChecked(False)
            self._show_mic_problem(str(exc))
            return
        self.mic_message.setVisible(False)
        self._started = time.monotonic()
        self.listen_button.setChecked(True)
        self.listen_button.setText("Stop")
        self.results.show_message("Listening…", f"The answer appears after about {MIN_RECORDING_SECONDS:.0f} seconds of sound.")
        self.results.clear_rows()
        self.listening_changed.emit(True)

    def stop_listening(self, final: bool = True) -> None:
        """Stop the microphone; identify everything heard unless ``final`` is False."""
        if not self.listening:
            return
        self.bridge.stop()
        self.listen_button.setChecked(False)
        self._update_listen_button()
        self.level_meter.setValue(-60)
        self.level_meter.setFormat("input level: —")
        self.listening_changed.emit(False)
        if not final:
            return
        problem = recording_length_problem(self._samples, DEFAULT_FEATURES)
        if problem is not None:
            self.results.show_message("Too short to identify", f"{problem[0].upper()}{problem[1:]}.")
            return
        self._identify(self.recording(), final=True, source="microphone")

    def recording(self) -> np.ndarray:
        """Everything heard in the current (or last) listen."""
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    def _on_audio(self, samples: np.ndarray) -> None:
        limit = self.seconds_spin.value() * DEFAULT_FEATURES.sample_rate
        samples = samples[: max(0, limit - self._samples)]
        if samples.size == 0:
            return
        self._chunks.append(samples)
        self._samples += samples.size
        self.spectrogram.feed(samples)
        seconds = self._samples / DEFAULT_FEATURES.sample_rate
        self.elapsed.setValue(int(1000 * self._samples / limit))
        self.elapsed.setFormat(f"{seconds:.1f} s of {self.seconds_spin.value()} s")
        self.listen_button.setText(f"Stop  ({self.seconds_spin.value() - seconds:.0f} s left)")
        if self._samples >= limit:
            QTimer.singleShot(0, self.stop_listening)
            return
        enough = self._samples >= DEFAULT_FEATURES.min_recording_samples
        due = self._samples - self._last_refined >= REFINE_EVERY_S * DEFAULT_FEATURES.sample_rate
        if enough and due and not self._refining:
            self._last_refined = self._samples
            self._identify(self.recording(), final=False, source="microphone")

    def _on_level(self, dbfs: float) -> None:
        self.level_meter.setValue(int(max(-60.0, min(0.0, dbfs))))
        self.level_meter.setFormat(f"input level: {dbfs:.0f} dBFS")

    # ----- identification
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Identify a recording", os.path.expanduser("~"), FILE_FILTER)
        if path:
            self.identify_file(path)

    def identify_file(self, path: str) -> None:
        """Identify a recording on disk (decoding and recognition run on a worker)."""
        if self.listening:
            self.stop_listening(final=False)
        self._generation += 1
        self.results.show_message(f"Identifying {Path(path).name}…", "Loading the model and decoding the file.")
        self.results.clear_rows()
        self._identify(path, final=True, source=Path(path).name)

    def _identify(self, audio_or_path: Any, final: bool, source: str) -> None:
        service = self.service
        generation = self._generation

        def job(state: TaskState) -> tuple[Identification, float]:
            audio = audio_or_path
            if isinstance(audio, str):
                from musicid_core.audio.decode import load_audio

                audio = load_audio(audio)
            # While the microphone is open only the model already in memory is used: loading one
            # then could crash (ModelService). A file, or the final answer after the stream closed,
            # may load the newest model.
            recognizer = service.recognizer() if final else service.loaded()
            return recognizer.identify(audio, top_k=5), audio.size / DEFAULT_FEATURES.sample_rate

        if not final:
            self._refining = True
        run_task(
            self.pool,
            job,
            on_result=lambda r: self._on_result(r, final, source, generation),
            on_error=lambda e: self._on_error(e, final, source, generation),
            on_finished=lambda: self._refined_done(final, generation),
        )

    def _refined_done(self, final: bool, generation: int) -> None:
        if not final and generation == self._generation:
            self._refining = False

    def _on_result(self, outcome: tuple[Identification, float], final: bool, source: str, generation: int) -> None:
        if generation != self._generation or (not final and not self.listening):
            return  # an older listen's answer, or a refinement overtaken by the final answer
        result, seconds = outcome
        self.results.show_identification(result, final, seconds)
        if not final:
            if self._is_clear(result):
                log.info("clear answer after %.1f s: %s", seconds, result.best.song.title)
                self.stop_listening(final=False)
                self._finish(result, seconds, source, early=True)
            self._previous = result
            return
        self._finish(result, seconds, source)

    def _is_clear(self, result: Identification) -> bool:
        previous = self._previous
        # Two matches in a row for the same song are clear when the windows agree, or when the
        # recording's landmarks or tonal profile single out that song (the verdict demands a margin).
        return (
            result.verdict == "match"
            and (result.agreement >= CLEAR_AGREEMENT or result.fingerprint_margin is not None)
            and previous is not None
            and previous.verdict == "match"
            and previous.best.song.id == result.best.song.id
        )

    def _finish(self, result: Identification, seconds: float, source: str, early: bool = False) -> None:
        self.results.show_identification(result, True, seconds)
        if early:
            self.results.detail.setText(self.results.detail.text() + " · answered early: the evidence was clear")
        entry = self.history.add(result.best.song.title, result.best.score, result.verdict, source)
        self._prepend_history(entry)
        self.identified.emit(result)

    def _on_error(self, exc: BaseException, final: bool, source: str, generation: int) -> None:
        if generation != self._generation:
            return
        if not final:  # a refinement failed (e.g. no model yet): say so, keep listening
            self.results.show_message("Cannot identify yet", user_message(exc))
            return
        self.results.show_message("Could not identify", user_message(exc))
        if not isinstance(exc, MusicIdError) or source != "microphone":
            show_error(self, "Could not identify", exc)

    # ----- history
    def _fill_history(self) -> None:
        self.history_table.setRowCount(0)
        for entry in reversed(self.history.entries):
            self._prepend_history(entry)

    def _prepend_history(self, entry: HistoryEntry) -> None:
        self.history_table.insertRow(0)
        stamp = entry.time.replace("T", " ")[:19]
        # Today's entries show the time of day only, older ones month-day too: the width goes to the answer.
        when = stamp[11:16] if stamp[:10] == time.strftime("%Y-%m-%d") else stamp[5:16]
        confidence = f"{entry.score:.0%}" if entry.verdict == "match" else "—"
        answer = entry.display_answer if entry.verdict == "match" else (
            f"{entry.display_answer} (closest: {entry.title}, {entry.score:.0%})")
        tips = (stamp, f"{answer}\nfrom {entry.source}", confidence)
        for column, text in enumerate((when, entry.display_answer, confidence)):
            item = QTableWidgetItem(text)
            item.setToolTip(tips[column])
            self.history_table.setItem(0, column, item)

    def shutdown(self) -> None:
        self.stop_listening(final=False)
