"""The SQLite catalogue: its settings, one transaction per change, errors in words, and the
one-time migration of an earlier version's catalogue.json (valid, interrupted, damaged)."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from dataclasses import asdict, replace
from pathlib import Path

import pytest

import synth
from musicid_core import catalogue as catalogue_module
from musicid_core.catalogue import APPLICATION_ID, SCHEMA_VERSION, Catalogue, CatalogueDamaged, NoiseClip, Song
from musicid_core.diskspace import StorageError
from musicid_core.errors import LibraryError
from musicid_core.library import Library
from musicid_core.storage import write_checked_json


def _song(i: int, **changes: object) -> Song:
    return replace(Song(f"{i:012x}", f"Song {i}", f"s{i}.wav", 10.0 + i, f"{i:064x}", "2026-01-01T00:00:00+00:00"),
                   **changes)


def _new(tmp_path: Path, **kwargs: float) -> Catalogue:
    catalogue = Catalogue(tmp_path / "catalogue.sqlite", **kwargs)
    catalogue.create_empty()
    return catalogue


def test_a_new_catalogue_is_wal_with_its_id_and_schema_version(tmp_path: Path) -> None:
    catalogue = _new(tmp_path, timeout=7.5)
    with closing(sqlite3.connect(catalogue.path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    with catalogue._connection() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 7500
        assert conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0
    assert not list(tmp_path.glob(".*"))  # no temporary file left from building it


def test_changes_keep_order_and_refuse_duplicates(tmp_path: Path) -> None:
    catalogue = _new(tmp_path)
    assert all(catalogue.add_song(_song(i)) for i in (3, 1, 2))
    assert not catalogue.add_song(_song(1, title="again"))  # same id
    assert not catalogue.add_song(_song(9, sha256=_song(2).sha256))  # same content
    assert [s.id for s in catalogue.read().songs] == [_song(i).id for i in (3, 1, 2)]
    assert catalogue.remove_song(_song(1).id) == _song(1) and catalogue.remove_song(_song(1).id) is None
    clip = NoiseClip("0000000000aa", "room", "hum.wav", 2.0, "")
    assert catalogue.add_noise(clip) and not catalogue.add_noise(clip)
    assert catalogue.add_noise(replace(clip, pack="pub"))  # the same clip may be in two packs
    assert catalogue.remove_noise_pack("room") == 1 and catalogue.read().noise == [replace(clip, pack="pub")]
    assert [s.id for s in catalogue.read().songs] == [_song(i).id for i in (3, 2)]


def test_a_failed_change_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue = _new(tmp_path)
    catalogue.add_song(_song(0))
    before = catalogue.read()

    def insert_then_fail(conn: sqlite3.Connection, songs: object) -> None:
        conn.execute("DELETE FROM songs")
        raise OSError("power cut")

    monkeypatch.setattr(catalogue_module, "_insert_songs", insert_then_fail)
    with pytest.raises(OSError):
        catalogue.add_song(_song(1))
    assert catalogue.read() == before  # the transaction was rolled back as a whole


def test_busy_and_full_are_not_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue = _new(tmp_path, timeout=0.2)
    with closing(sqlite3.connect(catalogue.path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        with pytest.raises(LibraryError, match="busy") as busy:
            catalogue.add_song(_song(0))
        other.execute("ROLLBACK")
    assert not isinstance(busy.value, CatalogueDamaged)
    assert catalogue.read().songs == []  # reads never wait for a writer (WAL)

    connect = sqlite3.connect

    def small_disk(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)  # type: ignore[arg-type]
        conn.execute("PRAGMA max_page_count = 1")  # the file cannot grow: SQLITE_FULL
        return conn

    catalogue.add_song(_song(1))
    monkeypatch.setattr(catalogue_module.sqlite3, "connect", small_disk)
    with pytest.raises(StorageError, match="using the library catalogue stopped: the disk holding .* is full"):
        catalogue.add_song(_song(2, title="x" * 20000))  # a full disk is no damage: nothing to repair
    monkeypatch.undo()
    assert [s.id for s in catalogue.read().songs] == [_song(1).id]


# ----- migration from catalogue.json (schema 1)
def _legacy_library(tmp_path: Path) -> tuple[Path, list[Song], bytes]:
    """A data folder as the JSON version left it: audio, per-song records and catalogue.json."""
    library = Library(tmp_path / "data")
    files = [synth.write(tmp_path / f"song {i}.wav", synth.song(i, seconds=6.0)) for i in range(3)]
    songs = library.add_songs(files).added
    library.add_noise([synth.write(tmp_path / "hum.wav", synth.noise(0, seconds=2.0))], pack="room")
    clips = library.noise_clips()
    library.catalogue_path.unlink()
    legacy = library.root / "catalogue.json"
    write_checked_json(legacy, 1, {"songs": [asdict(s) for s in songs], "noise": [asdict(c) for c in clips]})
    return library.root, songs, legacy.read_bytes()


def test_a_valid_json_catalogue_is_imported_once_and_kept(tmp_path: Path) -> None:
    root, songs, original = _legacy_library(tmp_path)
    library = Library(root)
    assert library.songs() == songs and [c.name for c in library.noise_clips()] == ["hum.wav"]
    assert not (root / "catalogue.json").exists() and (root / "catalogue.json.migrated").read_bytes() == original
    assert library.problems() == [] and not library.repair().changed
    # Idempotent: opening again imports nothing, and changes stay in the database.
    library.remove_song(songs[0].id)
    assert [s.id for s in Library(root).songs()] == [s.id for s in songs[1:]]
    # A catalogue.json that reappears beside the database (a crash after the import, before the
    # rename; or a restored backup) is set aside too, never imported over the database.
    (root / "catalogue.json").write_bytes(original)
    assert [s.id for s in Library(root).songs()] == [s.id for s in songs[1:]]
    assert not (root / "catalogue.json").exists()
    assert [p.read_bytes() for p in root.glob("catalogue.json.migrated*")] == [original, original]


def test_a_json_catalogue_is_read_until_it_is_imported(tmp_path: Path) -> None:
    root, songs, _ = _legacy_library(tmp_path)
    library = Library(root)
    library.catalogue_path.unlink()  # as another process sees it before its migration finished
    (root / "catalogue.json.migrated").rename(root / "catalogue.json")
    assert library.songs() == songs


@pytest.mark.parametrize("damage", ["truncate", "checksum", "bad-entry"])
def test_a_damaged_json_catalogue_goes_through_repair(damage: str, tmp_path: Path) -> None:
    root, songs, original = _legacy_library(tmp_path)
    legacy = root / "catalogue.json"
    if damage == "truncate":
        legacy.write_bytes(original[: len(original) // 2])
    elif damage == "checksum":
        legacy.write_bytes(original.replace(b"song 1", b"song X"))
    else:
        write_checked_json(legacy, 1, {"songs": [{**asdict(songs[0]), "id": "../../etc"}], "noise": []})
    damaged = legacy.read_bytes()
    library = Library(root)
    with pytest.raises(LibraryError, match="library repair"):
        library.songs()
    with pytest.raises(LibraryError, match="library repair"):
        library.remove_song(songs[0].id)
    assert legacy.read_bytes() == damaged and not library.catalogue_path.exists()  # nothing was replaced
    report = library.repair()
    assert report.rebuilt and report.songs == 3 and report.noise == 1
    assert report.quarantined is not None and report.quarantined.name.startswith("catalogue.json.damaged-")
    assert report.quarantined.read_bytes() == damaged
    assert {s.id: s.title for s in library.songs()} == {s.id: s.title for s in songs}  # from the records
    assert not legacy.exists() and library.catalogue_path.exists()


def test_repair_sets_the_write_ahead_log_aside_with_its_database(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    song = library.add_songs([synth.write(tmp_path / "a.wav", synth.song(0, seconds=6.0))]).added[0]
    path = library.catalogue_path
    shutil.copy(path, tmp_path / "good.sqlite")
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_autocheckpoint = 0")
        with db:
            db.execute("UPDATE songs SET title = 'edited'")  # stays in the -wal while this is open
        assert Path(f"{path}-wal").stat().st_size > 0
        with pytest.raises(LibraryError, match="checksum"):
            library.songs()
        report = library.repair()
    assert report.quarantined is not None and Path(f"{report.quarantined}-wal").exists()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    assert [s.title for s in library.songs()] == [song.title]
