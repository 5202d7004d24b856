"""The catalogue: which songs and noise clips a data folder holds, in one SQLite file.

Why SQLite: the catalogue used to be one JSON document rewritten, fsynced and checksummed on
every change, so a change cost O(library) in parsing, hashing and writing. SQLite (the standard
library's ``sqlite3``: no new dependency) changes one row in a transaction, and its write-ahead
log (WAL) lets readers in other processes (the app, the command line, later a server) read while
one writes. The guarantees of the JSON file are kept:

- *Atomic, durable changes.* Each change is one ``BEGIN IMMEDIATE … COMMIT`` transaction.
  ``synchronous=FULL``: in WAL mode ``NORMAL`` is already safe against a crashed process, but a
  power cut may then roll back the last commits, and a song removal commits before its files are
  deleted, so a lost commit would leave an entry without audio. ``FULL`` fsyncs the log on every
  commit, as the JSON file was fsynced; catalogue changes are rare next to decoding a song, so the
  fsync is noise.
- *Two processes.* ``busy_timeout`` makes a connection wait for another process's write instead
  of failing; ``Library`` still holds its file lock around every change (read, check, write).
- *Damage is detected, never silently used.* Every open runs ``PRAGMA quick_check`` (structure)
  and checks the application id and the schema version; every row carries a checksum of its
  values (SQLite checks pages, not whether a title's bytes were flipped or edited by hand), and
  every read and every change validates each row's fields as the JSON reader did. Any failure
  raises ``CatalogueDamaged``, which ``Library`` turns into "run 'musicid library repair'".
  Repair sets the damaged file aside (``quarantine``) and ``rebuild`` writes a new one.
- *No half-written catalogue.* A new file (empty, migrated or rebuilt) is built completely under
  a temporary name, fsynced, and renamed into place, so a crash leaves no file or a whole one.

The JSON format (schema 1, ``catalogue.json``) is still read, once: ``migrate_from`` imports a
valid one in one transaction and renames it ``catalogue.json.migrated`` (kept, never deleted).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import math
import os
import re
import sqlite3
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from musicid_core import diskspace
from musicid_core.errors import LibraryError
from musicid_core.storage import fsync_dir, read_checked_json

SCHEMA_VERSION = 2
"""Version of the SQLite schema (version 1 was the JSON document ``catalogue.json``)."""
LEGACY_JSON_SCHEMA = 1
APPLICATION_ID = 0x4D534944  # "MSID" in the file header: another program's SQLite file is not ours
CATALOGUE_FILE = "catalogue.sqlite"
LEGACY_FILE = "catalogue.json"
_PACK_NAME = re.compile(r"^[\w][\w .-]{0,63}$")
_ID = re.compile(r"^[0-9a-f]{12}\Z")

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    # seq keeps the order songs were added in (the JSON list's order); id is the file name.
    """CREATE TABLE songs (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, title TEXT NOT NULL, source TEXT NOT NULL,
        duration REAL NOT NULL, sha256 TEXT NOT NULL, added TEXT NOT NULL, artist TEXT NOT NULL,
        checksum TEXT NOT NULL)""",
    "CREATE INDEX songs_by_sha256 ON songs (sha256)",
    """CREATE TABLE noise (
        seq INTEGER PRIMARY KEY, pack TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
        duration REAL NOT NULL, sha256 TEXT NOT NULL, checksum TEXT NOT NULL, UNIQUE (pack, id))""",
)


@dataclass(frozen=True)
class Song:
    id: str
    title: str
    source: str
    duration: float
    sha256: str
    added: str
    artist: str = ""


@dataclass(frozen=True)
class NoiseClip:
    id: str
    pack: str
    name: str
    duration: float
    sha256: str


_SONG_FIELDS = tuple(f.name for f in dataclasses.fields(Song))
_NOISE_FIELDS = tuple(f.name for f in dataclasses.fields(NoiseClip))
_FIELDS = {Song: _SONG_FIELDS, NoiseClip: _NOISE_FIELDS}
# Rows whose values have types or durations our entries never have (NaN cannot be stored: SQLite
# makes it NULL, refused by NOT NULL; 1e999 is SQLite's infinity).
_WRONG_TYPES = {
    table: f"SELECT count(*) FROM {table} WHERE "
    + " OR ".join(f"typeof({n}) != 'text'" for n in fields if n != "duration")
    + " OR typeof(duration) NOT IN ('real', 'integer') OR NOT (duration >= 0 AND duration < 1e999)"
    for table, fields in (("songs", _SONG_FIELDS), ("noise", _NOISE_FIELDS))
}


class Contents(NamedTuple):
    songs: list[Song]
    noise: list[NoiseClip]


class CatalogueDamaged(LibraryError):
    """The catalogue cannot be trusted (unreadable, wrong schema, a bad row, missing): repair it.

    Other ``LibraryError``s from this module (busy, disk full) are not damage and must not lead
    to a repair."""


def row_checksum(entry: Song | NoiseClip) -> str:
    """A checksum of one entry's values, stored beside them to detect edits and flipped bytes.

    Each value length-prefixed (so no two different entries give the same text), text as it is,
    the duration as the ``repr`` of its float (which round-trips exactly through SQLite's REAL).
    Written out per kind: this runs for every row of every read."""
    try:
        if isinstance(entry, Song):
            d = repr(entry.duration)
            text = (f"{len(entry.id)}:{entry.id}|{len(entry.title)}:{entry.title}|{len(entry.source)}:{entry.source}|"
                    f"{len(d)}:{d}|{len(entry.sha256)}:{entry.sha256}|{len(entry.added)}:{entry.added}|"
                    f"{len(entry.artist)}:{entry.artist}")
        else:
            d = repr(entry.duration)
            text = (f"{len(entry.id)}:{entry.id}|{len(entry.pack)}:{entry.pack}|{len(entry.name)}:{entry.name}|"
                    f"{len(d)}:{d}|{len(entry.sha256)}:{entry.sha256}")
    except TypeError:  # a value that is not text (only in entries that fail validation anyway)
        values = [getattr(entry, name) for name in _FIELDS[type(entry)]]
        text = "|".join(f"{len(v)}:{v}" for v in (v if isinstance(v, str) else repr(v) for v in values))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class Catalogue:
    """The SQLite catalogue at ``path``. Each call opens its own connection and closes it, so no
    state outlives a call: a file replaced or repaired by another process is seen at once, and
    threads never share a connection."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def exists(self) -> bool:
        return self.path.exists()

    # ----- reading
    def read(self, *, thorough: bool = False) -> Contents:
        """Every song and noise clip, validated; one snapshot of both tables. ``thorough``: the full
        ``integrity_check`` (indexes against tables too), for repair, instead of ``quick_check``."""
        with self._connection(thorough=thorough) as conn:
            conn.execute("BEGIN")  # ends with the connection, whatever happens
            contents = self._validated(conn)
            conn.execute("COMMIT")
        return contents

    # ----- changing (callers hold the library's lock; each call is one transaction)
    def add_song(self, song: Song) -> bool:
        """Insert ``song``; False (and no change) when a song with its content or id is present.

        Adding checks the file's structure and looks duplicates up by index, but does not validate
        every other row: that keeps an add O(1) in Python. ``Library`` reads (and so validates) the
        whole catalogue before an add anyway, to report duplicates by title."""
        with self._transaction(validate=False) as (conn, _):
            if conn.execute("SELECT 1 FROM songs WHERE sha256 = ? OR id = ?", (song.sha256, song.id)).fetchone():
                return False
            _insert_songs(conn, [song])
        return True

    def remove_song(self, song_id: str) -> Song | None:
        """Delete the song ``song_id``; None when there is none."""
        with self._transaction() as (conn, contents):
            song = next((s for s in contents.songs if s.id == song_id), None)
            if song is not None:
                conn.execute("DELETE FROM songs WHERE id = ?", (song_id,))
        return song

    def add_noise(self, clip: NoiseClip) -> bool:
        """Insert ``clip``; False when its pack already holds a clip with its id."""
        with self._transaction(validate=False) as (conn, _):
            if conn.execute("SELECT 1 FROM noise WHERE pack = ? AND id = ?", (clip.pack, clip.id)).fetchone():
                return False
            _insert_noise(conn, [clip])
        return True

    def remove_noise_pack(self, pack: str) -> int:
        """Delete every clip of ``pack``; how many there were."""
        with self._transaction() as (conn, _):
            return conn.execute("DELETE FROM noise WHERE pack = ?", (pack,)).rowcount

    def remove_entries(self, songs: Iterable[Song], noise: Iterable[NoiseClip]) -> None:
        """Delete these entries in one transaction (repair: entries whose audio is gone)."""
        with self._transaction() as (conn, _):
            conn.executemany("DELETE FROM songs WHERE id = ?", [(s.id,) for s in songs])
            conn.executemany("DELETE FROM noise WHERE pack = ? AND id = ?", [(n.pack, n.id) for n in noise])

    # ----- whole files (callers hold the library's lock)
    def create_empty(self) -> None:
        if not self.exists():
            self._install(self._build([], []))

    def rebuild(self, songs: list[Song], noise: list[NoiseClip]) -> None:
        """A new catalogue holding exactly these entries, in place of a missing or quarantined one."""
        if self.exists():
            raise LibraryError(f"{self.path} exists; set it aside before rebuilding it")
        self._install(self._build(songs, noise))

    def quarantine(self) -> Path | None:
        """Move the catalogue (and its write-ahead log, which belongs to it) aside as
        ``catalogue.sqlite.damaged-<time>``; None when there was no catalogue file."""
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        moved = None
        if self.path.exists():
            self.path.replace(target)
            moved = target
        wal = _companion(self.path, "-wal")
        if wal.exists():  # never let a new catalogue replay another file's log
            wal.replace(_companion(target, "-wal"))
        _companion(self.path, "-shm").unlink(missing_ok=True)  # an index of the log, rebuilt on open
        fsync_dir(self.path.parent)
        return moved

    def migrate_from(self, legacy: Path) -> bool:
        """Import a valid ``catalogue.json`` in one go, then rename it ``catalogue.json.migrated``.

        Idempotent and crash-safe: the database appears (renamed into place) only when complete, and
        the JSON is renamed only after that, so a crash leaves the JSON in use or the whole database;
        a database next to a JSON means a crash between the two steps, finished here. A damaged JSON
        raises ``CatalogueDamaged`` and stays where it is, for repair. True when data was imported."""
        if not legacy.exists():
            return False
        imported = False
        if not self.exists():
            contents = read_legacy_json(legacy)
            self._install(self._build(contents.songs, contents.noise))
            imported = True
        target = legacy.with_name(f"{legacy.name}.migrated")
        if target.exists():  # an older migrated copy is kept too
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
            target = legacy.with_name(f"{legacy.name}.migrated-{stamp}")
        legacy.replace(target)
        fsync_dir(legacy.parent)
        return imported

    # ----- internals
    @contextmanager
    def _connection(self, *, thorough: bool = False) -> Iterator[sqlite3.Connection]:
        """A checked connection: structure, application id and schema version verified."""
        if not self.path.exists():
            raise CatalogueDamaged(f"{self.path} is missing")
        with self._translated():
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=rw", uri=True, timeout=self.timeout,
                                   isolation_level=None)
            try:
                self._check(conn, thorough)
                yield conn
            finally:
                conn.close()

    @contextmanager
    def _transaction(self, *, validate: bool = True) -> Iterator[tuple[sqlite3.Connection, Contents]]:
        """One write transaction, with what the catalogue holds. ``validate``: first check every
        row, so that a damaged catalogue is not changed (except by repair, which replaces it)."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn, self._validated(conn) if validate else Contents([], [])
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _check(self, conn: sqlite3.Connection, thorough: bool = False) -> None:
        # Settings first, none of which writes: a damaged file must stay byte for byte as it was.
        conn.execute("PRAGMA trusted_schema = OFF")  # never run functions named by the file's schema
        conn.execute("PRAGMA cell_size_check = ON")  # more damage caught while reading pages
        conn.execute("PRAGMA synchronous = FULL")
        problems = [row[0] for row in conn.execute(f"PRAGMA {'integrity_check' if thorough else 'quick_check'}(3)")]
        if problems != ["ok"]:
            shown = "; ".join(map(str, problems))[:200]
            raise CatalogueDamaged(f"{self.path} fails SQLite's integrity check ({shown})")
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise CatalogueDamaged(f"{self.path} is an SQLite file but not a MusicID catalogue")
        try:
            versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
        except sqlite3.OperationalError:
            raise CatalogueDamaged(f"{self.path} has no schema version") from None
        if versions != [SCHEMA_VERSION]:
            shown = str(versions[0] if len(versions) == 1 else versions)[:40]
            newer = len(versions) == 1 and isinstance(versions[0], int) and versions[0] > SCHEMA_VERSION
            raise CatalogueDamaged(
                f"{self.path} has schema version {shown}; this version of MusicID reads version {SCHEMA_VERSION}"
                + (" (it was written by a newer MusicID)" if newer else "")
            )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")  # a valid file set to another mode by some tool

    def _validated(self, conn: sqlite3.Connection) -> Contents:
        """Every entry, each checked as ``song_from_entry``/``noise_from_entry`` check one, and
        against its checksum. SQLite checks the types of all rows in one query first; only when
        one is wrong do the rows go through the (slower) checks that say which and why."""
        return Contents(self._entries(conn, "songs", Song), self._entries(conn, "noise", NoiseClip))

    @staticmethod
    def _entries(conn: sqlite3.Connection, table: str, kind: type) -> list[Any]:
        names = _FIELDS[kind]
        what = "song" if kind is Song else "noise clip"
        columns = ", ".join("CAST(duration AS REAL)" if n == "duration" else n for n in names)
        if conn.execute(_WRONG_TYPES[table]).fetchone()[0]:
            rows = conn.execute(f"SELECT {', '.join(names)}, checksum FROM {table} ORDER BY seq")
            return [_checked(dict(zip(names, row[:-1], strict=True)), row[-1], kind, what) for row in rows]
        entries = []
        for *values, checksum in conn.execute(f"SELECT {columns}, checksum FROM {table} ORDER BY seq"):
            entry = kind(*values)
            if not _ID.match(entry.id) or (kind is NoiseClip and not _PACK_NAME.match(entry.pack)):
                _checked(dict(zip(names, values, strict=True)), checksum, kind, what)  # raises, saying why
            if checksum != row_checksum(entry):
                raise CatalogueDamaged(f"the {what} entry {entry.id} fails its checksum: it was edited or damaged")
            entries.append(entry)
        return entries

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """SQLite's errors in words: busy and disk full are not damage; everything else is."""
        try:
            yield
        except CatalogueDamaged:
            raise
        except sqlite3.Error as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                raise LibraryError(
                    f"the library in {self.path.parent} is busy (another MusicID is changing it); try again shortly"
                ) from None
            storage = diskspace.storage_error(exc, "using the library catalogue", self.path.parent)
            if storage is not None:  # full, read-only, failing or vanished disk: the catalogue is unchanged
                raise storage from None
            raise CatalogueDamaged(f"{self.path} cannot be read as a catalogue ({str(exc)[:160]})") from None

    def _build(self, songs: list[Song], noise: list[NoiseClip]) -> Path:
        """A complete catalogue file under a temporary name in the same folder, fsynced."""
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            with self._translated():
                conn = sqlite3.connect(tmp, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("PRAGMA synchronous = FULL")
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                    _insert_songs(conn, songs)
                    _insert_noise(conn, noise)
                    conn.execute("COMMIT")
                finally:
                    conn.close()  # the last connection checkpoints the log into the file and deletes it
            if _companion(tmp, "-wal").exists():
                raise LibraryError(f"the new catalogue {tmp} could not be completed (its log was not written back)")
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            for leftover in (tmp, _companion(tmp, "-wal"), _companion(tmp, "-shm"), _companion(tmp, "-journal")):
                leftover.unlink(missing_ok=True)
            raise
        return tmp

    def _install(self, built: Path) -> None:
        wal = _companion(self.path, "-wal")
        if wal.exists():  # the log of a file that is gone: set it aside, never replay it into ours
            self.quarantine()
        _companion(self.path, "-shm").unlink(missing_ok=True)
        os.replace(built, self.path)
        fsync_dir(self.path.parent)


def read_legacy_json(path: Path) -> Contents:
    """A ``catalogue.json`` (schema 1) validated like a database; damage raises ``CatalogueDamaged``."""
    try:
        payload = read_checked_json(path, LEGACY_JSON_SCHEMA)
    except CatalogueDamaged:
        raise
    except LibraryError as exc:
        raise CatalogueDamaged(str(exc)) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("songs"), list):
        raise CatalogueDamaged(f"{path} does not describe a library")
    noise = payload.get("noise", [])
    if not isinstance(noise, list):
        raise CatalogueDamaged(f"{path} has a noise list that is not a list")
    songs = [song_from_entry(entry) for entry in payload["songs"]]
    clips = [noise_from_entry(entry) for entry in noise]
    if len({s.id for s in songs}) != len(songs):
        raise CatalogueDamaged(f"{path} lists the same song twice")
    if len({(n.pack, n.id) for n in clips}) != len(clips):
        raise CatalogueDamaged(f"{path} lists the same noise clip twice")
    return Contents(songs, clips)


def song_from_entry(entry: Any) -> Song:
    """A song from an untrusted mapping (a record file, a JSON entry); ``CatalogueDamaged`` if invalid."""
    return Song(**_checked_fields(entry, Song, "song"))


def noise_from_entry(entry: Any) -> NoiseClip:
    fields = _checked_fields(entry, NoiseClip, "noise clip")
    if not _PACK_NAME.match(fields["pack"]):
        raise CatalogueDamaged(f"a noise clip entry has an invalid pack name: {fields['pack'][:40]!r}")
    return NoiseClip(**fields)


def is_pack_name(name: str) -> bool:
    return bool(_PACK_NAME.match(name))


def is_item_id(name: str) -> bool:
    return bool(_ID.match(name))


def _checked(fields: dict[str, Any], checksum: Any, kind: type, what: str) -> Any:
    entry = noise_from_entry(fields) if kind is NoiseClip else song_from_entry(fields)
    if checksum != row_checksum(entry):
        raise CatalogueDamaged(f"the {what} entry {entry.id} fails its checksum: it was edited or damaged")
    return entry


def _checked_fields(entry: Any, kind: type, what: str) -> dict[str, Any]:
    """The known fields of ``kind`` from ``entry``, type-checked; unknown keys are ignored. Ids and
    pack names become file names, so only our own hex ids are accepted."""
    if not isinstance(entry, dict):
        raise CatalogueDamaged(f"a {what} entry is not an object: {str(entry)[:80]}")
    fields: dict[str, Any] = {}
    for name, spec in kind.__dataclass_fields__.items():  # type: ignore[attr-defined]
        if name not in entry:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise CatalogueDamaged(f"a {what} entry has no {name!r}: {str(entry)[:80]}")
            continue
        value = entry[name]
        if name == "duration":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise CatalogueDamaged(f"a {what} entry has an invalid duration: {str(value)[:40]}")
            value = float(value)
        elif not isinstance(value, str):
            raise CatalogueDamaged(f"a {what} entry has a non-text {name!r}: {str(value)[:40]}")
        fields[name] = value
    if not _ID.match(fields["id"]):
        raise CatalogueDamaged(f"a {what} entry has an invalid id: {fields['id'][:40]!r}")
    return fields


def _insert(conn: sqlite3.Connection, table: str, entries: Iterable[Song | NoiseClip], names: tuple[str, ...]) -> None:
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(names)}, checksum) VALUES ({', '.join('?' * (len(names) + 1))})",
        [(*(getattr(e, name) for name in names), row_checksum(e)) for e in entries],
    )


def _insert_songs(conn: sqlite3.Connection, songs: Iterable[Song]) -> None:
    _insert(conn, "songs", songs, _SONG_FIELDS)


def _insert_noise(conn: sqlite3.Connection, clips: Iterable[NoiseClip]) -> None:
    _insert(conn, "noise", clips, _NOISE_FIELDS)


def _companion(path: Path, suffix: str) -> Path:
    """SQLite's side files are named by appending to the database's name."""
    return path.with_name(path.name + suffix)
