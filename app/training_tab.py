"""Training: choose the architecture and examples per song, train in the background, watch it.

Training runs on its own one-thread pool (two runs can never overlap, STYLE P4) and polls the
Cancel flag every batch (``training.train`` raises ``TrainingCancelled`` and keeps the previous
model). Progress reports are throttled before they cross to the GUI thread, so the event loop
stays responsive. The model list comes from ``musicid_core.models.architectures``; TensorFlow is
imported on the worker.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Optional

import pyqtgraph as pg
from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.errors import show_error, user_message
from app.model_service import ModelService
from app.settings import Settings
from app.workers import TaskHandle, TaskState, run_task
from musicid_core import verdict
from musicid_core.errors import TrainingCancelled
from musicid_core.library import Library
from musicid_core.models.architectures import ARCHITECTURES, DEFAULT_ARCH
from training.stages import overall_fraction

log = logging.getLogger(__name__)
ARCH_NOTES = {
    "fast": "fast — the default: minutes on a laptop CPU",
    "fc": "fc — fully connected baseline",
    "alexnet": "alexnet — larger CNN, slower",
    "resnet50": "resnet50 — very slow without a GPU",
    "tiny": "tiny — seconds; for trying things out only",
}
METRICS = (("accuracy", "Accuracy"), ("precision", "Precision"), ("roc_auc", "AUC"), ("top5", "Top-5 accuracy"))


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "estimating time left…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"about {seconds} s left"
    return f"about {seconds // 60} min {seconds % 60:02d} s left"


class TrainingTab(QWidget):
    training_started = Signal()
    progress_reported = Signal(object)  # each TrainProgress shown (tests, status bar)
    training_finished = Signal(object)  # TrainResult, or the exception that ended the run
    model_changed = Signal()

    def __init__(self, library: Library, service: ModelService, settings: Settings, pool: QThreadPool) -> None:
        super().__init__()
        self.library = library
        self.service = service
        self.settings = settings
        self.pool = pool
        self.handle: Optional[TaskHandle] = None
        self._cancel_requested_at = 0.0
        self._build()
        self.show_current_model()

    # ----- layout
    def _build(self) -> None:
        arch, examples, epochs = self.settings.training_choice()
        self.arch_combo = QComboBox()
        for name in ARCHITECTURES:
            self.arch_combo.addItem(ARCH_NOTES.get(name, name), name)
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData(arch or DEFAULT_ARCH)))
        self.examples_spin = QSpinBox()
        # 0 (shown as "Automatic") leaves the choice to training.budget, by the library's size.
        self.examples_spin.setRange(0, 5000)
        self.examples_spin.setSingleStep(50)
        self.examples_spin.setSpecialValueText("Automatic (by library size)")
        self.examples_spin.setValue(examples if examples >= 8 else 0)
        self.examples_spin.setToolTip("Noisy 5-second fragments made from each song; more is slower and more robust")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(0, 200)
        self.epochs_spin.setSpecialValueText("Automatic (by library size)")
        self.epochs_spin.setValue(max(epochs, 0))
        self.epochs_spin.setToolTip("Passes over the examples; Automatic: fewer for a large library, and half "
                                    "when the new model starts from the current one's weights")
        form = QFormLayout()
        form.addRow("Architecture:", self.arch_combo)
        form.addRow("Examples per song:", self.examples_spin)
        form.addRow("Epochs:", self.epochs_spin)

        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train a new model on the library (Ctrl+T)")
        self.train_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop training; the previous model stays in use")
        self.cancel_button.clicked.connect(self.cancel_training)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.stage_label = QLabel("Not training.")
        self.stage_label.setWordWrap(True)
        self.eta_label = QLabel("")

        setup = QGroupBox("New model")
        setup_layout = QVBoxLayout(setup)
        setup_layout.addLayout(form)
        setup_layout.addLayout(buttons)
        setup_layout.addWidget(self.progress)
        setup_layout.addWidget(self.stage_label)
        setup_layout.addWidget(self.eta_label)
        setup_layout.addStretch(1)

        self.model_box = QGroupBox("Model in use")
        grid = QGridLayout(self.model_box)
        self.model_summary = QLabel("")
        self.model_summary.setWordWrap(True)
        grid.addWidget(self.model_summary, 0, 0, 1, 2)
        self.metric_labels: dict[str, QLabel] = {}
        for row, (key, title) in enumerate(METRICS, start=1):
            value = QLabel("—")
            value.setStyleSheet("font-weight: bold;")
            grid.addWidget(QLabel(title + ":"), row, 0)
            grid.addWidget(value, row, 1)
            self.metric_labels[key] = value
        self.landmark_label = QLabel("")
        self.landmark_label.setWordWrap(True)
        grid.addWidget(self.landmark_label, len(METRICS) + 1, 0, 1, 2)
        grid.setRowStretch(len(METRICS) + 2, 1)

        top = QHBoxLayout()
        top.addWidget(setup, 3)
        top.addWidget(self.model_box, 2)

        self.loss_plot = pg.PlotWidget(title="Loss")
        self.acc_plot = pg.PlotWidget(title="Accuracy")
        for plot in (self.loss_plot, self.acc_plot):
            plot.setMenuEnabled(False)
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("bottom", "epoch")
            plot.addLegend(offset=(-10, 10))
        self.acc_plot.setYRange(0, 1, padding=0.02)
        self.loss_curve = self.loss_plot.plot(name="training loss", pen=pg.mkPen("#e67e22", width=2))
        self.acc_curve = self.acc_plot.plot(name="training", pen=pg.mkPen("#3d7bd9", width=2))
        self.val_curve = self.acc_plot.plot(
            name="validation", pen=pg.mkPen("#2e8b57", width=2), symbol="o", symbolSize=7, symbolBrush="#2e8b57"
        )
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        self._restyle()
        theme.on_theme_changed(self._restyle, self)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(plots, 1)
        self._reset_curves()

    def _restyle(self) -> None:
        background, foreground = theme.plot_colours()
        for plot in (self.loss_plot, self.acc_plot):
            plot.setBackground(background)
            plot.getPlotItem().titleLabel.setText(plot.getPlotItem().titleLabel.text, color=foreground)
            for name in ("left", "bottom"):
                plot.getAxis(name).setPen(foreground)
                plot.getAxis(name).setTextPen(foreground)

    def _reset_curves(self) -> None:
        self._x: list[float] = []
        self._loss: list[float] = []
        self._acc: list[float] = []
        self._val_x: list[float] = []
        self._val: list[float] = []
        for curve in (self.loss_curve, self.acc_curve, self.val_curve):
            curve.setData([], [])

    # ----- model info
    def show_current_model(self) -> None:
        try:
            meta = self.service.current_meta()
        except Exception as exc:  # noqa: BLE001
            self.model_summary.setText(f"The current model cannot be read: {user_message(exc)}")
            return
        if meta is None:
            self.model_summary.setText("No model yet. Add songs in the Library tab, then press Train.")
            for label in self.metric_labels.values():
                label.setText("—")
            self.landmark_label.setText("")
            return
        stale = self.service.is_out_of_date()
        self.model_summary.setText(
            f"{meta.arch}, {meta.examples_per_song} examples per song, {meta.epochs} epochs, "
            f"trained {meta.trained_at[:16].replace('T', ' ')} UTC in {meta.train_seconds:.0f} s."
            + (" <b>Out of date</b>: the songs changed since." if stale else "")
            + "<br>Validation metrics (noisy fragments it never trained on):"
        )
        for key, label in self.metric_labels.items():
            value = meta.metrics.get(key)
            label.setText(f"{value:.1%}" if isinstance(value, (int, float)) and math.isfinite(value) else "—")
        profiles = (
            f", by how much better its tonal profile matches the recording than any other's (in steps of "
            f"{meta.profile_margin:.2f}, and against how widely the other songs' profiles match it)"
            if meta.profile_margin > 0 else ""
        )
        self.landmark_label.setText(
            f"Landmarks of every song are indexed: an answer is a match when the top song is right with probability "
            f"{verdict.THRESHOLD:.2%} or more, judged by how many more landmarks line up with it than with any other "
            f"(in steps of {meta.fingerprint_margin:.0f}){profiles}, and by the network's belief."
            if meta.fingerprints_sha256 else
            "No landmark index (a model from an earlier version): answers rest on the network alone. Train again to add it."
        )

    # ----- training
    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.running

    def start_training(self) -> None:
        if self.running:
            return
        from training.train import TrainOptions

        options = TrainOptions(
            arch=self.arch_combo.currentData(), epochs=self.epochs_spin.value() or None,
            examples_per_song=self.examples_spin.value() or None,
        )
        self.settings.set_training_choice(options.arch, options.examples_per_song or 0, options.epochs or 0)
        library = self.library

        def job(state: TaskState) -> Any:
            from musicid_core.tfquiet import load_tensorflow

            state.progress(("loading", 0.0, "Loading TensorFlow…"), force=True)
            load_tensorflow()
            from training.train import train

            def report(p: Any) -> None:
                # An epoch's last batch always gets through the throttle, so the loss curve has a
                # point per epoch even when a small library runs a whole epoch in under 0.1 s.
                last_batch = p.stage == "training" and p.batch >= p.batches
                state.progress(p, force=p.stage != "training" or p.epoch_end or last_batch)

            return train(library, options, progress=report, should_stop=state.should_stop)

        self._reset_curves()
        self.progress.setValue(0)
        self.stage_label.setText("Starting…")
        self.eta_label.setText("")
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._started = time.monotonic()
        log.info("training started: %s", options)
        self.handle = run_task(
            self.pool, job, on_progress=self._on_progress, on_result=self._on_result, on_error=self._on_error,
            on_finished=self._on_finished, progress_interval=0.1,
        )
        self.training_started.emit()

    def cancel_training(self) -> None:
        if self.running and self.handle is not None:
            self._cancel_requested_at = time.monotonic()
            self.handle.cancel()
            self.cancel_button.setEnabled(False)
            self.stage_label.setText("Cancelling… the previous model stays in use.")

    def _on_progress(self, p: Any) -> None:
        if isinstance(p, tuple):  # ("loading", fraction, message) before the core reports
            self.stage_label.setText(p[2])
            return
        self.progress_reported.emit(p)
        self.progress.setValue(int(1000 * overall_fraction(p.stage, p.fraction)))
        if self.handle is not None and self.handle.state.should_stop():
            return
        if p.stage == "training":
            self.stage_label.setText(f"Epoch {p.epoch} of {p.epochs} · batch {p.batch} of {p.batches}")
            self.eta_label.setText(format_eta(p.eta_seconds))
            self._add_points(p)
        else:
            self.stage_label.setText(p.message)

    def _add_points(self, p: Any) -> None:
        x = (p.epoch - 1) + p.batch / max(1, p.batches)
        if p.epoch_end:
            if math.isfinite(p.val_accuracy):
                self._val_x.append(float(p.epoch))
                self._val.append(p.val_accuracy)
                self.val_curve.setData(self._val_x, self._val)
            return
        if math.isfinite(p.loss):
            self._x.append(x)
            self._loss.append(p.loss)
            self._acc.append(p.accuracy)
            self.loss_curve.setData(self._x, self._loss)
            self.acc_curve.setData(self._x, self._acc)

    def _on_result(self, result: Any) -> None:
        history = result.history
        if history.get("val_accuracy"):
            epochs = list(range(1, len(history["val_accuracy"]) + 1))
            self.val_curve.setData(epochs, history["val_accuracy"])
        self.progress.setValue(1000)
        m = result.metrics
        self.stage_label.setText(
            f"Done in {result.seconds:.0f} s: validation accuracy {m.get('accuracy', float('nan')):.1%} "
            f"(best epoch {result.best_epoch}). Listen now uses the new model."
        )
        self.eta_label.setText("")
        log.info("training finished: %s metrics %s", result.bundle, m)
        self.show_current_model()
        self.model_changed.emit()
        self.training_finished.emit(result)

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, TrainingCancelled):
            waited = time.monotonic() - self._cancel_requested_at if self._cancel_requested_at else 0.0
            log.info("training cancelled (stopped %.1f s after the request)", waited)
            self.stage_label.setText("Training cancelled; the previous model is still in use.")
            self.progress.setValue(0)
        else:
            self.stage_label.setText(f"Training failed: {user_message(exc)}")
            show_error(self, "Training failed", exc)
        self.eta_label.setText("")
        self.training_finished.emit(exc)

    def _on_finished(self) -> None:
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._cancel_requested_at = 0.0

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Cancel a run in progress and wait for its thread (called on quit)."""
        if self.running:
            self.cancel_training()
        self.pool.waitForDone(timeout_ms)
