"""The song and noise library on disk.

Layout of the data folder::

    catalogue.json          checksummed list of songs and noise clips (atomic writes)
    songs/<id>.npy          decoded audio, float16 mono 22050 Hz: memory-mappable, so training
                            reads random 5 s fragments without loading whole songs
    songs/<id>.json         the song's own record, so a damaged catalogue can be rebuilt
    noise/<pack>/<id>.npy   decoded noise clips, same format
    models/                 model bundles (see ``models.store``)
    .lock                   a file lock: the app and the command line may share one folder

Every change takes the lock, re-reads the catalogue, applies itself and writes it back, so two
processes never lose each other's edits. Audio files are written before the catalogue names them:
a crash leaves at worst an orphan file, never a catalogue entry without its audio.
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import numpy as np
from filelock import FileLock, Timeout

from musicid_core import safezip
from musicid_core.audio.decode import AUDIO_EXTENSIONS, is_audio_file, load_audio
from musicid_core.config import DEFAULT_FEATURES
from musicid_core.errors import AudioError, LibraryError, MusicIdError
from musicid_core.paths import data_dir as default_data_dir
from musicid_core.progress import ProgressFn, ShouldStopFn, or_default
from musicid_core.storage import (
    atomic_save_npy,
    atomic_write_bytes,
    file_sha256,
    read_checked_json,
    write_checked_json,
)
from musicid_core.tags import read_title

CATALOGUE_SCHEMA = 1
MIN_SONG_SECONDS = DEFAULT_FEATURES.fragment_samples / DEFAULT_FEATURES.sample_rate
MIN_NOISE_SECONDS = 0.5
DEFAULT_PACK = "default"
_PACK_NAME = re.compile(r"^[\w][\w .-]{0,63}$")


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


@dataclass
class ImportReport:
    """What a batch import did: it carries on past bad files and says why each one failed."""

    added: list[Any] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, existing title)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False


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

    # ----- paths
    @property
    def catalogue_path(self) -> Path:
        return self.root / "catalogue.json"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def song_path(self, song: Song | str) -> Path:
        song_id = song if isinstance(song, str) else song.id
        return self.root / "songs" / f"{song_id}.npy"

    def noise_path(self, clip: NoiseClip) -> Path:
        return self.root / "noise" / clip.pack / f"{clip.id}.npy"

    # ----- reading
    def songs(self) -> list[Song]:
        return [Song(**s) for s in self._read()["songs"]]

    def song(self, song_id: str) -> Song:
        for song in self.songs():
            if song.id == song_id:
                return song
        raise LibraryError(f"no song with id {song_id!r} in the library (see 'musicid library list')")

    def noise_clips(self, pack: str | None = None) -> list[NoiseClip]:
        clips = [NoiseClip(**n) for n in self._read()["noise"]]
        return [c for c in clips if pack is None or c.pack == pack]

    def noise_packs(self) -> dict[str, list[NoiseClip]]:
        packs: dict[str, list[NoiseClip]] = {}
        for clip in self.noise_clips():
            packs.setdefault(clip.pack, []).append(clip)
        return packs

    def song_audio(self, song: Song | str) -> np.ndarray:
        """The song as a read-only float16 memory map (convert slices with ``astype``)."""
        return self._load_npy(self.song_path(song), f"song {song if isinstance(song, str) else song.title!r}")

    def noise_audio(self, clip: NoiseClip) -> np.ndarray:
        return self._load_npy(self.noise_path(clip), f"noise clip {clip.name!r}")

    def fingerprint(self) -> str:
        """Identifies the set of songs: a model trained on another set is out of date."""
        from musicid_core.storage import payload_checksum

        return payload_checksum(sorted(s.id for s in self.songs()))[:16]

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
    ) -> ImportReport:
        """Import songs (files or folders). Bad files are reported and skipped; the rest go in."""
        progress, should_stop = or_default(progress, should_stop)
        files = expand_paths(paths)
        report = ImportReport()
        for index, path in enumerate(files):
            if should_stop():
                report.cancelled = True
                break
            progress(index / max(len(files), 1), f"Importing {path.name}")
            try:
                outcome = self._add_one_song(path)
            except MusicIdError as exc:
                report.failed.append((str(path), str(exc.reason if isinstance(exc, AudioError) else exc)))
                continue
            if isinstance(outcome, Song):
                report.added.append(outcome)
            else:
                report.duplicates.append((str(path), outcome))
        progress(1.0, f"Imported {len(report.added)} of {len(files)} files")
        return report

    def remove_song(self, song_id: str) -> Song:
        with self.locked():
            catalogue = self._read()
            kept = [s for s in catalogue["songs"] if s["id"] != song_id]
            if len(kept) == len(catalogue["songs"]):
                raise LibraryError(f"no song with id {song_id!r} in the library (see 'musicid library list')")
            removed = Song(**next(s for s in catalogue["songs"] if s["id"] == song_id))
            catalogue["songs"] = kept
            self._write(catalogue)
            # The catalogue no longer names them; deleting after the write keeps a crash harmless.
            self.song_path(song_id).unlink(missing_ok=True)
            self.song_path(song_id).with_suffix(".json").unlink(missing_ok=True)
        return removed

    def add_noise(
        self,
        paths: Iterable[str | Path],
        pack: str = DEFAULT_PACK,
        progress: Optional[ProgressFn] = None,
        should_stop: Optional[ShouldStopFn] = None,
    ) -> ImportReport:
        """Import noise recordings (files, folders or .zip files) into the pack ``pack``."""
        if not _PACK_NAME.match(pack):
            raise LibraryError(f"{pack!r} is not a usable pack name: use letters, digits, spaces, '-', '_' or '.'")
        progress, should_stop = or_default(progress, should_stop)
        report = ImportReport()
        sources = list(self._noise_sources(paths, report))
        for index, (label, path, cleanup) in enumerate(sources):
            if should_stop():
                report.cancelled = True
                break
            progress(index / max(len(sources), 1), f"Importing noise {label}")
            try:
                outcome = self._add_one_noise(path, label, pack)
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
        progress(1.0, f"Imported {len(report.added)} noise clips")
        return report

    def remove_noise_pack(self, pack: str) -> int:
        with self.locked():
            catalogue = self._read()
            kept = [n for n in catalogue["noise"] if n["pack"] != pack]
            removed = len(catalogue["noise"]) - len(kept)
            if removed == 0:
                raise LibraryError(f"no noise pack named {pack!r}")
            catalogue["noise"] = kept
            self._write(catalogue)
            shutil.rmtree(self.root / "noise" / pack, ignore_errors=True)
        return removed

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
        digest = file_sha256(path) if path.is_file() else ""
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
        atomic_save_npy(self.song_path(song), audio.astype(np.float16))
        atomic_write_bytes(self.song_path(song).with_suffix(".json"), _json_bytes(asdict(song)))
        with self.locked():
            catalogue = self._read()
            if any(s["sha256"] == digest for s in catalogue["songs"]):
                return song.title  # another process added it meanwhile; its files are identical
            catalogue["songs"].append(asdict(song))
            self._write(catalogue)
        return song

    def _find_song(self, digest: str) -> Song | None:
        return next((s for s in self.songs() if s.sha256 == digest), None)

    def _noise_sources(self, paths: Iterable[str | Path], report: ImportReport) -> Iterator[tuple[str, Path, bool]]:
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
            scratch = Path(tempfile.mkdtemp(prefix="zip-", dir=self._scratch_dir()))
            for number, (member, reason) in enumerate(members):
                label = f"{path.name}:{member.name}"
                if reason is not None:
                    report.failed.append((label, reason))
                    continue
                target = scratch / f"{number}{Path(member.name).suffix.lower()}"
                try:
                    safezip.extract_member(path, member, target)
                except (AudioError, OSError, ValueError) as exc:
                    report.failed.append((label, str(exc)))
                    continue
                yield label, target, True

    def _scratch_dir(self) -> Path:
        scratch = self.root / "tmp"
        scratch.mkdir(exist_ok=True)
        return scratch

    def _add_one_noise(self, path: Path, label: str, pack: str) -> NoiseClip | str:
        if not is_audio_file(path) and path.exists():
            raise AudioError(label, f"unsupported file type {path.suffix or '(none)'!r}")
        digest = file_sha256(path) if path.is_file() else ""
        for clip in self.noise_clips(pack):
            if clip.sha256 == digest:
                return clip.name
        audio = load_audio(path, min_seconds=MIN_NOISE_SECONDS, max_seconds=10 * 60)
        clip = NoiseClip(
            id=digest[:12],
            pack=pack,
            name=Path(label.split(":")[-1]).name,
            duration=round(audio.size / DEFAULT_FEATURES.sample_rate, 2),
            sha256=digest,
        )
        atomic_save_npy(self.noise_path(clip), audio.astype(np.float16))
        with self.locked():
            catalogue = self._read()
            if not any(n["sha256"] == digest and n["pack"] == pack for n in catalogue["noise"]):
                catalogue["noise"].append(asdict(clip))
                self._write(catalogue)
        return clip

    def _read(self) -> dict[str, Any]:
        if not self.catalogue_path.exists():
            return {"songs": [], "noise": []}
        payload = read_checked_json(self.catalogue_path, CATALOGUE_SCHEMA)
        if not isinstance(payload, dict) or not isinstance(payload.get("songs"), list):
            raise LibraryError(f"{self.catalogue_path} does not describe a library")
        payload.setdefault("noise", [])
        for entry in payload["songs"]:
            _check_song_entry(entry, self.catalogue_path)
        return payload

    def _write(self, catalogue: dict[str, Any]) -> None:
        write_checked_json(self.catalogue_path, CATALOGUE_SCHEMA, catalogue)

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


_ID = re.compile(r"^[0-9a-f]{12}$")


def _check_song_entry(entry: Any, where: Path) -> None:
    """Catalogue ids become file names: refuse anything that is not our own hex id."""
    if not isinstance(entry, dict) or not _ID.match(str(entry.get("id", ""))):
        raise LibraryError(f"{where} holds a song entry with an invalid id: {str(entry)[:80]}")


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
    import json

    return json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
