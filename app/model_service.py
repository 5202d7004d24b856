"""The current model, loaded once and shared by Listen's workers.

Loading imports TensorFlow (seconds), so it happens on a worker thread the first time it is
needed (STYLE P13). The cache is keyed by the bundle folder named in ``current.json``: after a
training run saves a new bundle, the next ``recognizer()`` call loads it.

Loading (and the first run, see ``Recognizer``) must never overlap live audio capture: TensorFlow's
first trace crashed the process when it did (issue 13). So Listen is not offered while a model is
loading, and refinements during a listen use ``loaded()``, which never loads.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Optional

from musicid_core.errors import ModelError
from musicid_core.library import Library
from musicid_core.models.store import NO_MODEL_YET, BundleMeta, current_bundle_path, load_bundle, read_meta
from musicid_core.recognizer import Recognizer

log = logging.getLogger(__name__)


class ModelService:
    def __init__(self, library: Library) -> None:
        self.library = library
        self._lock = threading.Lock()
        self._bundle: Optional[Path] = None
        self._recognizer: Optional[Recognizer] = None

    def recognizer(self) -> Recognizer:
        """The recognizer for the current bundle (worker threads only: may load and run the model,
        and for a bundle without LiteRT's copy import TensorFlow and trace it; never while the
        microphone is open)."""
        with self._lock:
            path = current_bundle_path(self.library.models_dir)
            if path is None or path != self._bundle or self._recognizer is None:
                if path is None:
                    from musicid_core.models.store import load_current

                    load_current(self.library.models_dir)  # raises the "no model yet" ModelError
                log.info("loading model bundle %s", path)
                self._recognizer = Recognizer(load_bundle(path))  # type: ignore[arg-type]
                self._bundle = path
                log.info("model bundle %s loaded and run once", path.name)  # type: ignore[union-attr]
            return self._recognizer

    def loaded(self) -> Recognizer:
        """The recognizer already in memory, even if a newer bundle has been saved since: what a
        listen uses while audio streams in, since loading then could crash (module docstring)."""
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

    def current_meta(self) -> Optional[BundleMeta]:
        """The current bundle's metadata (cheap: no TensorFlow), or None when there is none."""
        path = current_bundle_path(self.library.models_dir)
        return read_meta(path) if path is not None else None

    def is_out_of_date(self) -> Optional[bool]:
        """True when songs were added or removed since training; None when there is no model."""
        meta = self.current_meta()
        if meta is None:
            return None
        return meta.library_fingerprint != self.library.fingerprint()
