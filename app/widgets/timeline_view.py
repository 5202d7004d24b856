"""The timeline of continuous listening: what played, from when to when, newest last."""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from musicid_core.listening import TimelineEntry

PLAYING = "playing…"


def clock(entry: TimelineEntry, offset: Optional[float]) -> str:
    if offset is None:
        return PLAYING
    return _dt.datetime.fromtimestamp(entry.clock_start + offset).strftime("%H:%M:%S")


class TimelineView(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["Started", "Ended", "What played"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.horizontalHeader()
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column in (0, 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

    def show_entry(self, entry: TimelineEntry, new: bool) -> None:
        """Add ``entry`` as a new row, or update the last row (the entry that just ended)."""
        if new or self.rowCount() == 0:
            self.insertRow(self.rowCount())
        row = self.rowCount() - 1
        playing = entry.ended is None
        answer = entry.display_answer
        if entry.verdict == "match":
            answer += f"  ({entry.identification.certainty:.0%})"
        texts = (clock(entry, entry.started), clock(entry, entry.ended), answer)
        length = (entry.ended - entry.started) if entry.ended is not None else None
        tip = (f"{entry.display_answer}\nfrom {entry.source}"
               + (f"\n{length:.0f} s" if length is not None else "\nstill playing"))
        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            if playing:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.setItem(row, column, item)
        self.scrollToBottom()

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.item(r, c).text() for c in range(3)) for r in range(self.rowCount())]  # type: ignore[misc]

    def clear_rows(self) -> None:
        self.setRowCount(0)
