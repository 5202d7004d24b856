"""The library's index of its songs' recordings: landmarks and tonal profiles, one file per song.

Why beside the library and not only in a model bundle: a song dropped into the library must be
identifiable within seconds, long before the network is retrained (issue 14). Its landmarks
(``musicid_core.fingerprint``) and tonal profiles (``musicid_core.tonal_profile``) need no
training, so each song's analysis is written once when the song is enrolled and deleted when it
is removed; the recogniser's in-memory ``FingerprintIndex`` is assembled from these files for the
songs the catalogue lists, so a removed song, or one whose analysis never finished, is never
matched. The network then contributes what it knows (``recognizer``): songs it was trained on get
its probabilities, songs added since get a neutral prior until the next training.

Layout, inside the data folder::

    index/<song id>.npz   the song's landmarks (hashes, anchor frames) and int8 tonal profiles,
                          with the analysis parameters they were made with
    index/margins.json    verdict margins calibrated for the library's songs
                          (``training.enrolment``), with the number of songs they were set for
    index/shortlist_basis.npz
                          the shortlist's projection, fitted on this library's own songs
                          (``shortlist.fit_basis``) with the number of songs it was fitted on
    index/packs/          for a library of more than ``PACKED_ABOVE`` songs: the same analyses
                          gathered into memory-mapped packs (``musicid_core.index_pack``), which
                          a recording is matched through with a shortlist
                          (``musicid_core.shortlisted_index``); the per-song files stay the
                          source every pack is made (and remade) from

An analysis made with other parameters (an upgrade changed the landmark scheme) or damaged on
disk is treated as missing and made again by ``update``; nothing is ever matched against it.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from musicid_core import diskspace, fingerprint, index_pack, tonal_profile, verdict
from musicid_core.catalogue import Song
from musicid_core.errors import MusicIdError
from musicid_core.fingerprint import PEAKS_PER_SECOND, FingerprintIndex, Landmarks, RecordingMatcher, landmarks
from musicid_core.library import Library, songs_fingerprint
from musicid_core.models.store import SongLabel
from musicid_core import shortlist
from musicid_core.shortlist import song_summaries
from musicid_core.shortlisted_index import ShortlistedIndex
from musicid_core.progress import ProgressFn, ShouldStopFn, or_default
from musicid_core.storage import atomic_write_bytes
from musicid_core.tonal_profile import QUANTISATION, ProfileIndex, tonal_profiles

log = logging.getLogger(__name__)

INDEX_DIR = "index"
MARGINS_FILE = "margins.json"
BASIS_FILE = "shortlist_basis.npz"
FIT_SONGS = 1000
"""Songs (a seeded sample of the library) the shortlist basis is fitted on."""
ANALYSIS_PARAMETERS = fingerprint.ANALYSIS_PARAMETERS
"""Everything an analysis depends on; an analysis stored with other values is made again."""
QUERY_ANALYSIS_PARAMETERS = (
    fingerprint.QUERY_PEAKS_PER_SECOND, fingerprint.QUERY_DT_JITTER, fingerprint.OFFSET_TOLERANCE,
    tonal_profile.QUERY_STRIDE, round(tonal_profile.QUERY_STEADY_SHARE * 1000),
)
"""What a recording's analysis and matching depend on beyond ``ANALYSIS_PARAMETERS``."""
QUERY_PARAMETERS = QUERY_ANALYSIS_PARAMETERS + (shortlist.QUERY_PARTS, shortlist.QUERY_VERSION, verdict.VERSION)
"""``QUERY_ANALYSIS_PARAMETERS``, how the shortlist summarises a recording (a large library's
margins are calibrated through it) and the verdict the margins were scaled for: margins calibrated
with other values measured other evidence, and are calibrated again (at enrolment, and when a
recogniser is loaded: ``training.enrolment.recalibrate_if_outdated``)."""
PACKED_ABOVE = 250
"""Libraries of more songs are matched through packs and a shortlist (``index_pack``): at 250
songs the in-memory index holds about 0.7 GB, and a recording's lookups grow with every song."""
MAX_PACKS = 8
"""Packs a snapshot opens before it merges the smaller ones."""
DEAD_SHARE = 0.25
"""Share of packed songs no longer in the library (removed) at which every pack is rewritten."""
ANALYSIS_BYTES_PER_SECOND = 4000
"""Disk per second of song for its analysis, measured about 3 KB compressed; used to ask for room."""


@dataclass(frozen=True)
class SongAnalysis:
    """What the index keeps of one song: its landmarks and its quantised tonal profiles."""

    landmarks: Landmarks
    profiles: np.ndarray  # (blocks, bins) int8, value x QUANTISATION


def analyse(audio: np.ndarray) -> SongAnalysis:
    """Landmarks and tonal profiles of a whole song (mono, 22050 Hz)."""
    audio = np.asarray(audio, dtype=np.float32)
    profiles = tonal_profiles(audio)
    quantised = np.clip(np.round(profiles * QUANTISATION), -127, 127).astype(np.int8)
    return SongAnalysis(landmarks(audio, PEAKS_PER_SECOND), quantised)


@dataclass(frozen=True)
class Margins:
    """Verdict thresholds for the library's size (see ``training.fingerprints.calibrate_margin``)."""

    fingerprint_margin: float
    profile_margin: float
    songs: int
    """How many songs the library had when they were calibrated."""
    impostors_rejected: Optional[float] = None
    """Share of the calibration's impostor recordings the verdict rejects with these margins
    (None for margins stored before it was measured)."""
    speeds: tuple[float, ...] = ()
    """The search speeds the impostors were tried at (``musicid_core.speed_search``); empty for
    margins calibrated at nominal speed only, which recognisers use without the search and
    enrolment calibrates again (``training.enrolment.recalibrate_if_needed``)."""
    query_parameters: tuple[int, ...] = ()
    """``QUERY_PARAMETERS`` when they were calibrated (empty: before they were recorded); margins of
    other values are calibrated again at enrolment's next check."""
    network: str = ""
    """The model bundle whose answers for the impostors were counted (``training.heard_impostors``);
    empty when none was. Margins of another bundle are calibrated again before it recognises."""


@dataclass
class IndexedSongs:
    """A snapshot of the index for recognition: the songs it can name, in index order."""

    labels: list[SongLabel]
    fingerprints: RecordingMatcher
    """In memory up to ``PACKED_ABOVE`` songs, packed and shortlisted above (``snapshot``)."""
    margins: Optional[Margins]
    version: str
    """``songs_fingerprint`` of the songs indexed: changes whenever a song is added or removed."""
    unindexed: list[str] = field(default_factory=list)
    """Titles of catalogue songs without a usable analysis (not matched until ``update``)."""


@dataclass
class UpdateReport:
    analysed: list[str] = field(default_factory=list)
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False


class SongIndex:
    """The ``index/`` folder of one library. Cheap to create; every method reads the disk afresh,
    so the app, the command line and the phone server can share one data folder."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.folder = library.root / INDEX_DIR

    def path(self, song_id: str) -> Path:
        return self.folder / f"{song_id}.npz"

    # ----- writing
    def add(self, song: Song, audio: Optional[np.ndarray] = None) -> SongAnalysis:
        """Analyse one song (from its stored audio unless given) and store the analysis atomically."""
        audio = self.library.song_audio(song) if audio is None else audio
        analysis = analyse(np.asarray(audio, dtype=np.float32))
        data = _analysis_bytes(analysis)
        doing = f"indexing {song.title!r}"
        diskspace.ensure_free_space(self.library.root, len(data), doing=doing)
        with diskspace.translated(doing, self.library.root):
            atomic_write_bytes(self.path(song.id), data)
        return analysis

    def analysis(self, song: Song) -> SongAnalysis:
        """The song's stored analysis, made (and stored) first if it has none."""
        return self._load(song.id) or self.add(song)

    def remove(self, song_id: str) -> None:
        self.path(song_id).unlink(missing_ok=True)

    def update(self, progress: Optional[ProgressFn] = None, should_stop: Optional[ShouldStopFn] = None) -> UpdateReport:
        """Bring the index in line with the catalogue: analyse songs without a usable analysis,
        delete analyses of songs no longer listed. Resumable: a cancelled or crashed update keeps
        every analysis it finished, and the next one starts from there."""
        progress, should_stop = or_default(progress, should_stop)
        report = UpdateReport(removed=self._remove_orphans())
        todo = self.unindexed(self.library.songs())
        for i, song in enumerate(todo):
            if should_stop():
                report.cancelled = True
                break
            progress(i / len(todo), f"Indexing {song.title} ({i + 1} of {len(todo)})")
            try:
                self.add(song)
            except diskspace.StorageError:
                raise
            except MusicIdError as exc:  # its stored audio is damaged: 'library check' says so too
                report.failed.append((song.title, str(exc)))
                continue
            report.analysed.append(song.title)
        if todo:
            progress(1.0, f"Indexed {len(report.analysed)} of {len(todo)} songs")
        return report

    def _remove_orphans(self) -> int:
        """Delete analyses of songs the catalogue does not list. Under the library lock: a song's
        analysis is written after its catalogue entry, so none being enrolled looks orphaned."""
        if not self.folder.is_dir():
            return 0
        with self.library.locked():
            listed = {song.id for song in self.library.songs()}
            orphans = [p for p in self.folder.glob("*.npz") if p.stem not in listed and p.name != BASIS_FILE]
            for path in orphans:
                path.unlink(missing_ok=True)
        return len(orphans)

    def seed_from(self, labels: list[SongLabel], index: FingerprintIndex) -> int:
        """Store analyses taken from a model bundle's own index (same parameters, made from the
        same audio) for library songs that lack one: a data folder of an earlier version gets its
        index at once instead of analysing every song again. Returns how many were stored."""
        if index.profiles is None:
            return 0
        listed = {song.id for song in self.library.songs()}
        wanted = [i for i, label in enumerate(labels) if label.id in listed and self._load(label.id) is None]
        if not wanted:
            return 0
        profiles, starts = index.profiles.unpadded()
        for i in wanted:
            rows = index.songs == i
            marks = Landmarks(index.hashes[rows].copy(), index.times[rows].copy())
            quantised = np.clip(np.round(profiles[starts[i] : starts[i + 1]] * QUANTISATION), -127, 127).astype(np.int8)
            atomic_write_bytes(self.path(labels[i].id), _analysis_bytes(SongAnalysis(marks, quantised)))
        log.info("seeded the song index with %d songs from a model bundle", len(wanted))
        return len(wanted)

    def save_margins(self, margins: Margins) -> None:
        data = {"fingerprint_margin": margins.fingerprint_margin, "profile_margin": margins.profile_margin, "songs": margins.songs}
        if margins.impostors_rejected is not None:
            data["impostors_rejected"] = margins.impostors_rejected
        data["speeds"] = list(margins.speeds)
        data["query_parameters"] = list(margins.query_parameters)
        data["network"] = margins.network
        atomic_write_bytes(self.folder / MARGINS_FILE, json.dumps(data, indent=1).encode())

    # ----- reading
    def margins(self) -> Optional[Margins]:
        """The calibrated margins, or None when never calibrated or unreadable (callers fall back)."""
        try:
            data = json.loads((self.folder / MARGINS_FILE).read_text(encoding="utf-8"))
            rejected = data.get("impostors_rejected")
            margins = Margins(float(data["fingerprint_margin"]), float(data["profile_margin"]), int(data["songs"]),
                              None if rejected is None else float(rejected),
                              tuple(float(s) for s in data.get("speeds", ())),
                              tuple(int(p) for p in data.get("query_parameters", ())), str(data.get("network", "")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if not (np.isfinite(margins.fingerprint_margin) and np.isfinite(margins.profile_margin)) or margins.songs < 0:
            return None
        return margins

    def unindexed(self, songs: Iterable[Song]) -> list[Song]:
        """The songs without a usable analysis."""
        return [song for song in songs if not self._usable(song.id)]

    def snapshot(self) -> Optional[IndexedSongs]:
        """The index of every catalogue song that has a usable analysis, in catalogue order; None
        when no song has one. Up to ``PACKED_ABOVE`` songs it is held in memory
        (``FingerprintIndex``); a larger library is matched through its memory-mapped packs
        (``index_pack``, ``ShortlistedIndex``), songs enrolled since the last pack packed first."""
        songs = self.library.songs()
        if len(songs) > PACKED_ABOVE:
            return self._packed_snapshot(songs)
        indexed, analyses, missing = [], [], []
        for song in songs:
            analysis = self._load(song.id)
            if analysis is None:
                missing.append(song.title)
                continue
            indexed.append(song)
            analyses.append(analysis)
        if not analyses:
            return None
        labels = [SongLabel(song.id, song.title, song.source, song.artist) for song in indexed]
        return IndexedSongs(labels, fingerprint_index(analyses), self.margins(), songs_fingerprint(indexed), missing)

    def _packed_snapshot(self, songs: list[Song]) -> Optional[IndexedSongs]:
        packs_dir = self.folder / index_pack.PACKS_DIR
        with self.library.locked():
            basis = self._shortlist_basis(songs)
            parameters = pack_parameters(basis)
            # Packs of another basis (the library outgrew it) no longer open: their songs are repacked.
            packs = index_pack.open_packs(packs_dir, parameters, discard_unusable=True)
            where = {song_id: (p, i) for p, pack in enumerate(packs) for i, song_id in enumerate(pack.ids)}
            pending = [song for song in songs if song.id not in where]
            fresh = []
            for song in pending:
                analysis = self._load(song.id)
                if analysis is not None:
                    fresh.append((song.id, pack_arrays(analysis, basis)))
            if fresh:
                packs.append(index_pack.Pack(index_pack.write_pack(packs_dir, fresh, parameters, basis), parameters))
                where.update({song_id: (len(packs) - 1, i) for i, (song_id, _) in enumerate(fresh)})
            listed = {song.id for song in songs}
            stored = sum(len(pack.ids) for pack in packs)
            dead = stored - len({song_id for pack in packs for song_id in pack.ids} & listed)
            if len(packs) > MAX_PACKS or dead > DEAD_SHARE * stored:
                packs = self._merge_packs(packs, listed, basis, everything=dead > DEAD_SHARE * stored)
                where = {song_id: (p, i) for p, pack in enumerate(packs) for i, song_id in enumerate(pack.ids)}
        indexed = [song for song in songs if song.id in where]
        missing = [song.title for song in songs if song.id not in where]
        if not indexed:
            return None
        labels = [SongLabel(song.id, song.title, song.source, song.artist) for song in indexed]
        matcher = ShortlistedIndex(packs, [where[song.id] for song in indexed])
        return IndexedSongs(labels, matcher, self.margins(), songs_fingerprint(indexed), missing)

    def _shortlist_basis(self, songs: list[Song]) -> np.ndarray:
        """The library's shortlist basis: the stored one while the library holds fewer than
        ``REFIT_GROWTH`` times the songs it was fitted on, else one fitted now on a seeded sample
        of ``FIT_SONGS`` of its songs (saved atomically). Caller holds the library's lock."""
        path = self.folder / BASIS_FILE
        bins = fingerprint.MAX_BIN - fingerprint.MIN_BIN
        try:
            with np.load(path, allow_pickle=False) as data:
                basis, fitted_on = data["basis"], int(data["songs"])
            if shortlist.valid_basis(basis, bins) and len(songs) < shortlist.REFIT_GROWTH * fitted_on:
                return basis
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("the shortlist basis cannot be read (%s); fitting it again", str(exc)[:120])
        rng = np.random.default_rng(0)
        sample = [songs[i] for i in np.sort(rng.choice(len(songs), min(FIT_SONGS, len(songs)), replace=False))]
        profiles = (a.profiles for a in map(self._load, (song.id for song in sample)) if a is not None)
        basis = shortlist.fit_basis(profiles, bins)
        buffer = io.BytesIO()
        np.savez(buffer, basis=basis, songs=np.int64(len(songs)))
        atomic_write_bytes(path, buffer.getvalue())
        log.info("fitted the shortlist basis on %d of %d songs", len(sample), len(songs))
        return basis

    def _merge_packs(self, packs: list[index_pack.Pack], listed: set[str], basis: np.ndarray, everything: bool) -> list[index_pack.Pack]:
        """Merge all but the largest pack into one (``everything``: all of them), dropping songs no
        longer listed and older copies: the packs a snapshot opens stay few however many small
        enrolments came before, and removed songs leave the disk once they are a sizeable share."""
        keep = None if everything else max(packs, key=lambda pack: pack.bytes)
        merge = [pack for pack in packs if pack is not keep]  # oldest first, as opened
        seen = set(keep.ids) if keep is not None else set()
        songs = []
        for pack in reversed(merge):  # newest copy of a song first
            for i, song_id in enumerate(pack.ids):
                if song_id in listed and song_id not in seen:
                    seen.add(song_id)
                    stored = pack.song(i)
                    songs.append((song_id, index_pack.SongArrays(stored.hashes, stored.times, stored.profiles, stored.summaries)))
        merged = [keep] if keep is not None else []
        if songs:
            parameters = pack_parameters(basis)
            merged.append(index_pack.Pack(index_pack.write_pack(self.folder / index_pack.PACKS_DIR, songs, parameters, basis), parameters))
        index_pack.remove_packs(merge)
        return merged

    def _usable(self, song_id: str) -> bool:
        return self._load(song_id) is not None

    def _load(self, song_id: str) -> Optional[SongAnalysis]:
        """The stored analysis, or None when it is missing, damaged or made with other parameters."""
        path = self.path(song_id)
        try:
            with np.load(path, allow_pickle=False) as data:
                if not np.array_equal(data["parameters"], ANALYSIS_PARAMETERS):
                    return None
                hashes, times, profiles = data["hashes"], data["times"], data["profiles"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("the index entry %s cannot be read (%s); it will be made again", path.name, str(exc)[:120])
            return None
        bins = fingerprint.MAX_BIN - fingerprint.MIN_BIN
        valid = (
            hashes.ndim == times.ndim == 1 and hashes.shape == times.shape and hashes.dtype == np.uint32
            and times.dtype == np.int32 and profiles.dtype == np.int8 and profiles.ndim == 2
            and profiles.shape[1] == bins and (hashes.size == 0 or int(hashes.max()) < fingerprint.HASH_SPACE)
            and (times.size == 0 or int(times.min()) >= 0)
        )
        if not valid:
            log.warning("the index entry %s is malformed; it will be made again", path.name)
            return None
        return SongAnalysis(Landmarks(hashes, times), profiles)


def pack_parameters(basis: np.ndarray) -> np.ndarray:
    """What a pack depends on: the analysis and the shortlist's summaries (``shortlist``), the
    id of the basis last (``index_pack.Pack`` checks the pack's stored basis against it)."""
    return np.concatenate([ANALYSIS_PARAMETERS, [shortlist.SUMMARY_BLOCKS, shortlist.SUMMARY_HOP, shortlist.BASIS_DIMS, shortlist.basis_id(basis)]])


def pack_arrays(analysis: SongAnalysis, basis: np.ndarray) -> index_pack.SongArrays:
    """What a pack stores of an analysis: itself and its shortlist summaries."""
    marks = analysis.landmarks
    return index_pack.SongArrays(marks.hashes, marks.times, analysis.profiles, song_summaries(analysis.profiles, basis))


def fingerprint_index(analyses: list[SongAnalysis]) -> FingerprintIndex:
    """The in-memory index of these songs, song ``i`` being ``analyses[i]``."""
    hashes = np.concatenate([a.landmarks.hashes for a in analyses])
    times = np.concatenate([a.landmarks.times for a in analyses])
    songs = np.concatenate([np.full(a.landmarks.hashes.size, i, dtype=np.int32) for i, a in enumerate(analyses)])
    profiles = ProfileIndex.from_songs([a.profiles.astype(np.float32) / QUANTISATION for a in analyses])
    return FingerprintIndex(hashes, songs, times, len(analyses), profiles)


def _analysis_bytes(analysis: SongAnalysis) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, parameters=ANALYSIS_PARAMETERS, hashes=analysis.landmarks.hashes.astype(np.uint32),
        times=analysis.landmarks.times.astype(np.int32), profiles=analysis.profiles.astype(np.int8),
    )
    return buffer.getvalue()
