"""Sliding-window recognition: the method's ensemble, plus a match/unknown verdict.

Ranking. A recording is cut into 256-frame windows every 51 frames; the model gives a
probability vector per window; the vectors are averaged (the method sums them; averaging ranks
identically and keeps scores in 0..1) and the songs ranked.

Verdict. A softmax over the songs alone always names one of them, even for music it never heard.
So the model has one more output, "not in your library", trained on real music that is nobody's
library (``resources/negatives``) and on noise without music (see ``training.dataset``). The
answer is ``match`` when

1. the top song's averaged probability reaches the bundle's calibrated ``threshold``,
2. it beats the averaged "not in your library" probability, and
3. it is the top song of at least half of the windows.

The threshold is set at training time (``training.metrics.calibrate_threshold``) from held-out
windows: the top-song scores of enrolled songs under noise versus those of held-out negative music
and noise, so that nearly all of the latter fall under it.
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
    unknown_score: float
    """Averaged probability of "not in your library" (0 for models without that output)."""

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
        """(n_windows, n_outputs) probabilities for (n_windows, n_mels, frames) log-mel windows."""
        return self._predict(np.asarray(windows, dtype=np.float32)[..., np.newaxis])

    def identify(self, audio: np.ndarray, top_k: int = 5) -> Identification:
        """Rank the library's songs for a mono recording at the feature sample rate."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size and float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            raise MusicIdError("the recording is silent; check the microphone and its level")
        return self.identify_windows(recording_windows(audio, self.settings), top_k)

    def identify_windows(self, windows: np.ndarray, top_k: int = 5) -> Identification:
        return decide(self.window_probabilities(windows), self.labels, self.threshold, top_k)


def decide(probabilities: np.ndarray, labels: list[SongLabel], threshold: float, top_k: int = 5) -> Identification:
    """Ensemble per-window probabilities, rank the songs and give the verdict (module docstring).

    ``probabilities`` has one column per song, plus a last "not in your library" column when
    there are more columns than ``labels``."""
    songs = probabilities[:, : len(labels)]
    unknown = probabilities[:, len(labels)] if probabilities.shape[1] > len(labels) else np.zeros(len(probabilities))
    scores = songs.mean(axis=0)
    unknown_score = float(unknown.mean())
    order = np.argsort(-scores)[: max(1, top_k)]
    top = int(order[0])
    agreement = float(np.mean(probabilities.argmax(axis=1) == top))
    confident = scores[top] >= threshold and scores[top] > unknown_score and agreement >= MIN_AGREEMENT
    matches = [Match(labels[i], float(scores[i])) for i in order]
    return Identification("match" if confident else "unknown", matches, len(probabilities), agreement, unknown_score)


def _compiled_predict(model: Any) -> Any:
    """A traced inference function: Keras' eager ``model(x)`` costs tens of ms per call on a CPU,
    more than the arithmetic for a 10 s recording."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def predict(x: Any) -> Any:
        return model(x, training=False)

    return lambda x: predict(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()
