"""The recognizer of a library's current model bundle and song index, loaded once and shared.

One loader for every long-lived caller (the app's ``ModelService``, the phone server): the cache
is keyed by the bundle folder named in ``current.json`` and by the library's set of songs, so
after a training run saves a new bundle, or a song is added or removed, the next call uses it.
A library with songs but no model is recognised by its song index alone (``song_index``). Loading runs the network once (``Recognizer``); for a bundle
without LiteRT's copy it imports TensorFlow and traces the network, which must never overlap
live audio capture (issue 13), so a caller that streams audio uses ``loaded()``, which never loads.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable, Optional

from musicid_core.errors import ModelError, MusicIdError
from musicid_core.library import Library
from musicid_core.models.store import ModelBundle, current_bundle_path, load_current
from musicid_core.progress import ProgressFn
from musicid_core.recognizer import NO_SONGS_YET, Recognizer
from musicid_core.song_index import IndexedSongs, SongIndex

log = logging.getLogger(__name__)


class CurrentRecognizer:
    """Thread-safe; ``current()`` (or calling the object) from worker threads only."""

    def __init__(self, library: Library, recalibrate: Optional[Callable[..., object]] = None) -> None:
        """``recalibrate(library, index, progress=...)``: run on the song index before each
        snapshot is taken, to calibrate margins made for another verdict
        (``training.enrolment.recalibrate_if_outdated``; the app, the CLI and the server pass it,
        core cannot import training)."""
        self.library = library
        self._recalibrate = recalibrate
        self._lock = threading.Lock()
        self._bundle: Optional[Path] = None
        self._songs_version: Optional[str] = None
        self._recognizer: Optional[Recognizer] = None

    def current(self, progress: Optional[ProgressFn] = None) -> Recognizer:
        """The recognizer for the current bundle and songs, loading (and running once) a new
        bundle if needed, and analysing songs that have no index entry yet (``progress`` hears of
        each: after an upgrade that changes the songs' analysis that is every song)."""
        with self._lock:
            path = current_bundle_path(self.library.models_dir)
            version = self.library.fingerprint()
            if self._recognizer is not None and path == self._bundle and version == self._songs_version:
                return self._recognizer
            recognizer = self._recognizer if self._recognizer is not None and path == self._bundle else None
            bundle = recognizer.bundle if recognizer is not None else self._load_bundle(path)
            songs = self._indexed_songs(bundle, progress)
            if recognizer is None:
                if bundle is not None:
                    log.info("loading model bundle %s", path)
                self._recognizer = Recognizer(bundle, songs)
                if bundle is not None:
                    log.info("model bundle %s loaded and run once", bundle.path.name)
            else:
                self._recognizer = recognizer.with_songs(songs)
            self._bundle, self._songs_version = path, version
            return self._recognizer

    __call__ = current

    def _load_bundle(self, path: Optional[Path]) -> Optional[ModelBundle]:
        if path is None:
            if not self.library.songs():
                raise ModelError(NO_SONGS_YET)
            return None
        return load_current(self.library.models_dir)  # its errors say whether a previous bundle can take over

    def _indexed_songs(self, bundle: Optional[ModelBundle], progress: Optional[ProgressFn] = None) -> Optional[IndexedSongs]:
        """The index snapshot, brought up to date first: analyses taken from the bundle where it has
        them (a data folder of an earlier version), then any song still without one. A data folder
        that cannot be written (read-only, full) is recognised with the analyses it has."""
        index = SongIndex(self.library)
        try:
            if bundle is not None and bundle.fingerprints is not None:
                index.seed_from(bundle.labels, bundle.fingerprints)
            report = index.update(progress)
            if report.analysed or report.failed:
                log.info("song index: %d songs analysed, %d failed", len(report.analysed), len(report.failed))
            if self._recalibrate is not None:
                self._recalibrate(self.library, index, progress=progress)
        except (MusicIdError, OSError) as exc:
            log.warning("the song index could not be brought up to date (%s); using what it has", exc)
        songs = index.snapshot()
        if songs is None and bundle is None:
            raise ModelError(NO_SONGS_YET)
        return songs

    def loaded(self) -> Recognizer:
        """The recognizer already in memory, even if a newer bundle or song has come since; never
        loads (what a listen uses while audio streams in)."""
        with self._lock:
            if self._recognizer is None:
                if current_bundle_path(self.library.models_dir) is None and not self.library.songs():
                    raise ModelError(NO_SONGS_YET)
                raise ModelError("the model is still loading; try again in a few seconds")
            return self._recognizer

    def is_loaded(self) -> bool:
        """True when the current bundle and songs are in memory and ready (no reload pending)."""
        with self._lock:
            return (
                self._recognizer is not None and self._bundle == current_bundle_path(self.library.models_dir)
                and self._songs_version == self.library.fingerprint()
            )
