"""The ranked answer: a headline verdict and up to five songs with confidence bars.

An ``unknown`` verdict is headlined "Not in your library" and the ranking below it is labelled
as the closest songs, greyed, so nobody reads it as a wrong answer.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from musicid_core.recognizer import Identification

ROWS = 5


class ResultsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.headline = QLabel("Press Listen (Space) while the music plays.")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        layout.addWidget(self.headline)
        layout.addWidget(self.detail)
        grid = QGridLayout()
        self.titles: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        for row in range(ROWS):
            title = QLabel("")
            title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setFormat("")
            bar.setMaximumWidth(260)
            grid.addWidget(QLabel(f"{row + 1}."), row, 0)
            grid.addWidget(title, row, 1)
            grid.addWidget(bar, row, 2)
            self.titles.append(title)
            self.bars.append(bar)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.clear_rows()

    def clear_rows(self) -> None:
        for title, bar in zip(self.titles, self.bars):
            title.setText("")
            bar.setValue(0)
            bar.setFormat("")
            bar.setVisible(False)

    def show_message(self, headline: str, detail: str = "") -> None:
        self.headline.setText(headline)
        self.detail.setText(detail)

    def show_identification(self, result: Identification, final: bool, seconds: float) -> None:
        best = result.best
        if result.verdict == "match":
            who = f" — {best.song.artist}" if best.song.artist else ""
            self.headline.setText(f"{best.song.title}{who}")
            state = "Answer" if final else "Listening… best so far"
        else:
            self.headline.setText("Not in your library")
            state = "Closest songs in your library (none is a match)" if final else "Listening… no clear match yet"
        self.detail.setText(
            f"{state} · {seconds:.1f} s analysed · {network_phrase(result.windows, result.agreement)}"
            + (f" · {result.confidence:.0%} likely right" if result.confidence is not None and result.fingerprint_margin is not None else "")
            + (f" · landmark margin {result.fingerprint_margin}" if result.fingerprint_margin is not None else "")
            + (f" · profile margin {result.profile_margin:.2f}" if result.profile_margin is not None else "")
        )
        self.clear_rows()
        for index, match in enumerate(result.matches[:ROWS]):
            artist = f" — {match.song.artist}" if match.song.artist else ""
            self.titles[index].setText(f"{match.song.title}{artist}")
            self.titles[index].setToolTip(match.song.source)
            self.titles[index].setEnabled(result.verdict == "match")
            bar = self.bars[index]
            bar.setVisible(True)
            bar.setEnabled(result.verdict == "match")
            bar.setValue(int(round(match.score * 1000)))
            bar.setFormat(f"{match.score:.0%}")
            bar.setTextVisible(True)

    def ranked_titles(self) -> list[str]:
        """The titles currently shown, best first (tests and accessibility)."""
        return [t.text().split(" — ")[0] for t in self.titles if t.text()]


def network_phrase(windows: int, agreement: float) -> str:
    """How many of the network's windows name the top song, in words. Why counts, not a share: a
    short recording has one padded window, and "in 1 window, 0% agree" read like a fault when the
    recording checks had named the song on their own."""
    if not windows:
        return "by the recording checks alone (no model trained yet)"
    agreeing = int(round(agreement * windows))
    plural = windows != 1
    return f"{agreeing} of {windows} network window{'s' * plural} name{'' if plural else 's'} it"
