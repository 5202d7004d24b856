"""The current model as the app sees it: the shared loader plus what the tabs ask about it.

Loading imports TensorFlow (seconds), so it happens on a worker thread (STYLE P13). Loading (and
the first run, see ``Recognizer``) must never overlap live audio capture: TensorFlow's first
trace crashed the process when it did (issue 13). So Listen is not offered while a model is
loading, and refinements during a listen use ``loaded()``, which never loads.
"""

from __future__ import annotations

from typing import Optional

from musicid_core.library import Library
from musicid_core.models.current import CurrentRecognizer
from musicid_core.models.store import BundleMeta, current_bundle_path, read_meta
from musicid_core.progress import ProgressFn
from musicid_core.recognizer import Recognizer
from training.enrolment import recalibrate_if_outdated


class ModelService(CurrentRecognizer):
    def __init__(self, library: Library) -> None:
        # Margins calibrated for an older verdict are calibrated again when the model is loaded.
        super().__init__(library, recalibrate_if_outdated)

    def recognizer(self, progress: Optional[ProgressFn] = None) -> Recognizer:
        """The recognizer for the current bundle (worker threads only: may load and run the model,
        and for a bundle without LiteRT's copy import TensorFlow and trace it; never while the
        microphone is open). ``progress``: songs being analysed first (``CurrentRecognizer.current``)."""
        return self.current(progress)

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
