"""Library: the songs and noise packs, enrolled by drag and drop, and whether the model is current.

Imports run on a one-thread pool (two drops queue instead of racing) and report progress per
file; bad files are listed with their reason while the rest go in (``Library.add_songs`` carries
on past them).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import CrashHandler, show_error
from app.model_service import ModelService
from app.widgets.drop_zone import DropZone
from app.workers import TaskState, run_task
from musicid_core.audio.decode import is_audio_file
from musicid_core.library import DEFAULT_PACK, ImportReport, Library
from training.enrolment import enrol, unenrol

log = logging.getLogger(__name__)
AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.m4a *.aac *.mp4 *.aif *.aiff)"


def song_like(path: Path) -> bool:
    return path.is_dir() or is_audio_file(path)


def noise_like(path: Path) -> bool:
    return path.is_dir() or is_audio_file(path) or path.suffix.lower() == ".zip"


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def confirm(parent: QWidget, question: str) -> bool:
    """Ask before destroying something (always yes when dialogs are switched off for CI)."""
    if not CrashHandler.dialogs_enabled:
        return True
    answer = QMessageBox.question(parent, "MusicID", question)
    return answer == QMessageBox.StandardButton.Yes


class LibraryTab(QWidget):
    library_changed = Signal()
    import_finished = Signal(object)  # the ImportReport

    def __init__(self, library: Library, service: ModelService, pool: QThreadPool) -> None:
        super().__init__()
        self.library = library
        self.service = service
        self.pool = pool
        self._pending = 0
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.model_status = QLabel()
        self.model_status.setWordWrap(True)
        self.model_status.setTextFormat(Qt.TextFormat.RichText)

        # songs
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search title, artist or file…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.songs_table = QTableWidget(0, 4)
        self.songs_table.setHorizontalHeaderLabels(["Title", "Artist", "Duration", "Source file"])
        self.songs_table.verticalHeader().setVisible(False)
        self.songs_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.songs_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.songs_table.setSortingEnabled(True)
        self.songs_table.setAlternatingRowColors(True)
        self.songs_table.setWordWrap(False)
        header = self.songs_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        add_songs = QPushButton("Add songs…")
        add_songs.clicked.connect(self.choose_songs)
        add_folder = QPushButton("Add a folder…")
        add_folder.clicked.connect(self.choose_song_folder)
        self.remove_button = QPushButton("Remove selected")
        self.remove_button.clicked.connect(self.remove_selected)
        QShortcut(QKeySequence.StandardKey.Delete, self.songs_table, self.remove_selected)
        self.songs_count = QLabel()
        song_buttons = QHBoxLayout()
        for widget in (add_songs, add_folder, self.remove_button):
            song_buttons.addWidget(widget)
        song_buttons.addStretch(1)
        song_buttons.addWidget(self.songs_count)
        self.song_drop = DropZone(song_like)
        self.song_drop.dropped.connect(self.add_songs)
        songs_layout = QVBoxLayout(self.song_drop)
        songs_layout.addWidget(QLabel("<b>Songs</b> — drop audio files or folders here to enroll them"))
        songs_layout.addWidget(self.search)
        songs_layout.addWidget(self.songs_table, 1)
        songs_layout.addLayout(song_buttons)

        # noise
        self.pack_name = QLineEdit(DEFAULT_PACK)
        self.pack_name.setPlaceholderText("pack name (blank: from the folder or .zip name)")
        self.noise_table = QTableWidget(0, 3)
        self.noise_table.setHorizontalHeaderLabels(["Pack", "Clips", "Duration"])
        self.noise_table.verticalHeader().setVisible(False)
        self.noise_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.noise_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.noise_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        add_noise = QPushButton("Add noise…")
        add_noise.clicked.connect(self.choose_noise)
        remove_pack = QPushButton("Remove pack")
        remove_pack.clicked.connect(self.remove_selected_pack)
        pack_row = QHBoxLayout()
        pack_row.addWidget(QLabel("Into pack:"))
        pack_row.addWidget(self.pack_name, 1)
        noise_buttons = QHBoxLayout()
        noise_buttons.addWidget(add_noise)
        noise_buttons.addWidget(remove_pack)
        noise_buttons.addStretch(1)
        self.noise_drop = DropZone(noise_like)
        self.noise_drop.dropped.connect(self.add_noise)
        noise_layout = QVBoxLayout(self.noise_drop)
        noise_layout.addWidget(QLabel("<b>Noise packs</b> — drop room-noise files, folders or .zip here"))
        noise_layout.addLayout(pack_row)
        noise_layout.addWidget(self.noise_table, 1)
        noise_layout.addLayout(noise_buttons)
        noise_layout.addWidget(QLabel("Training always mixes in the built-in noise as well."))

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.song_drop)
        splitter.addWidget(self.noise_drop)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        # import feedback
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.progress_label = QLabel("")
        self.import_log = QListWidget()
        self.import_log.setMaximumHeight(130)
        self.import_log.setToolTip("What the last imports did; failed files are listed with the reason")
        feedback = QGroupBox("Imports")
        feedback_layout = QVBoxLayout(feedback)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.progress_label, 2)
        feedback_layout.addLayout(row)
        feedback_layout.addWidget(self.import_log)

        layout = QVBoxLayout(self)
        layout.addWidget(self.model_status)
        layout.addWidget(splitter, 1)
        layout.addWidget(feedback)

    # ----- display
    def refresh(self) -> None:
        """Re-read the library from disk (it may be changed by the command line too)."""
        try:
            songs = self.library.songs()
            packs = self.library.noise_packs()
            problems = self.library.problems()
        except Exception as exc:  # noqa: BLE001 - a damaged catalogue must be shown, not crash the tab
            show_error(self, "The library cannot be read", exc)
            songs, packs, problems = [], {}, []
        self.songs_table.setSortingEnabled(False)
        self.songs_table.setRowCount(len(songs))
        for row, song in enumerate(songs):
            cells = (song.title, song.artist, format_duration(song.duration), song.source)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, song.id)
                if column == 2:
                    item.setData(Qt.ItemDataRole.DisplayRole, text)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(f"{song.source}\nadded {song.added[:10]}\nid {song.id}")
                self.songs_table.setItem(row, column, item)
        self.songs_table.setSortingEnabled(True)
        total = sum(s.duration for s in songs)
        self.songs_count.setText(f"{len(songs)} songs, {format_duration(total)} in all")
        self.noise_table.setRowCount(len(packs))
        for row, (pack, clips) in enumerate(sorted(packs.items())):
            for column, text in enumerate((pack, str(len(clips)), format_duration(sum(c.duration for c in clips)))):
                self.noise_table.setItem(row, column, QTableWidgetItem(text))
        self._filter(self.search.text())
        self.refresh_model_status(problems)

    def refresh_model_status(self, problems: Optional[list[str]] = None) -> None:
        try:
            meta = self.service.current_meta()
            stale = self.service.is_out_of_date()
        except Exception as exc:  # noqa: BLE001
            self._status("#c0392b", f"The current model cannot be read: {exc}")
            return
        if meta is None:
            self._status(
                "#d9822b",
                "No model yet: songs are identified by their recordings as soon as they are added; "
                "train a model in the Training tab (Ctrl+3) so that it learns how they sound, for noisy rooms.",
            )
        elif stale:
            self._status(
                "#d9822b",
                "<b>The model is out of date</b>: songs were added or removed since it was trained "
                f"({meta.trained_at[:16].replace('T', ' ')} UTC). New songs are identified by their recordings "
                "already; retrain in the Training tab so that the model learns them too.",
            )
        else:
            self._status(
                "#2e8b57",
                f"The model is up to date ({meta.arch}, trained {meta.trained_at[:16].replace('T', ' ')} UTC, "
                f"validation accuracy {meta.metrics.get('accuracy', float('nan')):.0%}).",
            )
        if problems:
            self.model_status.setText(
                self.model_status.text() + "<br><span style='color:#c0392b'>" + "<br>".join(problems[:5]) + "</span>"
            )

    def _status(self, colour: str, text: str) -> None:
        self.model_status.setText(f"<span style='color:{colour}'>●</span> {text}")
        self.model_status.setProperty("stale", "out of date" in text)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.songs_table.rowCount()):
            cells = [self.songs_table.item(row, c) for c in (0, 1, 3)]
            haystack = " ".join(c.text().lower() for c in cells if c is not None)
            self.songs_table.setRowHidden(row, bool(needle) and needle not in haystack)

    def visible_titles(self) -> list[str]:
        return [
            self.songs_table.item(r, 0).text()  # type: ignore[union-attr]
            for r in range(self.songs_table.rowCount())
            if not self.songs_table.isRowHidden(r)
        ]

    # ----- adding
    def choose_songs(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add songs", os.path.expanduser("~"), AUDIO_FILTER)
        if files:
            self.add_songs(files)

    def choose_song_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of songs", os.path.expanduser("~"))
        if folder:
            self.add_songs([folder])

    def choose_noise(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Add noise recordings", os.path.expanduser("~"), AUDIO_FILTER.replace(")", " *.zip)")
        )
        if files:
            self.add_noise(files)

    def add_songs(self, paths: list[str]) -> None:
        library = self.library
        self._start_import(
            f"{len(paths)} item(s)",
            lambda state: _enrolled(library, paths, state),
        )

    def add_noise(self, paths: list[str]) -> None:
        pack = self.pack_name.text().strip() or _pack_from(paths)
        library = self.library
        self._start_import(
            f"noise into pack {pack!r}",
            lambda state: library.add_noise(paths, pack, progress=_reporter(state), should_stop=state.should_stop),
        )

    def _start_import(self, what: str, job: object) -> None:
        self._pending += 1
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.progress_label.setText(f"Starting the import of {what}…")
        log.info("import of %s started", what)
        run_task(
            self.pool,
            job,  # type: ignore[arg-type]
            on_progress=self._on_progress,
            on_result=self._on_imported,
            on_error=self._on_import_failed,
            on_finished=self._import_done,
            progress_interval=0.03,
        )

    def _on_progress(self, value: tuple[float, str]) -> None:
        fraction, message = value
        self.progress.setValue(int(fraction * 1000))
        self.progress_label.setText(message)

    def _on_imported(self, report: ImportReport) -> None:
        for item in report.added:
            name = getattr(item, "title", None) or getattr(item, "name", "")
            self._log_line(f"✔ added {name}", None)
        for path, existing in report.duplicates:
            self._log_line(f"= {Path(path).name}: already in the library as {existing!r}", None)
        for path, reason in report.failed:
            reason = reason.replace(f"{path}: ", "")  # the line already names the file
            self._log_line(f"✘ {Path(path.split(':')[0]).name}{_member(path)}: {reason}", "#c0392b")
        summary = f"Added {len(report.added)}, {len(report.duplicates)} already there, {len(report.failed)} failed"
        self.progress_label.setText(summary + (" (cancelled)" if report.cancelled else ""))
        self.progress.setValue(1000)
        log.info("import finished: %s", summary)
        self.refresh()
        self.library_changed.emit()
        self.import_finished.emit(report)

    def _on_import_failed(self, exc: BaseException) -> None:
        """E.g. the disk filled up: what went in before it stays, so show it, then say why."""
        self.progress_label.setText("Import stopped")
        self.refresh()
        self.library_changed.emit()
        show_error(self, "Import failed", exc)

    def _log_line(self, text: str, colour: Optional[str]) -> None:
        item = QListWidgetItem(text)
        if colour:
            item.setForeground(Qt.GlobalColor.red)
        self.import_log.insertItem(0, item)

    def _import_done(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self.progress.setVisible(False)

    # ----- removing
    def selected_song_ids(self) -> list[str]:
        rows = {index.row() for index in self.songs_table.selectionModel().selectedRows()}
        return [self.songs_table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in sorted(rows)]  # type: ignore[union-attr]

    def remove_selected(self) -> None:
        ids = self.selected_song_ids()
        if not ids or not confirm(self, f"Remove {len(ids)} song(s) from the library? They will not be identified any more."):
            return
        for song_id in ids:
            try:
                unenrol(self.library, song_id)
            except Exception as exc:  # noqa: BLE001
                show_error(self, "Could not remove the song", exc)
        self.refresh()
        self.library_changed.emit()

    def remove_selected_pack(self) -> None:
        row = self.noise_table.currentRow()
        item = self.noise_table.item(row, 0) if row >= 0 else None
        if item is None or not confirm(self, f"Remove the noise pack {item.text()!r}?"):
            return
        try:
            self.library.remove_noise_pack(item.text())
        except Exception as exc:  # noqa: BLE001
            show_error(self, "Could not remove the noise pack", exc)
        self.refresh()

    @property
    def busy(self) -> bool:
        return self._pending > 0


def _enrolled(library: Library, paths: list[str], state: TaskState) -> ImportReport:
    """Import and index (``training.enrolment``): the songs can be identified when it returns.
    A song imported but not indexed is listed among the failures, with the reason."""
    enrolled = enrol(library, paths, progress=_reporter(state), should_stop=state.should_stop)
    report = enrolled.imported
    report.failed.extend((title, f"imported, but it could not be indexed yet: {reason}") for title, reason in enrolled.index_failed)
    return report


def _reporter(state: TaskState):  # type: ignore[no-untyped-def]
    """Core ``progress(fraction, message)`` → throttled GUI progress; the last report always goes."""
    return lambda fraction, message: state.progress((fraction, message), force=fraction >= 1.0)


def _pack_from(paths: list[str]) -> str:
    first = Path(paths[0])
    name = first.stem if first.suffix.lower() == ".zip" or first.is_dir() else DEFAULT_PACK
    return "".join(c for c in name if c.isalnum() or c in " -_.")[:64].strip() or DEFAULT_PACK


def _member(label: str) -> str:
    return f" ({label.split(':', 1)[1]})" if ":" in label and not Path(label).exists() else ""
