"""Sliding-window recognition: the method's ensemble, plus a match/unknown verdict.

A recording is cut into 256-frame windows every 51 frames; the model gives a probability vector
per window; the vectors are averaged (the method sums them; averaging ranks identically and keeps
scores in 0..1) and ranked.

Verdict: the answer is ``match`` when the top song's averaged probability reaches the bundle's
calibrated threshold *and* it is the top song of at least half of the windows. The threshold is
chosen at training time (``training.calibrate``) between the scores of held-out noisy fragments of
enrolled songs and of "impostor" fragments the model never saw (time-reversed and pitch-shifted
library audio under noise): music that sounds like the library but is not in it. A song that is
not in the library spreads its probability over several songs and windows disagree, so it falls
below the threshold and is reported ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from musicid_core.audio.decode import SILENCE_RMS
from musicid_core.config import FeatureSettings
from musicid_core.errors import MusicIdError
from musicid_core.features import recording_windows
from musicid_core.models.store import ModelBundle, SongLabel

MIN_AGREEMENT = 0.5


@dataclass(frozen=True)
class Match:
    song: SongLabel
    score: float


@dataclass(frozen=True)
class Identification:
    verdict: str  # "match" or "unknown"
    matches: list[Match]
    windows: int
    agreement: float
    """Fraction of windows whose own top song is the overall top song."""

    @property
    def best(self) -> Match:
        return self.matches[0]

    def to_json(self, file: str) -> dict[str, Any]:
        return {
            "file": file,
            "verdict": self.verdict,
            "matches": [{"title": m.song.title, "source": m.song.source, "score": round(m.score, 6)} for m in self.matches],
        }


class Recognizer:
    """Holds one loaded model; ``identify`` can be called many times (the CLI, the GUI worker)."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        self.labels = bundle.labels
        self.settings: FeatureSettings = bundle.meta.features
        self.threshold = float(bundle.meta.threshold)
        self._predict = _compiled_predict(bundle.model)

    def window_probabilities(self, windows: np.ndarray) -> np.ndarray:
        """(n_windows, n_songs) probabilities for (n_windows, n_mels, frames) log-mel windows."""
        if len(windows) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.asarray(self._predict(windows[..., np.newaxis]), dtype=np.float32)

    def identify(self, audio: np.ndarray, top_k: int = 5) -> Identification:
        """Rank the library's songs for a mono recording at the feature sample rate."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size and float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            raise MusicIdError("the recording is silent; check the microphone and its level")
        windows = recording_windows(audio, self.settings)
        return self.identify_windows(windows, top_k)

    def identify_windows(self, windows: np.ndarray, top_k: int = 5) -> Identification:
        probabilities = self.window_probabilities(windows)
        return decide(probabilities, self.labels, self.threshold, top_k)


def decide(probabilities: np.ndarray, labels: list[SongLabel], threshold: float, top_k: int = 5) -> Identification:
    """Ensemble the per-window probabilities, rank, and give the verdict (see module docstring)."""
    scores = probabilities.mean(axis=0)
    order = np.argsort(-scores)[: max(1, top_k)]
    agreement = float(np.mean(probabilities.argmax(axis=1) == order[0]))
    confident = scores[order[0]] >= threshold and agreement >= MIN_AGREEMENT
    matches = [Match(labels[i], float(scores[i])) for i in order]
    return Identification("match" if confident else "unknown", matches, len(probabilities), agreement)


def _compiled_predict(model: Any) -> Any:
    """A traced inference function: Keras' eager ``model(x)`` costs ~10× more per call on a CPU."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def predict(x: Any) -> Any:
        return model(x, training=False)

    return lambda x: predict(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()
