"""Recent identifications, kept across restarts as ``history.json`` in the data dir.

Written atomically (temp file + rename) so a crash never leaves half a file; a damaged file is
set aside and an empty history started, because losing history must not stop the app.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

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
    source: str  # "microphone" or the file name

    @property
    def display_answer(self) -> str:
        return self.title if self.verdict == "match" else "Not in your library"


class History:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / HISTORY_FILE
        self.entries: list[HistoryEntry] = self._load()

    def _load(self) -> list[HistoryEntry]:
        if not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [HistoryEntry(**{k: item[k] for k in HistoryEntry.__dataclass_fields__}) for item in raw]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("history file %s is unreadable (%s); starting a new one", self.path, exc)
            self.path.replace(self.path.with_suffix(".damaged.json"))
            return []

    def add(self, title: str, score: float, verdict: str, source: str) -> HistoryEntry:
        entry = HistoryEntry(
            _dt.datetime.now().astimezone().isoformat(timespec="seconds"), title, round(float(score), 4), verdict, source
        )
        self.entries = [entry, *self.entries][:MAX_ENTRIES]
        payload = json.dumps([asdict(e) for e in self.entries], indent=1, ensure_ascii=False).encode("utf-8")
        try:
            atomic_write_bytes(self.path, payload)
        except OSError as exc:  # a full or read-only disk must not spoil an answer: keep it in memory
            log.warning("the listening history could not be saved (%s); it is kept until MusicID closes", exc)
        return entry
