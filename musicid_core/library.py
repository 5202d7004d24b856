"""The song and noise library on disk.

Layout of the data folder::

    catalogue.sqlite        the list of songs and noise clips (SQLite, WAL; see ``catalogue``),
                            with -wal/-shm beside it while a process has it open
    catalogue.json.migrated the JSON catalogue of earlier versions, kept after its one-time import
    songs/<id>.ogg          decoded audio as Ogg Vorbis, 22050 Hz mono (``audio.stored``): about
                            0.3x the user's files, and seekable, so training reads random 5 s
                            fragments without decoding whole songs
    songs/<id>.npy          the float16 PCM earlier versions stored instead; read as before, and
                            converted by ``compact_songs`` (``musicid library compact``)
    songs/<id>.json         the song's own record, so a damaged catalogue can be rebuilt
    noise/<pack>/<id>.npy   decoded noise clips, float16 mono 22050 Hz (short: kept as PCM)
    noise/<pack>/<id>.json  the clip's own record, for the same reason
    index/                  each song's landmarks and tonal profiles (``song_index``): what
                            makes a song identifiable as soon as it is added
    models/                 model bundles (see ``models.store``)
    .lock                   a file lock: the app and the command line may share one folder

Every change takes the lock and is one catalogue transaction, so two processes never lose each
other's edits, and a damaged catalogue is never changed (an add first lists the songs, which
validates them; a removal validates every row in its transaction). Audio files are written
before the catalogue names them: a crash leaves at worst an orphan file, never a catalogue entry
without its audio.

A damaged, hand-edited or missing catalogue is never silently used or replaced: reads raise a
``LibraryError`` that says to run ``musicid library repair``, which sets the bad file aside as
``catalogue.sqlite.damaged-<time>`` and rebuilds the catalogue from the per-item records. A data
folder of an earlier version (``catalogue.json``) is migrated once, when it is first opened.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np
from filelock import FileLock, Timeout

from musicid_core import diskspace, safezip
from musicid_core.audio import stored
from musicid_core.audio.decode import AUDIO_EXTENSIONS, estimated_seconds, is_audio_file, load_audio
from musicid_core.catalogue import (
    CATALOGUE_FILE,
    LEGACY_FILE,
    SCHEMA_VERSION,
    Catalogue,
    CatalogueDamaged,
    Contents,
    NoiseClip,
    Song,
    is_item_id,
    is_pack_name,
    noise_from_entry,
    read_legacy_json,
    song_from_entry,
)
from musicid_core.config import DEFAULT_FEATURES
from musicid_core.errors import AudioError, LibraryError, MusicIdError
from musicid_core.paths import data_dir as default_data_dir
from musicid_core.progress import ProgressFn, ShouldStopFn, or_default
from musicid_core.storage import atomic_save_npy, atomic_write_bytes, file_sha256
from musicid_core.tags import read_title

CATALOGUE_SCHEMA = SCHEMA_VERSION
MIN_SONG_SECONDS = DEFAULT_FEATURES.fragment_samples / DEFAULT_FEATURES.sample_rate
MIN_NOISE_SECONDS = 0.5
DEFAULT_PACK = "default"
NOISE_BYTES_PER_SECOND = DEFAULT_FEATURES.sample_rate * 2
"""Noise clips stay float16 PCM (short clips, read whole by training's noise bank)."""


@dataclass
class RepairReport:
    """What ``Library.repair`` did, in words a person can act on."""

    quarantined: Optional[Path] = None
    """Where the damaged catalogue was moved (None when it was readable)."""
    reason: str = ""
    songs: int = 0
    noise: int = 0
    dropped: list[str] = field(default_factory=list)
    """Entries or files that could not be kept, each with the reason."""
    removed_temporary: int = 0
    rebuilt: bool = False
    """True when the catalogue was unreadable or missing and was rebuilt from the item records."""

    @property
    def changed(self) -> bool:
        return self.rebuilt or bool(self.dropped)

    def summary(self) -> str:
        if self.rebuilt:
            moved = f"it was moved to {self.quarantined.name} and " if self.quarantined is not None else ""
            head = (f"the catalogue was unusable ({self.reason}); {moved}"
                    f"rebuilt with {self.songs} songs and {self.noise} noise clips")
        elif self.dropped:
            head = f"the catalogue was readable; {len(self.dropped)} entries whose audio is missing were removed"
        else:
            head = f"the catalogue is healthy ({self.songs} songs, {self.noise} noise clips); nothing to repair"
        return head


@dataclass
class ImportReport:
    """What a batch import did: it carries on past bad files and says why each one failed."""

    added: list[Any] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, existing title)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False


def songs_fingerprint(songs: Iterable[Song]) -> str:
    """The fingerprint of a set of songs (order does not matter); see ``Library.fingerprint``."""
    from musicid_core.storage import payload_checksum

    return payload_checksum(sorted(s.id for s in songs))[:16]


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, plus the audio files found (recursively, sorted) inside given folders."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_audio_file(p)))
        else:
            found.append(path)
    return found


class Library:
    """One data folder. Cheap to construct; every read goes to disk, so it never goes stale."""

    def __init__(self, root: Path | str | None = None, *, lock_timeout: float = 30.0) -> None:
        self.root = Path(root) if root is not None else default_data_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.root / ".lock"), timeout=lock_timeout)
        self._catalogue = Catalogue(self.catalogue_path, timeout=lock_timeout)
        if not self.catalogue_path.exists() or self.legacy_catalogue_path.exists():
            with self.locked():
                self._ensure_catalogue(strict=False)

    # ----- paths
    @property
    def catalogue_path(self) -> Path:
        return self.root / CATALOGUE_FILE

    @property
    def legacy_catalogue_path(self) -> Path:
        """The JSON catalogue of earlier versions, imported once (see ``Catalogue.migrate_from``)."""
        return self.root / LEGACY_FILE

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def song_path(self, song: Song | str) -> Path:
        """The song's stored audio: its ``.ogg``, else an earlier version's ``.npy``, else where
        the ``.ogg`` goes (a missing file is reported by whoever reads it)."""
        song_id = song if isinstance(song, str) else song.id
        current = self.root / "songs" / stored.stored_name(song_id)
        legacy = current.with_suffix(stored.LEGACY_SUFFIX)
        return legacy if not current.exists() and legacy.exists() else current

    def noise_path(self, clip: NoiseClip) -> Path:
        return self.root / "noise" / clip.pack / f"{clip.id}.npy"

    # ----- reading
    def songs(self) -> list[Song]:
        return self._read().songs

    def song(self, song_id: str) -> Song:
        for song in self.songs():
            if song.id == song_id:
                return song
        raise LibraryError(f"no song with id {song_id!r} in the library (see 'musicid library list')")

    def noise_clips(self, pack: str | None = None) -> list[NoiseClip]:
        return [c for c in self._read().noise if pack is None or c.pack == pack]

    def noise_packs(self) -> dict[str, list[NoiseClip]]:
        packs: dict[str, list[NoiseClip]] = {}
        for clip in self.noise_clips():
            packs.setdefault(clip.pack, []).append(clip)
        return packs

    def song_audio(self, song: Song | str) -> np.ndarray:
        """The whole song, mono float32 at 22050 Hz (decoded; for fragments use ``song_reader``)."""
        reader = self.song_reader(song)
        try:
            return reader.read()
        except stored.StoredAudioError as exc:
            raise self._audio_error(song, reader.path, str(exc)) from None

    def song_reader(self, song: Song | str) -> stored.StoredAudio:
        """The song read on demand: ``len()`` samples, and slices decoded as mono float32 at
        22050 Hz, so training draws fragments from any number of songs in constant memory."""
        path = self.song_path(song)
        try:
            return stored.StoredAudio(path)
        except stored.StoredAudioError as exc:
            raise self._audio_error(song, path, str(exc)) from None

    def noise_audio(self, clip: NoiseClip) -> np.ndarray:
        return self._load_npy(self.noise_path(clip), f"noise clip {clip.name!r}")

    def fingerprint(self) -> str:
        """Identifies the set of songs: a model trained on another set is out of date."""
        return songs_fingerprint(self.songs())

    def problems(self) -> list[str]:
        """Things edited behind our back: catalogue entries whose audio is missing or unreadable."""
        issues = []
        for song in self.songs():
            path = self.song_path(song)
            if not path.is_file():
                issues.append(f"song {song.title!r} ({song.id}): its audio file {path} is missing")
        for clip in self.noise_clips():
            if not self.noise_path(clip).is_file():
                issues.append(f"noise clip {clip.name!r} in pack {clip.pack!r}: its audio file is missing")
        return issues

    # ----- changing
    def add_songs(
        self,
        paths: Iterable[str | Path],
        progress: Optional[ProgressFn] = None,
        should_stop: Optional[ShouldStopFn] = None,
        on_added: Optional[Callable[[Song], None]] = None,
    ) -> ImportReport:
        """Import songs (files or folders). Bad files are reported and skipped; the rest go in.
        ``on_added`` is called with each song once the catalogue holds it (``training.enrolment``
        indexes it there, so an interrupted import leaves every imported song indexed)."""
        progress, should_stop = or_default(progress, should_stop)
        files = expand_paths(paths)
        report = ImportReport()
        needed = _estimated_import_bytes(files, {(s.source, round(s.duration)) for s in self.songs()})
        if needed:
            diskspace.ensure_free_space(self.root, needed, doing=f"importing {len(files)} songs")
        for index, path in enumerate(files):
            if should_stop():
                report.cancelled = True
                break
            progress(index / max(len(files), 1), f"Importing {path.name}")
            try:
                with diskspace.translated(f"importing {path.name}", self.root,
                                          cleanup=self._orphan_remover(path, self.root / "songs")):
                    outcome = self._add_one_song(path)
            except diskspace.StorageError as exc:  # the files after it would fail too: stop here
                raise exc.noting(_kept(report, "songs")) from None
            except MusicIdError as exc:
                report.failed.append((str(path), str(exc.reason if isinstance(exc, AudioError) else exc)))
                continue
            if isinstance(outcome, Song):
                report.added.append(outcome)
                if on_added is not None:
                    on_added(outcome)
            else:
                report.duplicates.append((str(path), outcome))
        progress(1.0, f"Imported {len(report.added)} of {len(files)} files")
        return report

    def remove_song(self, song_id: str) -> Song:
        with self._changing() as catalogue:
            removed = catalogue.remove_song(song_id)
            if removed is None:
                raise LibraryError(f"no song with id {song_id!r} in the library (see 'musicid library list')")
            # The catalogue no longer names them; deleting after the write keeps a crash harmless.
            # The record goes first so that a later rebuild cannot bring a removed song back.
            audio = self.root / "songs" / stored.stored_name(song_id)
            audio.with_suffix(".json").unlink(missing_ok=True)
            audio.unlink(missing_ok=True)
            audio.with_suffix(stored.LEGACY_SUFFIX).unlink(missing_ok=True)
        return removed

    def add_noise(
        self,
        paths: Iterable[str | Path],
        pack: str = DEFAULT_PACK,
        progress: Optional[ProgressFn] = None,
        should_stop: Optional[ShouldStopFn] = None,
    ) -> ImportReport:
        """Import noise recordings (files, folders or .zip files) into the pack ``pack``."""
        if not is_pack_name(pack):
            raise LibraryError(f"{pack!r} is not a usable pack name: use letters, digits, spaces, '-', '_' or '.'")
        progress, should_stop = or_default(progress, should_stop)
        report = ImportReport()
        doing = f"importing noise into the pack {pack!r}"
        needed = _estimated_noise_bytes(paths, {(c.name, round(c.duration)) for c in self.noise_clips(pack)})
        if needed:
            diskspace.ensure_free_space(self.root, needed, doing=doing)
        with diskspace.translated(doing, self.root):
            scratch = Path(tempfile.mkdtemp(prefix="zip-", dir=self._scratch_dir()))  # unpacked zip members
        try:
            with diskspace.translated(doing, self.root):
                sources = list(self._noise_sources(paths, report, scratch))
            for index, (label, path, cleanup) in enumerate(sources):
                if should_stop():
                    report.cancelled = True
                    break
                progress(index / max(len(sources), 1), f"Importing noise {label}")
                try:
                    with diskspace.translated(f"importing noise {Path(label).name}", self.root,
                                              cleanup=self._orphan_remover(path, self.root / "noise" / pack)):
                        outcome = self._add_one_noise(path, label, pack)
                except diskspace.StorageError as exc:  # the clips after it would fail too: stop here
                    raise exc.noting(_kept(report, "noise clips")) from None
                except MusicIdError as exc:
                    report.failed.append((label, str(exc.reason if isinstance(exc, AudioError) else exc)))
                    continue
                finally:
                    if cleanup:
                        path.unlink(missing_ok=True)
                if isinstance(outcome, NoiseClip):
                    report.added.append(outcome)
                else:
                    report.duplicates.append((label, outcome))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        progress(1.0, f"Imported {len(report.added)} noise clips")
        return report

    def remove_noise_pack(self, pack: str) -> int:
        with self._changing() as catalogue:
            removed = catalogue.remove_noise_pack(pack)
            if removed == 0:
                raise LibraryError(f"no noise pack named {pack!r}")
            shutil.rmtree(self.root / "noise" / pack, ignore_errors=True)
        return removed

    def repair(self) -> RepairReport:
        """Make the catalogue usable again without losing anything that can be kept.

        A catalogue that cannot be used (not SQLite, failing its integrity check, another schema,
        a bad or edited row; or an earlier version's ``catalogue.json`` that is damaged) is moved
        aside to ``catalogue.sqlite.damaged-<time>`` (``catalogue.json.damaged-<time>``) and rebuilt
        from ``songs/<id>.json``/``.npy`` and the noise files; a readable one only loses entries
        whose audio is gone. Nothing is deleted except entries without audio and temporary files
        older than an hour (left by a crash)."""
        with self.locked():
            report = RepairReport(removed_temporary=self._remove_stale_temporaries())
            self._ensure_catalogue(strict=False)  # a valid earlier catalogue.json is imported first
            try:
                contents = self._without_missing_audio(self._read_unexplained(thorough=True), report)
            except CatalogueDamaged as exc:  # also damage that only a change runs into
                report.reason, report.rebuilt, report.dropped = str(exc), True, []
                report.quarantined = self._quarantine_catalogue()
                contents = Contents(self._songs_from_records(report), self._noise_from_files(report))
                self._catalogue.rebuild(contents.songs, contents.noise)
            report.songs, report.noise = len(contents.songs), len(contents.noise)
        return report

    def legacy_songs(self) -> list[Song]:
        """Songs still stored as an earlier version's float16 ``.npy`` (see ``compact_songs``)."""
        return [s for s in self.songs() if self.song_path(s).suffix == stored.LEGACY_SUFFIX]

    def compact_songs(
        self, progress: Optional[ProgressFn] = None, should_stop: Optional[ShouldStopFn] = None
    ) -> int:
        """Re-store every song kept as an earlier version's ``.npy`` as Ogg Vorbis (about a tenth
        of the size); returns how many were converted. One song at a time, under the lock: the
        ``.ogg`` is written atomically, then the ``.npy`` deleted, so a crash or a cancel leaves
        every song readable (a song with both files reads its ``.ogg``), and running it again
        carries on where it stopped. The catalogue is not changed: a song's id is its source's."""
        progress, should_stop = or_default(progress, should_stop)
        songs, converted = self.songs(), 0
        for index, song in enumerate(songs):
            if should_stop():
                break
            progress(index / max(len(songs), 1), f"Compacting {song.title}")
            with self.locked():
                current = self.root / "songs" / stored.stored_name(song.id)
                legacy = current.with_suffix(stored.LEGACY_SUFFIX)
                if not legacy.exists() or song.id not in {s.id for s in self.songs()}:
                    continue  # already converted, or removed meanwhile
                if not current.exists():
                    audio = self.song_audio(song)  # a damaged .npy stops here with its message
                    encoded = stored.encode_vorbis(audio)
                    doing = f"compacting the audio of {song.title!r}"
                    diskspace.ensure_free_space(self.root, len(encoded), doing=doing)
                    with diskspace.translated(doing, self.root):
                        atomic_write_bytes(current, encoded)
                legacy.unlink()
                converted += 1
        progress(1.0, f"Compacted {converted} songs")
        return converted

    @contextmanager
    def locked(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except Timeout:
            raise LibraryError(
                f"the library in {self.root} is busy (another MusicID is changing it); try again shortly"
            ) from None

    # ----- internals
    def _add_one_song(self, path: Path) -> Song | str:
        if not is_audio_file(path) and path.exists():
            raise AudioError(path, f"unsupported file type {path.suffix or '(none)'!r}")
        digest = _digest(path, str(path))
        existing = self._find_song(digest) if digest else None
        if existing is not None:
            return existing.title
        audio = load_audio(path, min_seconds=MIN_SONG_SECONDS)
        title, artist = read_title(path)
        song = Song(
            id=digest[:12],
            title=title,
            source=path.name,
            duration=round(audio.size / DEFAULT_FEATURES.sample_rate, 2),
            sha256=digest,
            added=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            artist=artist,
        )
        encoded = stored.encode_vorbis(audio)
        diskspace.ensure_free_space(self.root, len(encoded), doing=f"importing {path.name}")
        target = self.root / "songs" / stored.stored_name(song.id)
        atomic_write_bytes(target, encoded)
        atomic_write_bytes(target.with_suffix(".json"), _json_bytes(asdict(song)))
        with self._changing() as catalogue:
            if not catalogue.add_song(song):
                return song.title  # another process added it meanwhile; its files are identical
        return song

    def _find_song(self, digest: str) -> Song | None:
        """The song with this content; a song rebuilt without its record matches by id."""
        return next((s for s in self.songs() if s.sha256 == digest or s.id == digest[:12]), None)

    def _noise_sources(
        self, paths: Iterable[str | Path], report: ImportReport, scratch: Path
    ) -> Iterator[tuple[str, Path, bool]]:
        """(label, file to decode, delete afterwards?) for every noise input, unpacking zips safely."""
        for path in expand_paths(_expand_zip_dirs(paths)):
            if path.suffix.lower() != ".zip":
                yield path.name, path, False
                continue
            try:
                members = list(safezip.audio_members(path, AUDIO_EXTENSIONS))
            except AudioError as exc:
                report.failed.append((str(path), exc.reason))
                continue
            yield from _extracted_members(path, members, Path(tempfile.mkdtemp(dir=scratch)), report)

    def _scratch_dir(self) -> Path:
        scratch = self.root / "tmp"
        scratch.mkdir(exist_ok=True)
        return scratch

    def _add_one_noise(self, path: Path, label: str, pack: str) -> NoiseClip | str:
        # Unpacked zip members live in the data folder: if it vanished, say so, not "no such file".
        diskspace.ensure_free_space(self.root, 0, doing=f"importing noise {Path(label).name}")
        if not is_audio_file(path) and path.exists():
            raise AudioError(label, f"unsupported file type {path.suffix or '(none)'!r}")
        digest = _digest(path, label)
        for clip in self.noise_clips(pack):
            if clip.sha256 == digest or clip.id == digest[:12]:
                return clip.name
        audio = load_audio(path, min_seconds=MIN_NOISE_SECONDS, max_seconds=10 * 60)
        clip = NoiseClip(
            id=digest[:12],
            pack=pack,
            name=Path(label.split(":")[-1]).name,
            duration=round(audio.size / DEFAULT_FEATURES.sample_rate, 2),
            sha256=digest,
        )
        diskspace.ensure_free_space(self.root, audio.size * 2, doing=f"importing noise {clip.name}")
        atomic_save_npy(self.noise_path(clip), audio.astype(np.float16))
        atomic_write_bytes(self.noise_path(clip).with_suffix(".json"), _json_bytes(asdict(clip)))
        with self._changing() as catalogue:
            catalogue.add_noise(clip)
        return clip

    def _orphan_remover(self, source: Path, folder: Path) -> Any:
        """For a failed import of ``source``: a clean-up that removes the item's files in ``folder``
        (audio, record) written since now, unless the catalogue names the item after all. Only
        runs after a failure, so hashing the source again to find the item's id costs nothing."""
        started = time.time() - 1.0

        def remove() -> None:
            item_id = _digest(source, str(source))[:12]
            try:
                named = {s.id for s in self.songs()} | {c.id for c in self.noise_clips()}
            except diskspace.StorageError:
                # The disk is too full even to read the catalogue (SQLite needs room for its
                # shared-memory file): then no process could have committed the item either.
                named = set()
            if not item_id or item_id in named:
                return
            for path in (folder / f"{item_id}{stored.SUFFIX}", folder / f"{item_id}.npy", folder / f"{item_id}.json"):
                if path.exists() and path.stat().st_mtime >= started:
                    path.unlink(missing_ok=True)

        return remove

    def _read(self) -> Contents:
        """The validated catalogue; a damaged one raises ``LibraryError`` naming the fix."""
        diskspace.ensure_present(self.root, doing="reading the library")
        with self._explained():
            return self._read_unexplained()

    def _read_unexplained(self, *, thorough: bool = False) -> Contents:
        if self.catalogue_path.exists():
            return self._catalogue.read(thorough=thorough)
        if self.legacy_catalogue_path.exists():  # still in use: not imported yet (or damaged)
            return read_legacy_json(self.legacy_catalogue_path)
        if self._has_item_records():
            raise CatalogueDamaged(f"{self.catalogue_path} is missing although {self.root} holds songs")
        return Contents([], [])

    @contextmanager
    def _explained(self) -> Iterator[None]:
        try:
            yield
        except CatalogueDamaged as exc:
            raise LibraryError(
                f"the library catalogue is damaged: {exc}. Nothing was changed; run 'musicid library repair' "
                "to set it aside and rebuild it from the song files"
            ) from None

    @contextmanager
    def _changing(self) -> Iterator[Catalogue]:
        """The lock, and the catalogue ready for one change (an earlier JSON imported first)."""
        with self.locked(), self._explained():
            self._ensure_catalogue(strict=True)
            yield self._catalogue

    def _ensure_catalogue(self, *, strict: bool) -> None:
        """Under the lock: import an earlier version's ``catalogue.json`` (or finish an import a
        crash interrupted), or start an empty catalogue in a new folder. ``strict``: raise when
        that is impossible (damaged JSON, catalogue missing from a folder with songs) instead of
        leaving it to the next read to report."""
        if self.legacy_catalogue_path.exists():
            try:
                self._catalogue.migrate_from(self.legacy_catalogue_path)
            except CatalogueDamaged:
                if strict:
                    raise
        elif not self.catalogue_path.exists():
            if not self._has_item_records():
                self._catalogue.create_empty()
            elif strict:
                raise CatalogueDamaged(f"{self.catalogue_path} is missing although {self.root} holds songs")

    # ----- repair internals
    def _has_item_records(self) -> bool:
        """Whether songs were ever stored here (so a missing catalogue is damage, not a new folder)."""
        songs = self.root / "songs"
        return songs.is_dir() and any(not p.name.startswith(".") for p in songs.iterdir())

    def _quarantine_catalogue(self) -> Optional[Path]:
        """Set the unusable catalogue aside: the database, or else an earlier version's JSON."""
        moved = self._catalogue.quarantine()
        legacy = self.legacy_catalogue_path
        if moved is None and legacy.exists():
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
            moved = legacy.with_name(f"{legacy.name}.damaged-{stamp}")
            legacy.replace(moved)
        return moved

    def _songs_from_records(self, report: RepairReport) -> list[Song]:
        """Every song whose audio is intact, described by its record (or minimally without one)."""
        songs = []
        folder = self.root / "songs"
        stems = {p.stem for suffix in (stored.SUFFIX, stored.LEGACY_SUFFIX) for p in folder.glob(f"*{suffix}")}
        for song_id in sorted(stems):
            if not is_item_id(song_id):
                continue
            audio_path = self.song_path(song_id)
            record = _read_record(audio_path.with_suffix(".json"), song_from_entry)
            problem = stored.problem(audio_path, record.duration if record is not None else None)
            if problem:
                report.dropped.append(f"song {song_id}: {problem}")
                continue
            if record is None or record.id != song_id:
                seconds = round(stored.StoredAudio(audio_path).seconds, 2)
                record = Song(song_id, f"Recovered song {song_id}", "(recovered)", seconds, "", "")
            songs.append(record)
        return songs

    def _noise_from_files(self, report: RepairReport) -> list[NoiseClip]:
        clips = []
        for audio_path in sorted((self.root / "noise").glob("*/*.npy")):
            pack, clip_id = audio_path.parent.name, audio_path.stem
            if not (is_item_id(clip_id) and is_pack_name(pack)):
                continue
            problem = _npy_problem(audio_path)
            if problem:
                report.dropped.append(f"noise clip {clip_id} in pack {pack!r}: {problem}")
                continue
            record = _read_record(audio_path.with_suffix(".json"), noise_from_entry)
            if record is None or (record.id, record.pack) != (clip_id, pack):
                seconds = round(_npy_length(audio_path) / DEFAULT_FEATURES.sample_rate, 2)
                record = NoiseClip(clip_id, pack, clip_id, seconds, "")
            clips.append(record)
        return clips

    def _without_missing_audio(self, contents: Contents, report: RepairReport) -> Contents:
        """Entries whose audio is intact (the others are removed from the catalogue and listed in
        ``report.dropped``)."""
        gone_songs, gone_noise = [], []
        for song in contents.songs:
            problem = stored.problem(self.song_path(song), song.duration)
            if problem:
                report.dropped.append(f"song {song.title!r} ({song.id}): {problem}")
                gone_songs.append(song)
        for clip in contents.noise:
            problem = _npy_problem(self.noise_path(clip))
            if problem:
                report.dropped.append(f"noise clip {clip.name!r} in pack {clip.pack!r}: {problem}")
                gone_noise.append(clip)
        if gone_songs or gone_noise:
            self._catalogue.remove_entries(gone_songs, gone_noise)
        return Contents([s for s in contents.songs if s not in gone_songs],
                        [c for c in contents.noise if c not in gone_noise])

    def _remove_stale_temporaries(self, older_than: float = 3600.0) -> int:
        """Half-written files from a crash; young ones may belong to an import running now."""
        cutoff, removed = time.time() - older_than, 0
        candidates = [p for p in self.root.rglob(".*.tmp") if p.is_file()]
        candidates += [p for p in self.root.glob(".*.tmp-*") if p.is_file()]  # a catalogue build's side files
        candidates += [p for p in (self.root / "tmp").glob("zip-*")]
        for path in candidates:
            try:
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    @staticmethod
    def _audio_error(song: Song | str, path: Path, problem: str) -> LibraryError:
        what = f"song {song if isinstance(song, str) else song.title!r}"
        if "missing" in problem:
            return LibraryError(f"the audio of {what} is missing ({path}); remove it and add it again")
        return LibraryError(f"the audio of {what} is unusable: {problem} ({path}); "
                            "run 'musicid library repair', then add the song again")

    @staticmethod
    def _load_npy(path: Path, what: str) -> np.ndarray:
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise LibraryError(f"the audio of {what} is missing ({path}); remove it and add it again") from None
        except (OSError, ValueError) as exc:
            raise LibraryError(f"the audio of {what} is damaged ({path}: {exc})") from None
        if array.ndim != 1:
            raise LibraryError(f"the audio of {what} has an unexpected shape {array.shape}")
        return array


def _digest(path: Path, label: str) -> str:
    """The file's SHA-256 ('' when it is not a regular file: decoding then says why)."""
    if not path.is_file():
        return ""
    try:
        return file_sha256(path)
    except PermissionError:
        raise AudioError(label, "permission denied: the file cannot be read") from None
    except OSError as exc:
        raise AudioError(label, f"the file cannot be read ({exc.strerror or exc})") from None


def _read_record(path: Path, parse: Any) -> Any:
    """A song/noise record file, or None when it is missing or unusable."""
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, RecursionError, LibraryError):
        return None


def _npy_length(path: Path) -> int:
    return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])


def _npy_problem(path: Path) -> str:
    """Why a stored audio file cannot be used ('' when it can)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return "its audio file is missing"
    except (OSError, ValueError) as exc:
        return f"its audio file is damaged ({str(exc)[:80]})"
    if array.ndim != 1 or array.size == 0:
        return f"its audio file has an unexpected shape {array.shape}"
    return ""


def _extracted_members(
    path: Path, members: list[tuple[safezip.ZipMember, str | None]], scratch: Path, report: ImportReport
) -> Iterator[tuple[str, Path, bool]]:
    """Unpack each safe member to a name we choose inside ``scratch``; never the zip's own names."""
    for number, (member, reason) in enumerate(members):
        label = f"{path.name}:{member.name}"
        if reason is not None:
            report.failed.append((label, reason))
            continue
        target = scratch / f"{number}{Path(member.name).suffix.lower()}"
        try:
            safezip.extract_member(path, member, target)
        except (AudioError, OSError, ValueError) as exc:
            if diskspace.storage_error(exc, "", scratch) is not None:
                raise  # a full, read-only or vanished disk stops the whole import (see add_noise)
            report.failed.append((label, str(exc)))
            continue
        yield label, target, True


def _expand_zip_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Folders may contain zips; include them (``expand_paths`` only keeps audio)."""
    result: list[Path] = []
    for raw in paths:
        path = Path(raw)
        result.append(path)
        if path.is_dir():
            result.extend(sorted(path.rglob("*.zip")))
    return result


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")


def _kept(report: ImportReport, what: str) -> str:
    """What an import stopped by the disk kept (it runs again without repeating those)."""
    return (f"{len(report.added)} {what} imported before it were kept; after freeing space, the same import "
            "adds the rest and skips those already there")


def _estimated_import_bytes(
    files: Iterable[Path], known: set[tuple[str, int]],
    bytes_per_second: float = stored.ESTIMATED_BYTES_PER_SECOND,
) -> int:
    """What importing ``files`` will store (songs as Ogg Vorbis by default; noise passes float16's
    2 bytes a sample), leaving out files that look like items already there (same name and
    length): re-dropping a folder must not be refused for space."""
    total = 0
    for path in files:
        seconds = estimated_seconds(path)
        if seconds and (path.name, round(seconds)) not in known:
            total += int(seconds * bytes_per_second) + 4096
    return total


def _estimated_noise_bytes(paths: Iterable[str | Path], known: set[tuple[str, int]]) -> int:
    """Like ``_estimated_import_bytes`` for noise; a zip's audio members count by their unpacked
    size (a compressed member decodes to more), plus room to unpack the largest one."""
    total, largest = 0, 0
    for path in expand_paths(_expand_zip_dirs(paths)):
        if path.suffix.lower() != ".zip":
            total += _estimated_import_bytes([path], known, NOISE_BYTES_PER_SECOND)
            continue
        try:
            members = [m for m, reason in safezip.audio_members(path, AUDIO_EXTENSIONS) if reason is None]
        except AudioError:
            continue
        for member in members:
            size = member.info.file_size
            compressed = Path(member.name).suffix.lower() not in {".wav", ".wave", ".aif", ".aiff", ".flac"}
            total += min(size * (6 if compressed else 1), 10 * 60 * DEFAULT_FEATURES.sample_rate * 2) + 4096
            largest = max(largest, size)
    return total + largest
