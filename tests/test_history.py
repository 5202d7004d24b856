"""History: entries with start/end, delete, clear, export as CSV and JSON, older files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from app.history import History


def test_delete_clear_and_update(tmp_path: Path) -> None:
    history = History(tmp_path)
    a = history.add("song1", 0.9, "match", "microphone")
    b = history.add("", 0.0, "unknown", "This computer's sound", started="2026-01-01T10:00:00+00:00")
    b2 = history.update(b, ended="2026-01-01T10:03:00+00:00")
    assert History(tmp_path).entries[0].ended == "2026-01-01T10:03:00+00:00"
    history.remove([a])
    assert [e.verdict for e in History(tmp_path).entries] == ["unknown"]
    assert "Not in your library" in b2.as_text() and "10:03:00" in b2.as_text()
    history.clear()
    assert History(tmp_path).entries == []


def test_export_csv_and_json(tmp_path: Path) -> None:
    history = History(tmp_path)
    history.add("Café, \"live\"", 0.87654, "match", "mic", started="2026-01-01T10:00:00+00:00",
                ended="2026-01-01T10:02:00+00:00")
    history.add("x", 0.1, "unknown", "f.wav")
    assert history.export(tmp_path / "out.csv") == 2
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert rows[1]["title"] == "Café, \"live\"" and rows[1]["score"] == "0.8765" and rows[1]["ended"].endswith("10:02:00+00:00")
    assert rows[0]["answer"] == "Not in your library"
    history.export(tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data[1]["started"] == "2026-01-01T10:00:00+00:00" and data[0]["source"] == "f.wav"
    with pytest.raises(ValueError, match="csv or .json"):
        history.export(tmp_path / "out.txt")


def test_a_file_from_before_start_and_end_still_loads(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text(json.dumps(
        [{"time": "2026-01-01T10:00:00+00:00", "title": "a", "score": 0.5, "verdict": "match", "source": "mic"}]))
    entry = History(tmp_path).entries[0]
    assert entry.title == "a" and entry.started == "" and entry.ended == ""
