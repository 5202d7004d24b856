"""Enrolment: a song dropped into the library is identifiable seconds later, without training.

Each imported song is analysed into the library's song index (``musicid_core.song_index``) right
after the catalogue takes it, so a cancelled or interrupted import leaves every song it imported
indexed; importing the same folder again skips what is already in (duplicates are found by
content) and so resumes. The verdict's margins depend on the number of songs (chance alignments
and chance profile similarity rise with it), so they are calibrated again
(``training.fingerprints.calibrate_margin``, the method training uses) whenever the library has
grown or shrunk by a quarter since they were set, or were calibrated through another speed search
than the recogniser's (``musicid_core.speed_search``; margins stored before it have none), or
with another model's answers for the impostors than the current bundle's
(``training.heard_impostors``: after a training run, once).

Here rather than in ``musicid_core``: the calibration replays negative music through the training
augmentation, which lives in ``training``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from musicid_core.catalogue import Song
from musicid_core.errors import MusicIdError
from musicid_core.fingerprint import Landmarks, QueryAnalysis
from musicid_core.library import ImportReport, Library
from musicid_core.models.store import current_bundle_path, read_meta_and_labels
from musicid_core.progress import ProgressFn, ShouldStopFn, or_default
from musicid_core.resources import default_negatives_dir
from musicid_core.song_index import ANALYSIS_PARAMETERS, QUERY_ANALYSIS_PARAMETERS, QUERY_PARAMETERS, Margins, SongIndex
from musicid_core import speed_search
from musicid_core.speed_search import Tries
from musicid_core.storage import atomic_write_bytes
from training import fingerprints
from training.fingerprints import calibrate_margin, impostor_queries
from training.heard_impostors import HeardImpostors
from training.noise_bank import load_negative_bank, load_noise_bank

log = logging.getLogger(__name__)

RECALIBRATE_RATIO = speed_search.SIZE_RATIO
"""Margins are set again when the number of songs moved past this factor (either way); past it
the recogniser no longer searches speeds with them."""
IMPORT_SHARE = 0.9
"""Share of the progress bar for importing and indexing (the rest is the calibration)."""


@dataclass
class EnrolmentReport:
    imported: ImportReport
    index_failed: list[tuple[str, str]] = field(default_factory=list)
    """Songs imported but not indexed (title, reason): identifiable after ``SongIndex.update``."""
    margins: Optional[Margins] = None
    """The margins calibrated by this enrolment (None when the old ones still fit)."""


def enrol(
    library: Library, paths: Iterable[str | Path], progress: Optional[ProgressFn] = None,
    should_stop: Optional[ShouldStopFn] = None, negatives_dir: Optional[Path] = None,
) -> EnrolmentReport:
    """Import songs and make them identifiable: ``Library.add_songs`` plus the song index.
    ``negatives_dir``: the music the calibration must reject (default: the bundled negatives)."""
    progress, should_stop = or_default(progress, should_stop)
    index = SongIndex(library)
    failed: list[tuple[str, str]] = []

    def index_song(song: Song) -> None:
        try:
            index.add(song)
        except MusicIdError as exc:
            failed.append((song.title, str(exc)))

    # Each song is analysed on a second thread while the next one is decoded (both release the GIL
    # in their FFTs and codecs): on two cores an import runs at up to twice the speed. Every song
    # imported is analysed before enrol returns, cancelled or not.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="musicid-index") as analyser:
        pending: list[Future[None]] = []
        try:
            imported = library.add_songs(
                paths, progress=lambda f, m: progress(IMPORT_SHARE * f, m), should_stop=should_stop,
                on_added=lambda song: pending.append(analyser.submit(index_song, song)),
            )
        finally:
            for future in pending:
                future.result()
    report = EnrolmentReport(imported, failed)
    if imported.added and not imported.cancelled:
        report.margins = recalibrate_if_needed(
            library, index, progress=lambda m: progress(IMPORT_SHARE, m), negatives_dir=negatives_dir,
        )
    progress(1.0, f"Imported {len(imported.added)} songs; they can be identified now")
    return report


def unenrol(library: Library, song_id: str) -> Song:
    """Remove a song from the library and from the song index."""
    song = library.remove_song(song_id)
    SongIndex(library).remove(song_id)
    return song


def recalibrate_if_needed(
    library: Library, index: SongIndex, force: bool = False, progress: Optional[Callable[[str], None]] = None,
    negatives_dir: Optional[Path] = None,
) -> Optional[Margins]:
    """Calibrate and store the margins when they were never set, the library's size moved past
    ``RECALIBRATE_RATIO``, they were calibrated through other search speeds than
    ``speed_search.SPEEDS``, on recordings analysed otherwise (``QUERY_PARAMETERS``) or with
    another model's answers for the impostors (``heard_by_current_model``); returns the new
    margins, or None when the stored ones still fit."""
    songs = len(library.songs())
    stored = index.margins()
    heard = heard_by_current_model(library, negatives_dir)
    if (not force and stored is not None and songs > 0 and stored.speeds == speed_search.speeds_for(songs)
            and stored.query_parameters == QUERY_PARAMETERS and stored.network == heard.bundle
            and 1 / RECALIBRATE_RATIO <= songs / max(stored.songs, 1) <= RECALIBRATE_RATIO):
        return None
    snapshot = index.snapshot()
    if snapshot is None:
        return None
    if progress is not None:
        progress(f"Calibrating the verdict for {songs} songs")
    impostors = speed_search.restricted(cached_impostor_queries(library, negatives_dir),
                                        speed_search.speeds_for(len(snapshot.labels)))
    networks = heard.answers([label.id for label in snapshot.labels], len(impostors))
    found = calibrate_margin(snapshot.fingerprints, [], [], queries=impostors, networks=networks)
    margins = Margins(found["fingerprint_margin"], found.get("profile_margin", 0.0), len(snapshot.labels),
                      found.get("verdict_impostors_rejected"), speed_search.calibrated_speeds(impostors),
                      QUERY_PARAMETERS, heard.bundle)
    index.save_margins(margins)
    log.info("verdict margins calibrated for %d songs: %s", margins.songs, found)
    return margins


@dataclass(frozen=True)
class CurrentModelAnswers:
    """The current model's answers for the impostors (``training.heard_impostors``), if usable."""

    bundle: str = ""
    """The bundle folder's name; empty when there is no model or its answers cannot be used."""
    heard: Optional[HeardImpostors] = None
    trained_ids: tuple[str, ...] = ()

    def answers(self, song_ids: list[str], impostors: int) -> Optional[list[Optional[np.ndarray]]]:
        if self.heard is None:
            return None
        try:
            return self.heard.answers(song_ids, self.trained_ids, impostors)
        except ValueError as exc:  # answers for other recordings than these: calibrate without them
            log.warning("the model's answers do not fit the calibration impostors (%s); calibrating without", exc)
            return None


def heard_by_current_model(library: Library, negatives_dir: Optional[Path] = None) -> CurrentModelAnswers:
    """The current bundle's answers for the impostor recordings enrolment makes, when it kept them
    for those very recordings (the same negatives, noise and recipe); no answers otherwise (no
    model, an older bundle, one trained with another seed or noise, or an unreadable one: the
    margins are then calibrated without the network, as before)."""
    try:
        path = current_bundle_path(library.models_dir)
        if path is None:
            return CurrentModelAnswers()
        meta, labels = read_meta_and_labels(path)
        if not meta.impostor_network:
            return CurrentModelAnswers()
        heard = HeardImpostors.from_dict(meta.impostor_network)
    except (MusicIdError, OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("the model's answers for the calibration impostors cannot be read (%s); calibrating without", exc)
        return CurrentModelAnswers()
    if not heard.recipe or heard.recipe != impostor_recipe(negatives_dir, library):
        return CurrentModelAnswers()
    return CurrentModelAnswers(path.name, heard, tuple(label.id for label in labels))


IMPOSTOR_CACHE = "impostor-queries"


def recalibrate_if_outdated(
    library: Library, index: SongIndex, negatives_dir: Optional[Path] = None, progress: Optional[ProgressFn] = None,
) -> Optional[Margins]:
    """Calibrate the margins again when they were calibrated for another query analysis or verdict
    (``QUERY_PARAMETERS``: an upgrade of the app) or with another model's answers for the
    impostors (a new training run), before a recogniser uses them; returns the new margins, or
    None when they are current or were never set (``enrol`` sets them). Margins scaled for another
    verdict do not keep its rejection of unknown music: the tenth session's verdict, given the
    ninth session's margins, rejected 91 % / 85 % of the calibration impostors instead of 95 %
    (``benchmarks/RESULTS.md``). Matching only, the impostor recordings being cached: about 25 s
    for 57 songs, once. ``progress`` hears "Calibrating the verdict for N songs" when it does."""
    stored = index.margins()
    if stored is None or not library.songs():
        return None
    network = heard_by_current_model(library, negatives_dir).bundle
    if stored.query_parameters == QUERY_PARAMETERS and stored.network == network:
        return None
    log.info("the verdict's margins were calibrated for %s with model %r, not %s with %r: calibrating again",
             stored.query_parameters, stored.network, QUERY_PARAMETERS, network)
    return recalibrate_if_needed(library, index, force=True, negatives_dir=negatives_dir,
                                 progress=(lambda message: progress(1.0, message)) if progress is not None else None)


def cached_impostor_queries(library: Library, negatives_dir: Optional[Path] = None) -> list[Tries]:
    """The calibration's impostor recordings, analysed at every search speed, from ``cache/`` when
    they were made for the same negatives, noise, analysis parameters and search speeds; made
    (about 160 room recordings) and stored otherwise. Recalibrating is then only matching: about a
    second instead of several."""
    folder = negatives_dir or default_negatives_dir()
    noise = load_noise_bank(library)
    key = _impostor_key(folder, library)
    path = library.root / "cache" / f"{IMPOSTOR_CACHE}-{key}.npz"
    cached = _read_queries(path)
    if cached is not None:
        return cached
    queries = impostor_queries(load_negative_bank(folder).clips, noise.split()[1])
    for stale in path.parent.glob(f"{IMPOSTOR_CACHE}-*.npz"):
        stale.unlink(missing_ok=True)
    try:
        atomic_write_bytes(path, _queries_bytes(queries))
    except OSError as exc:  # a full or read-only disk costs the next calibration time, nothing else
        log.warning("the calibration's impostor recordings could not be kept (%s)", exc)
    return queries


def impostor_recipe(negatives_dir: Optional[Path], library: Library) -> str:
    """Names the impostor recordings enrolment makes for ``library`` (``cached_impostor_queries``):
    changes with the negative files, the library's noise clips, the analysis, the calibration and
    the search speeds."""
    return _impostor_key(negatives_dir or default_negatives_dir(), library)


def _impostor_key(negatives: Path, library: Library) -> str:
    """``impostor_recipe`` of a negatives folder."""
    files = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in negatives.iterdir()) if negatives.is_dir() else []
    clips = sorted(c.id for c in library.noise_clips())
    recipe = (fingerprints.CALIBRATION_LENGTHS_S, fingerprints.CALIBRATION_PER_CLIP, ANALYSIS_PARAMETERS.tolist(),
              speed_search.SPEEDS, QUERY_ANALYSIS_PARAMETERS)
    return hashlib.sha256(repr((files, clips, recipe)).encode()).hexdigest()[:16]


def _queries_bytes(queries: list[Tries]) -> bytes:
    """Every try of every recording, flat, with each recording's search speeds (``speeds``, NaN-padded)."""
    flat = [analysis for tries in queries for analysis in tries.analyses]
    width = max((len(t.speeds) for t in queries), default=0)
    speeds = np.full((len(queries), width), np.nan)
    for row, tries in zip(speeds, queries):
        row[: len(tries.speeds)] = tries.speeds
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        hashes=np.concatenate([q.landmarks.hashes for q in flat] or [np.zeros(0, np.uint32)]),
        times=np.concatenate([q.landmarks.times for q in flat] or [np.zeros(0, np.int32)]),
        counts=np.array([q.landmarks.hashes.size for q in flat], dtype=np.int64),
        profiles=np.concatenate([q.profiles for q in flat]) if flat else np.zeros((0, 0), np.float32),
        rows=np.array([q.profiles.shape[0] for q in flat], dtype=np.int64),
        speeds=speeds,
    )
    return buffer.getvalue()


def _read_queries(path: Path) -> Optional[list[Tries]]:
    """The stored queries, or None when absent, unreadable or stored before the speed search
    (they are then made again)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            hashes, times, counts = data["hashes"], data["times"], data["counts"]
            profiles, rows, speeds = data["profiles"], data["rows"], data["speeds"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("the calibration cache %s cannot be read (%s); making it again", path.name, str(exc)[:100])
        return None
    per_recording = [tuple(float(s) for s in row if np.isfinite(s)) for row in np.atleast_2d(speeds)]
    tries = [len(s) + 1 for s in per_recording]
    if (counts.sum() != hashes.size or hashes.shape != times.shape or rows.sum() != profiles.shape[0]
            or counts.size != rows.size or sum(tries) != counts.size):
        return None
    cuts, row_cuts = np.cumsum(counts)[:-1], np.cumsum(rows)[:-1]
    flat = [
        QueryAnalysis(Landmarks(h, t), p)
        for h, t, p in zip(np.split(hashes, cuts), np.split(times, cuts), np.split(profiles, row_cuts))
    ]
    starts = np.cumsum([0] + tries)
    return [Tries(s, tuple(flat[a:b])) for s, a, b in zip(per_recording, starts[:-1], starts[1:])]
