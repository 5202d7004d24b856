"""Listen: one button to record from a microphone or this computer's sound, a live
spectrogram, the ranked answer, and (keep listening) a timeline of what played.

The listening policy is ``musicid_core.listening`` (shared with ``musicid listen``): once a
model window (~5 s) has arrived the recording is identified on a worker every second, and
listening stops early when the answer is clear; with *Keep listening* the last seconds are
identified at a fixed interval and songs are reported as they start and end. This tab only
moves audio into the session, runs the identifications it asks for on the recognition pool and
shows the answers. Final answers and timeline entries go into the history.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PySide6.QtCore import Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QFont, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.audio_bridge import AudioBridge
from app.errors import show_error, user_message
from app.history import History, HistoryEntry
from app.model_service import ModelService
from app.settings import Settings
from app.widgets.history_view import HistoryView
from app.widgets.results_view import ResultsView
from app.widgets.spectrogram_view import LiveMel, SpectrogramView
from app.widgets.timeline_view import TimelineView
from app.workers import TaskState, run_task
from musicid_core.audio.capture import COMPUTER, MICROPHONE, CaptureError, InputDevice, find_device
from musicid_core.config import DEFAULT_FEATURES, MIN_RECORDING_SECONDS
from musicid_core.features import recording_length_problem
from musicid_core.errors import MusicIdError
from musicid_core.listening import (
    Answer,
    ContinuousListening,
    ListeningSession,
    Request,
    SingleListening,
    TimelineEntry,
)
from musicid_core.recognizer import Identification

log = logging.getLogger(__name__)
FILE_FILTER = "Audio recordings (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.aac *.mp4 *.aif *.aiff);;All files (*)"
METER_EVERY_S = 0.1
GROUP_TITLES = {MICROPHONE: "Microphones", COMPUTER: "This computer's sound"}


class ModelState:
    """Where the model stands, as far as Listen is concerned."""

    NONE = "none"  # no songs and no trained model
    LOADING = "loading"
    READY = "ready"  # loaded and run once
    FAILED = "failed"


class ListenTab(QWidget):
    identified = Signal(object)  # the final Identification of a listen or a file
    listening_changed = Signal(bool)
    timeline_changed = Signal(object)  # a TimelineEntry that started or ended (continuous mode)

    def __init__(self, service: ModelService, history: History, settings: Settings, pool: QThreadPool) -> None:
        super().__init__()
        self.service = service
        self.history = history
        self.settings = settings
        self.pool = pool
        self.bridge = AudioBridge(self)
        self.bridge.audio.connect(self._on_audio)
        self.bridge.level.connect(self._on_level)
        self.session: Optional[ListeningSession] = None
        self._source = ""
        self._devices: list[InputDevice] = []
        self._open_entries: dict[int, HistoryEntry] = {}  # id(timeline entry start) -> history entry
        self._generation = 0  # results of an older file identification are ignored
        self._requests: dict[int, tuple[ListeningSession, Request]] = {}  # identifications in flight
        self._level_shown = 0.0
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
        self.device_combo.setMinimumWidth(260)
        self.device_combo.setToolTip("Record from a microphone, or from what this computer plays")
        self.device_combo.currentIndexChanged.connect(self._device_chosen)
        refresh = QPushButton("Rescan")
        refresh.setToolTip("Look for microphones and outputs plugged in since MusicID started")
        refresh.clicked.connect(lambda: self.refresh_devices(rescan=True))
        self.continuous_box = QCheckBox("Keep listening")
        self.continuous_box.setToolTip("Identify continuously and list each song as it starts and ends")
        self.continuous_box.setChecked(self.settings.continuous())
        self.continuous_box.toggled.connect(self._continuous_toggled)
        self.seconds_label = QLabel("Listen for at most")
        self.seconds_spin = QSpinBox()
        self.seconds_spin.setRange(6, 60)
        self.seconds_spin.setSuffix(" s")
        self.seconds_spin.setValue(max(6, min(60, self.settings.listen_seconds())))
        self.seconds_spin.valueChanged.connect(self.settings.set_listen_seconds)
        self.file_button = QPushButton("Identify a file…")
        self.file_button.clicked.connect(self.choose_file)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Listen to:"))
        controls.addWidget(self.device_combo, 1)
        controls.addWidget(refresh)
        controls.addSpacing(12)
        controls.addWidget(self.continuous_box)
        controls.addSpacing(12)
        controls.addWidget(self.seconds_label)
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
        self.level_meter.setToolTip("Input level (dBFS); music should reach −40 dB or more")
        self.elapsed = QProgressBar()
        self.elapsed.setRange(0, 1000)
        self.elapsed.setFormat("")
        self.elapsed.setTextVisible(True)

        self.live_box = QGroupBox("What MusicID hears (the model's view of the last 5 s)")
        live_layout = QVBoxLayout(self.live_box)
        live_layout.addWidget(self.spectrogram, 1)
        meter_row = QHBoxLayout()
        meter_row.addWidget(self.level_meter, 1)
        meter_row.addWidget(self.elapsed, 1)
        live_layout.addLayout(meter_row)

        self.results = ResultsView()
        answer = QGroupBox("Answer")
        QVBoxLayout(answer).addWidget(self.results)

        self.timeline = TimelineView()
        self.timeline_box = QGroupBox("What played")
        QVBoxLayout(self.timeline_box).addWidget(self.timeline)

        self.history_view = HistoryView(self.history)
        self.history_table = self.history_view.table
        recent = QGroupBox("Recent identifications")
        QVBoxLayout(recent).addWidget(self.history_view)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(answer)
        lower.addWidget(self.timeline_box)
        lower.addWidget(recent)
        for index, stretch in enumerate((3, 3, 2)):
            lower.setStretchFactor(index, stretch)

        layout = QVBoxLayout(self)
        layout.addWidget(self.listen_button)
        layout.addLayout(controls)
        layout.addWidget(self.mic_message)
        layout.addWidget(self.live_box, 3)
        layout.addWidget(lower, 2)
        self._continuous_toggled(self.continuous_box.isChecked())

    def _continuous_toggled(self, on: bool) -> None:
        self.settings.set_continuous(on)
        self.seconds_label.setVisible(not on)
        self.seconds_spin.setVisible(not on)
        self.timeline_box.setVisible(on or self.timeline.rowCount() > 0)

    # ----- devices
    def refresh_devices(self, rescan: bool = False) -> None:
        """Fill the chooser, microphones apart from this computer's sound; restore the remembered
        input by name if it is still there."""
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        try:
            devices = self._devices if self.bridge.active else self.bridge.list_devices(refresh=rescan)
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
        for kind in (MICROPHONE, COMPUTER):
            group = [d for d in devices if d.kind == kind]
            if not group:
                continue
            self.device_combo.insertSeparator(self.device_combo.count())
            self.device_combo.addItem(GROUP_TITLES[kind], None)
            header = self.device_combo.model().item(self.device_combo.count() - 1)  # type: ignore[attr-defined]
            if isinstance(self.device_combo.model(), QStandardItemModel):
                header.setEnabled(False)
            for device in group:
                self.device_combo.addItem("    " + device.name, device.name)
        remembered = self.settings.input_device()
        index = self.device_combo.findData(remembered) if remembered else 0
        if remembered and index < 0:
            log.info("remembered input %r is not connected; using the system default", remembered)
        self.device_combo.setCurrentIndex(max(index, 0))
        self.device_combo.blockSignals(False)
        self.update_listen_enabled()

    def input_names(self) -> list[str]:
        """The choosable inputs in the chooser, in order ("" is the system default)."""
        return [self.device_combo.itemData(i) for i in range(self.device_combo.count())
                if isinstance(self.device_combo.itemData(i), str)]

    # ----- the model: not loaded while the input streams (issue 13)
    @property
    def model_ready(self) -> bool:
        return self._model_state == ModelState.READY

    def set_model_state(self, state: str, detail: str = "") -> None:
        """Called by the window as the model loads. Listen is not offered while a model loads, so
        that TensorFlow never loads or traces while audio streams in (``ModelService``)."""
        self._model_state, self._model_detail = state, detail
        self.update_listen_enabled()

    def update_listen_enabled(self) -> None:
        """The one place that decides whether Listen can be pressed and what it says (Stop always can)."""
        button = self.listen_button
        if self.listening:
            button.setEnabled(True)
            return
        state = self._model_state
        button.setText("Loading the model…" if state == ModelState.LOADING else "Listen")
        # Without a model Listen still works (the live view checks the input; the answer says what
        # is missing): only a model being loaded must not overlap a stream.
        button.setEnabled(bool(self._devices) and state != ModelState.LOADING)
        button.setToolTip({
            ModelState.LOADING: "The model is loading; Listen is ready in a few seconds",
            ModelState.NONE: "Start or stop listening (Space). The library is empty: add songs first",
            ModelState.FAILED: f"Start or stop listening (Space). The model cannot be used: {self._model_detail}",
        }.get(state, "Start or stop listening (Space)"))

    def _device_chosen(self, index: int) -> None:
        data = self.device_combo.itemData(index)
        if data is None:  # a group title: not choosable
            return
        self.settings.set_input_device(data or "")

    def selected_device(self) -> Optional[InputDevice]:
        return find_device(self.device_combo.currentData() or "", self._devices)

    def source_name(self) -> str:
        device = self.selected_device()
        return device.name if device is not None else "microphone"

    def _show_mic_problem(self, text: str) -> None:
        self.mic_message.setText(text[:1].upper() + text[1:])
        self.mic_message.setVisible(True)
        log.warning("audio input: %s", text)

    # ----- listening
    @property
    def listening(self) -> bool:
        return self.bridge.active

    @property
    def continuous(self) -> bool:
        return self.continuous_box.isChecked()

    def toggle_listening(self) -> None:
        if self.listening:
            self.stop_listening()
        else:
            self.start_listening()

    def start_listening(self) -> None:
        self._generation += 1
        self._source = self.source_name()
        if self.continuous:
            self.session = ContinuousListening(source=self._source)
            self.timeline.clear_rows()
            self._open_entries.clear()
        else:
            self.session = SingleListening(max_seconds=self.seconds_spin.value())
        self.spectrogram.reset()
        try:
            self.bridge.start(self.selected_device())
        except CaptureError as exc:
            self.session = None
            self.listen_button.setChecked(False)
            self._show_mic_problem(str(exc))
            return
        self.session.reset()  # its clock starts with the stream
        self.mic_message.setVisible(False)
        self.listen_button.setChecked(True)
        self.listen_button.setText("Stop")
        self.continuous_box.setEnabled(False)
        self.timeline_box.setVisible(self.continuous or self.timeline.rowCount() > 0)
        if self.continuous:
            self.results.show_message("Listening…", "Songs are listed under “What played” as they are recognised.")
        else:
            self.results.show_message("Listening…", f"The answer appears after about {MIN_RECORDING_SECONDS:.0f} seconds of sound.")
        self.results.clear_rows()
        self.update_listen_enabled()
        self.listening_changed.emit(True)

    def stop_listening(self, final: bool = True) -> None:
        """Stop the input; identify everything heard (one answer) unless ``final`` is False.
        In continuous mode what was playing is closed with its end time either way."""
        if not self.listening:
            return
        self._close_input()
        session = self.session
        if session is None:
            return
        if not final and isinstance(session, SingleListening):
            session.cancel()  # an identification still running for this listen is ignored
            return
        self._handle(session.stop_nowait(), session)
        self._run_due(session)
        if isinstance(session, ContinuousListening):
            minutes, secs = divmod(int(session.now), 60)
            self.elapsed.setFormat(f"listened for {minutes}:{secs:02d}")
            played = len(session.timeline)
            self.results.show_message("Stopped listening",
                                      f"{played} entr{'y' if played == 1 else 'ies'} under “What played”.")
            self.results.clear_rows()  # the last interim ranking is no answer of its own

    def _close_input(self) -> None:
        self.bridge.stop()  # hands over what is still buffered (``_on_audio``)
        self.listen_button.setChecked(False)
        self.listen_button.setText("Listen")
        self.continuous_box.setEnabled(True)
        self.level_meter.setValue(-60)
        self.level_meter.setFormat("input level: —")
        self.update_listen_enabled()
        self.listening_changed.emit(False)

    def recording(self) -> np.ndarray:
        """Everything heard in the current (or last) single listen."""
        if isinstance(self.session, SingleListening):
            return self.session.recording()
        return np.zeros(0, dtype=np.float32)

    @property
    def _samples(self) -> int:
        return self.session.received if self.session is not None else 0

    def _on_audio(self, samples: np.ndarray) -> None:
        session = self.session
        if session is None or session.done:
            return
        before = session.received
        self._handle(session.push(samples), session)
        fresh = samples[: session.received - before] if isinstance(session, SingleListening) else samples
        if fresh.size:
            self.spectrogram.feed(fresh)
        seconds = session.now
        if isinstance(session, SingleListening):
            limit = session.max_seconds
            text = f"{seconds:.1f} s of {limit:.0f} s"
            if text != self.elapsed.format():  # repaint only what changed (about ten times a second)
                self.elapsed.setValue(int(1000 * seconds / limit))
                self.elapsed.setFormat(text)
                self.listen_button.setText(f"Stop  ({max(0.0, limit - seconds):.0f} s left)")
            if session.done:
                QTimer.singleShot(0, lambda: self._stop_input_only(session))
        else:
            minutes, secs = divmod(int(seconds), 60)
            text = f"listening for {minutes}:{secs:02d}" + (" · silence" if session.silent else "")
            if text != self.elapsed.format():  # once a second, not at every block
                self.elapsed.setValue(1000)
                self.elapsed.setFormat(text)
        self._run_due(session)

    def _stop_input_only(self, session: ListeningSession) -> None:
        """The session decided (time up, or a clear answer): close the input; its answer comes."""
        if self.session is session and self.listening:
            self._close_input()

    def _on_level(self, dbfs: float) -> None:
        # Ten updates a second are plenty to read; each repaint of a bar costs about a millisecond.
        now = time.monotonic()
        if now - self._level_shown < METER_EVERY_S:
            return
        self._level_shown = now
        self.level_meter.setValue(int(max(-60.0, min(0.0, dbfs))))
        self.level_meter.setFormat(f"input level: {dbfs:.0f} dBFS")

    # ----- running the session's identifications
    def _run_due(self, session: ListeningSession) -> None:
        request = session.take_request()
        if request is None:
            return
        service = self.service
        audio = request.audio
        self._requests[id(request)] = (session, request)
        token = id(request)

        def job(state: TaskState) -> Identification:
            # A listen only uses the model already in memory: loading one while audio streams in
            # could crash (ModelService); a model saved meanwhile is loaded when the listen ends.
            return service.loaded().identify(audio, top_k=5)

        # The callbacks carry only a token: PySide may keep connected slots alive after the task,
        # and an identified window is 0.7 MB (benchmarks/listen_cost.py measures the memory).
        run_task(
            self.pool, job,
            on_result=lambda result: self._completed(token, result),
            on_error=lambda exc: self._completed(token, exc),
        )

    def _completed(self, token: int, outcome: Any) -> None:
        session, request = self._requests.pop(token, (None, None))
        if session is None or request is None or session is not self.session:
            return  # a listen that was replaced
        self._handle(session.complete(request, outcome), session, request)
        if self.listening:
            self._run_due(session)

    def _handle(self, answers: list[Answer], session: ListeningSession, request: Optional[Request] = None) -> None:
        for answer in answers:
            kind = answer.kind
            if kind in ("refined", "heard") and answer.identification is not None:
                self.results.show_identification(answer.identification, False, answer.seconds)
            elif kind == "final" and answer.identification is not None:
                self._stop_input_only(session)
                self._finish(answer.identification, answer.seconds, self._source, early=answer.early)
            elif kind == "too_short":
                problem = recording_length_problem(self._samples, DEFAULT_FEATURES) or "the recording is too short"
                self.results.show_message("Too short to identify", f"{problem[0].upper()}{problem[1:]}.")
            elif kind == "error" and answer.error is not None:
                if request is not None and request.final:
                    self.results.show_message("Could not identify", user_message(answer.error))
                    if not isinstance(answer.error, MusicIdError):
                        show_error(self, "Could not identify", answer.error)
                else:  # a refinement failed (e.g. no model yet): say so, keep listening
                    self.results.show_message("Cannot identify yet", user_message(answer.error))
            elif kind in ("started", "ended") and answer.entry is not None:
                self._timeline_entry(answer.entry, started=kind == "started")

    def _timeline_entry(self, entry: TimelineEntry, started: bool) -> None:
        self.timeline.show_entry(entry, new=started)
        key = round(entry.started * 1000)
        best = entry.identification.best
        title = best.song.title if entry.verdict == "match" else ""
        if started:
            record = self.history.add(title, best.score if title else 0.0, entry.verdict, entry.source,
                                      started=entry.wall_time(entry.started))
            self._open_entries[key] = record
            self.history_view.prepend(record)
            self.results.show_identification(entry.identification, True, self.session.now if self.session else 0.0)
            self.results.detail.setText(f"Playing since {entry.wall_time(entry.started)[11:19]} · "
                                        + self.results.detail.text())
        else:
            record = self._open_entries.pop(key, None)
            if record is not None and any(e is record for e in self.history.entries):
                updated = self.history.update(record, ended=entry.wall_time(entry.ended or entry.started))
                self.history_view.replace(record, updated)
        self.timeline_changed.emit(entry)

    # ----- identification of files
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Identify a recording", os.path.expanduser("~"), FILE_FILTER)
        if path:
            self.identify_file(path)

    def identify_file(self, path: str) -> None:
        """Identify a recording on disk (decoding, spectrogram and recognition run on a worker)."""
        if self.listening:
            self.stop_listening(final=False)
        self._generation += 1
        generation = self._generation
        self.session = None
        self.results.show_message(f"Identifying {Path(path).name}…", "Loading the model and decoding the file.")
        self.results.clear_rows()
        self.spectrogram.reset()
        service = self.service
        name = Path(path).name

        def job(state: TaskState) -> tuple[Identification, float, LiveMel]:
            from musicid_core.audio.decode import load_audio

            audio = load_audio(path)
            result = service.recognizer().identify(audio, top_k=5)
            return result, audio.size / DEFAULT_FEATURES.sample_rate, file_view(audio)

        def done(outcome: tuple[Identification, float, LiveMel]) -> None:
            if generation != self._generation:
                return
            result, seconds, mel = outcome
            self.spectrogram.show_mel(mel)
            self._finish(result, seconds, name)

        def failed(exc: BaseException) -> None:
            if generation != self._generation:
                return
            self.results.show_message("Could not identify", user_message(exc))
            show_error(self, "Could not identify", exc)

        run_task(self.pool, job, on_result=done, on_error=failed)

    def _finish(self, result: Identification, seconds: float, source: str, early: bool = False) -> None:
        self.results.show_identification(result, True, seconds)
        if early:
            self.results.detail.setText(self.results.detail.text() + " · answered early: the evidence was clear")
        entry = self.history.add(result.best.song.title, result.certainty, result.verdict, source)
        self.history_view.prepend(entry)
        self.identified.emit(result)

    def shutdown(self) -> None:
        self.stop_listening(final=False)


def file_view(audio: np.ndarray) -> LiveMel:
    """The spectrogram of a file's middle model window (what recognition mostly rests on)."""
    mel = LiveMel(DEFAULT_FEATURES)
    window = DEFAULT_FEATURES.fragment_samples
    start = max(0, (audio.size - window) // 2)
    mel.feed(audio[start : start + window + DEFAULT_FEATURES.n_fft])
    return mel
