"""Training tab: a tiny model trained through the real widgets (progress, curves, metrics, the
new model used by Listen at once), Cancel that stops within seconds and keeps the old model, and
an event loop that is never blocked for long meanwhile."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from conftest import LoopWatch
from musicid_core.errors import TrainingCancelled
from musicid_core.models.store import current_bundle_path

MAX_LOOP_GAP_S = 1.0
MAX_STALLS = 3
"""The issue asks for no stall over ~100 ms. An idle 2-core machine stays under 40 ms; a busy CI
machine was once seen at 333 ms (another process had the CPU, not GUI-thread work). So: at most
a few stalls over 100 ms, none over 1 s. Training on the GUI thread would stall for seconds."""


def choose(tab: Any, arch: str, examples: int, epochs: int) -> None:
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData(arch))
    tab.examples_spin.setValue(examples)
    tab.epochs_spin.setValue(epochs)


def test_train_tiny_model_through_the_tab(qtbot: Any, trained_dir: Path, make_window: Any) -> None:
    window = make_window()
    tab = window.training_tab
    before = current_bundle_path(window.library.models_dir)
    choose(tab, "tiny", examples=16, epochs=2)
    stages: list[str] = []
    epochs_seen: set[int] = set()

    def watch(p: Any) -> None:
        stages.append(p.stage)
        epochs_seen.add(p.epoch)

    tab.progress_reported.connect(watch)

    watch_loop = LoopWatch().start()
    with qtbot.waitSignal(tab.model_changed, timeout=180000):
        qtbot.mouseClick(tab.train_button, Qt.MouseButton.LeftButton)
        assert tab.running and not tab.train_button.isEnabled() and tab.cancel_button.isEnabled()
    gap = watch_loop.stop()

    assert {"dataset", "training", "fingerprints"} <= set(stages) and {1, 2} <= epochs_seen, (stages[:5], epochs_seen)
    assert tab.progress.value() == 1000
    assert "Done in" in tab.stage_label.text()
    assert len(tab._x) >= 2 and len(tab.loss_curve.getData()[0]) == len(tab._x)
    assert list(tab.val_curve.getData()[0]) == [1.0, 2.0]
    for key in ("accuracy", "precision", "roc_auc", "top5"):
        assert tab.metric_labels[key].text().endswith("%"), key
    assert "Landmarks of every song are indexed" in tab.landmark_label.text()
    after = current_bundle_path(window.library.models_dir)
    assert after is not None and after != before
    qtbot.waitUntil(lambda: not tab.running, timeout=5000)
    assert tab.train_button.isEnabled() and not tab.cancel_button.isEnabled()
    assert "up to date" in window.library_tab.model_status.text()
    # Listen uses the new model at once: the preload after training loaded exactly this bundle
    qtbot.waitUntil(lambda: window.service._bundle == after, timeout=30000)
    assert len(watch_loop.stalls) <= MAX_STALLS, f"stalls over 100 ms: {watch_loop.stalls}; worst in:\n{watch_loop.culprit}"
    assert gap < MAX_LOOP_GAP_S, f"the event loop was blocked for {gap * 1000:.0f} ms in:\n{watch_loop.culprit}"


def test_cancel_stops_within_seconds_and_keeps_the_previous_model(qtbot: Any, trained_dir: Path, make_window: Any) -> None:
    window = make_window()
    tab = window.training_tab
    before = current_bundle_path(window.library.models_dir)
    choose(tab, "tiny", examples=24, epochs=40)
    finished: list[Any] = []
    tab.training_finished.connect(finished.append)
    qtbot.mouseClick(tab.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.stage_label.text().startswith("Epoch 1 of 40"), timeout=120000)
    pressed = time.monotonic()
    qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert "Cancelling" in tab.stage_label.text()
    qtbot.waitUntil(lambda: bool(finished), timeout=10000)
    latency = time.monotonic() - pressed
    assert isinstance(finished[0], TrainingCancelled)
    assert latency < 5.0, f"cancel took {latency:.1f} s"
    assert "cancelled" in tab.stage_label.text() and "previous model" in tab.stage_label.text()
    assert current_bundle_path(window.library.models_dir) == before
    qtbot.waitUntil(lambda: tab.train_button.isEnabled(), timeout=5000)
