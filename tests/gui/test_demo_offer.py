"""First run: an empty library is offered the demo once; accepting it enrols the demo songs and
makes the shipped model current, without blocking the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from musicid_core.demo import demo_available, demo_song_ids
from musicid_core.library import Library
from musicid_core.models.store import current_bundle_path

pytestmark = pytest.mark.skipif(not demo_available(), reason="the demo files are not shipped in this checkout")


def test_first_run_offers_the_demo_once_and_installs_it(make_window: Any, data_dir: Path, qtbot: Any) -> None:
    window = make_window()
    box = window.offer_demo()
    assert box is not None and box.isVisible() and "demo" in box.text()
    box.done(QMessageBox.StandardButton.Yes)
    library = Library(data_dir)
    qtbot.waitUntil(lambda: {s.id for s in library.songs()} == demo_song_ids(), timeout=60_000)
    qtbot.waitUntil(lambda: current_bundle_path(library.models_dir) is not None, timeout=10_000)
    qtbot.waitUntil(lambda: window.library_tab.visible_titles() != [], timeout=10_000)
    assert window.tabs.currentWidget() is window.listen_tab
    # the Training tab tells the same story as the Library tab: there is a model now
    assert "No model yet" not in window.training_tab.model_summary.text()
    assert "examples per song" in window.training_tab.model_summary.text()
    assert make_window().offer_demo() is None  # asked once; the Help menu keeps it available


def test_no_offer_when_the_library_has_songs(make_window: Any, trained_dir: Path) -> None:
    assert make_window().offer_demo() is None
