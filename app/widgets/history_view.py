"""Recent identifications: the table, and what can be done with them (copy, delete, clear, export).

The table shows the newest first. Ctrl+C copies the selected answers as text, Delete removes
them; *Export…* writes all entries as CSV or JSON (``app.history``).
"""

from __future__ import annotations

import os
import time
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import show_error
from app.history import History, HistoryEntry

EXPORT_FILTER = "CSV spreadsheet (*.csv);;JSON (*.json)"


class HistoryView(QWidget):
    def __init__(self, history: History) -> None:
        super().__init__()
        self.history = history
        self._rows: list[HistoryEntry] = []  # row i shows _rows[i]
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Time", "Answer", "Confidence"])
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        # The answer gets the width; where it came from (microphone or a file) is in its tooltip.
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected answers as text (Ctrl+C)")
        self.copy_button.clicked.connect(self.copy_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Remove the selected entries (Delete)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the whole history as a CSV or JSON file")
        self.export_button.clicked.connect(self.choose_export)
        self.clear_button = QPushButton("Clear…")
        self.clear_button.setToolTip("Remove every entry")
        self.clear_button.clicked.connect(self.confirm_clear)
        QShortcut(QKeySequence.StandardKey.Copy, self.table, self.copy_selected, context=Qt.ShortcutContext.WidgetShortcut)
        QShortcut(QKeySequence.StandardKey.Delete, self.table, self.delete_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)

        buttons = QHBoxLayout()
        for button in (self.copy_button, self.delete_button, self.export_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.refill()

    # ----- showing
    def refill(self) -> None:
        self.table.setRowCount(0)
        self._rows = []
        for entry in reversed(self.history.entries):
            self.prepend(entry)
        self._selection_changed()

    def prepend(self, entry: HistoryEntry) -> None:
        self.table.insertRow(0)
        self._rows.insert(0, entry)
        self._fill_row(0, entry)
        self._selection_changed()

    def replace(self, old: HistoryEntry, new: HistoryEntry) -> None:
        for row, entry in enumerate(self._rows):
            if entry is old:
                self._rows[row] = new
                self._fill_row(row, new)

    def _fill_row(self, row: int, entry: HistoryEntry) -> None:
        stamp = (entry.started or entry.time).replace("T", " ")[:19]
        # Today's entries show the time of day only, older ones month-day too: the width goes to the answer.
        when = stamp[11:16] if stamp[:10] == time.strftime("%Y-%m-%d") else stamp[5:16]
        if entry.started:
            when += "–" + (entry.ended[11:16] if entry.ended else "…")
        confidence = f"{entry.score:.0%}" if entry.verdict == "match" else "—"
        answer = entry.display_answer if entry.verdict == "match" else (
            f"{entry.display_answer} (closest: {entry.title}, {entry.score:.0%})" if entry.title else entry.display_answer)
        span = f"{entry.started.replace('T', ' ')[:19]} to {entry.ended.replace('T', ' ')[11:19] or 'now'}" if (
            entry.started) else stamp
        tips = (span, f"{answer}\nfrom {entry.source}", confidence)
        for column, text in enumerate((when, entry.display_answer, confidence)):
            item = QTableWidgetItem(text)
            item.setToolTip(tips[column])
            self.table.setItem(row, column, item)

    def selected(self) -> list[HistoryEntry]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self._rows[r] for r in rows if r < len(self._rows)]

    def _selection_changed(self) -> None:
        chosen = bool(self.table.selectionModel().selectedRows()) if self.table.selectionModel() else False
        self.copy_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)
        has_entries = bool(self.history.entries)
        self.export_button.setEnabled(has_entries)
        self.clear_button.setEnabled(has_entries)

    # ----- actions
    def copy_selected(self) -> str:
        text = "\n".join(entry.as_text() for entry in self.selected())
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def delete_selected(self) -> None:
        doomed = self.selected()
        if doomed:
            self.history.remove(doomed)
            self.refill()

    def confirm_clear(self) -> None:
        answer = QMessageBox.question(self, "Clear the history",
                                      f"Remove all {len(self.history.entries)} entries? This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.clear()

    def clear(self) -> None:
        self.history.clear()
        self.refill()

    def choose_export(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export the history",
                                                   os.path.join(os.path.expanduser("~"), "musicid-history.csv"),
                                                   EXPORT_FILTER)
        if path:
            if not os.path.splitext(path)[1]:
                path += ".json" if "json" in chosen.lower() else ".csv"
            self.export(path)

    def export(self, path: str) -> Optional[int]:
        try:
            return self.history.export(path)  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            show_error(self, "The history could not be exported", exc)
            return None
