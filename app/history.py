"""Recent identifications, kept across restarts as ``history.json`` in the data dir.

Written atomically (temp file + rename) so a crash never leaves half a file; a damaged file is
set aside and an empty history started, because losing history must not stop the app. Entries
of continuous listening carry when the song started and ended and the source it came from;
entries can be deleted, cleared, and exported as CSV or JSON (atomic writes as well).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Iterable

from musicid_core.storage import atomic_write_bytes

log = logging.getLogger(__name__)
HISTORY_FILE = "history.json"
MAX_ENTRIES = 200


@dataclass(frozen=True)
class HistoryEntry:
    time: str  # ISO 8601, local time with offset
    title: str  # top answer's title, or "" when nothing matched
    score: float
    verdict: str  # "match" | "unknown"
    source: str  # "microphone", an input's name, or the file name
    started: str = ""  # continuous listening: ISO 8601 start and end ("" while still playing)
    ended: str = ""

    @property
    def display_answer(self) -> str:
        return self.title if self.verdict == "match" else "Not in your library"

    def as_text(self) -> str:
        """One line for the clipboard: the answer, when, and from where."""
        when = f"{self.started[:19].replace('T', ' ')} – {self.ended[11:19] or 'now'}" if self.started else (
            self.time[:19].replace("T", " "))
        score = f" ({self.score:.0%})" if self.verdict == "match" else ""
        return f"{self.display_answer}{score} · {when} · {self.source}"


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


class History:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / HISTORY_FILE
        self.entries: list[HistoryEntry] = self._load()

    def _load(self) -> list[HistoryEntry]:
        if not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            names = [f.name for f in fields(HistoryEntry)]
            # files written before start/end existed lack them: the defaults fill in
            return [HistoryEntry(**{k: item[k] for k in names if k in item}) for item in raw]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("history file %s is unreadable (%s); starting a new one", self.path, exc)
            self.path.replace(self.path.with_suffix(".damaged.json"))
            return []

    def add(self, title: str, score: float, verdict: str, source: str, started: str = "", ended: str = "") -> HistoryEntry:
        entry = HistoryEntry(now_iso(), title, round(float(score), 4), verdict, source, started, ended)
        self.entries = [entry, *self.entries][:MAX_ENTRIES]
        self._save()
        return entry

    def update(self, entry: HistoryEntry, **changes: str) -> HistoryEntry:
        """Replace ``entry`` (e.g. give it its end time); a deleted entry stays deleted."""
        new = replace(entry, **changes)
        self.entries = [new if e is entry else e for e in self.entries]
        self._save()
        return new

    def remove(self, entries: Iterable[HistoryEntry]) -> None:
        doomed = {id(e) for e in entries}
        self.entries = [e for e in self.entries if id(e) not in doomed]
        self._save()

    def clear(self) -> None:
        self.entries = []
        self._save()

    def _save(self) -> None:
        payload = json.dumps([asdict(e) for e in self.entries], indent=1, ensure_ascii=False).encode("utf-8")
        try:
            atomic_write_bytes(self.path, payload)
        except OSError as exc:  # a full or read-only disk must not spoil an answer: keep it in memory
            log.warning("the listening history could not be saved (%s); it is kept until MusicID closes", exc)

    # ----- export
    def export(self, path: Path, entries: Iterable[HistoryEntry] | None = None) -> int:
        """Write entries (all by default, newest first) as CSV or JSON, chosen by the suffix."""
        chosen = list(self.entries if entries is None else entries)
        path = Path(path)
        if path.suffix.lower() == ".json":
            payload = json.dumps([asdict(e) for e in chosen], indent=1, ensure_ascii=False).encode("utf-8")
        elif path.suffix.lower() == ".csv":
            payload = to_csv(chosen).encode("utf-8")
        else:
            raise ValueError(f"cannot export to {path.name}: choose a .csv or .json file")
        atomic_write_bytes(path, payload)
        return len(chosen)


CSV_COLUMNS = ("time", "answer", "title", "score", "verdict", "source", "started", "ended")


def to_csv(entries: list[HistoryEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow((e.time, e.display_answer, e.title, f"{e.score:.4f}", e.verdict, e.source, e.started, e.ended))
    return out.getvalue()
