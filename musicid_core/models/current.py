"""The recognizer of a library's current model bundle, loaded once and shared.

One loader for every long-lived caller (the app's ``ModelService``, the phone server): the cache
is keyed by the bundle folder named in ``current.json``, so after a training run saves a new
bundle the next call loads it. Loading runs the network once (``Recognizer``); for a bundle
without LiteRT's copy it imports TensorFlow and traces the network, which must never overlap
live audio capture (issue 13), so a caller that streams audio uses ``loaded()``, which never loads.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Optional

from musicid_core.errors import ModelError
from musicid_core.library import Library
from musicid_core.models.store import NO_MODEL_YET, current_bundle_path, load_bundle, load_current
from musicid_core.recognizer import Recognizer

log = logging.getLogger(__name__)


class CurrentRecognizer:
    """Thread-safe; ``current()`` (or calling the object) from worker threads only."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._lock = threading.Lock()
        self._bundle: Optional[Path] = None
        self._recognizer: Optional[Recognizer] = None

    def current(self) -> Recognizer:
        """The recognizer for the current bundle, loading (and running once) a new one if needed."""
        with self._lock:
            path = current_bundle_path(self.library.models_dir)
            if path is None:
                load_current(self.library.models_dir)  # raises the "no model yet" ModelError
            if path != self._bundle or self._recognizer is None:
                log.info("loading model bundle %s", path)
                self._recognizer = Recognizer(load_bundle(path))  # type: ignore[arg-type]
                self._bundle = path
                log.info("model bundle %s loaded and run once", path.name)  # type: ignore[union-attr]
            return self._recognizer

    __call__ = current

    def loaded(self) -> Recognizer:
        """The recognizer already in memory, even if a newer bundle has been saved since; never
        loads (what a listen uses while audio streams in)."""
        with self._lock:
            if self._recognizer is None:
                if current_bundle_path(self.library.models_dir) is None:
                    raise ModelError(NO_MODEL_YET)
                raise ModelError("the model is still loading; try again in a few seconds")
            return self._recognizer

    def is_loaded(self) -> bool:
        """True when the current bundle is in memory and ready (no reload pending)."""
        with self._lock:
            return self._recognizer is not None and self._bundle == current_bundle_path(self.library.models_dir)
