"""Recognition: the method's sliding-window CNN ensemble, checked against the songs' recordings.

Songs. The songs a recognizer can name are those of the library's song index
(``musicid_core.song_index``): every song analysed so far, including songs added after the
network was trained, which get a neutral network prior (``Recognizer``); without a bundle the
index alone decides. A recognizer made from a bundle only (benchmarks, older callers) names the
bundle's songs with the bundle's own index.

Ranking. A recording is cut into 256-frame windows every 51 frames; the model gives a
probability vector per window; the vectors are averaged (the method sums them; averaging ranks
identically and keeps scores in 0..1). When the bundle holds a fingerprint index
(``musicid_core.fingerprint``), the recording's landmarks and tonal profiles
(``musicid_core.tonal_profile``) are matched too, and each song's score becomes
``p_song * e^(aligned landmarks + PROFILE_WEIGHT * profile similarity)``, normalised: the CNN's
belief as the prior, every landmark that lines up at one time offset, and every hundredth of
aligned-profile similarity (times three), as log-evidence that this very recording is playing.
The "not in your library" hypothesis is credited with the runner-up song's landmarks and
similarity, which is what chance gives a foreign recording. Ties in that evidence leave the CNN's
order; a clear winner overrides it.

Verdict, with a fingerprint index: ``match`` when the probability that the top song is right,
given its leads in aligned landmarks and in profile similarity over every other song, each
measured in the library's calibrated margins (``fingerprint_margin``, ``profile_margin``:
``training.fingerprints``), reaches ``verdict.THRESHOLD`` (``musicid_core.verdict``, fitted on
the by-source benchmark's tuning side). That probability is the answer's ``confidence``.
When it is not ``match`` at the recording's nominal speed, the alignment checks are tried again at
the speeds that undo a ±1 % drift (``musicid_core.speed_search``, with margins calibrated through
the same search) and the most confident try is the answer (``Identification.speed``).
Benchmarks showed the CNN alone cannot reject unknown music (about half of it passed any
threshold that kept most right answers), while a recording that is not in the library lines up
with no song.

Verdict, without an index (bundles trained before it existed): the
model has one output more than songs, "not in your library", trained on real music that is
nobody's library (``resources/negatives``) and on noise without music (``training.dataset``).
The answer is ``match`` when

1. the top song's averaged probability reaches the bundle's calibrated ``threshold``,
2. it beats the averaged "not in your library" probability, and
3. it is the top song of at least half of the windows.

That threshold is set at training time (``training.metrics.calibrate_threshold``) from held-out
windows: the top-song scores of enrolled songs under noise versus those of held-out negative music
and noise, so that nearly all of the latter fall under it.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from musicid_core.audio.decode import SILENCE_RMS
from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core import speed_search
from musicid_core import verdict as verdicts
from musicid_core.errors import ModelError, MusicIdError
from musicid_core.features import recording_windows
from musicid_core.fingerprint import FingerprintMatch
from musicid_core.models.runtime import keras_predictor
from musicid_core.models.store import NO_MODEL_YET, ModelBundle, SongLabel
from musicid_core.song_index import IndexedSongs

MIN_AGREEMENT = 0.5
PROBABILITY_FLOOR = 1e-4
"""Added to CNN probabilities before their log: a song the CNN all but excluded can still win on
landmarks (about 9 aligned landmarks beyond the others overcome it)."""
PROFILE_WEIGHT = 300.0
"""Log-evidence per unit of profile similarity. A playing song typically leads foreign ones by
0.1-0.3 (30-90 nats, enough to overrule the CNN), chance differences are a few hundredths. The
benchmark ranked equally well with 100 and 300 (``benchmarks/analysis.md``)."""


UNCALIBRATED_MARGINS = (12.0, 0.3)
"""Landmark and profile margins for a library whose margins were never calibrated (none of its
songs enrolled since calibration existed, and no model): the calibration's largest values seen
(0.30 was set for 10 songs), so an uncalibrated verdict errs towards "unknown"."""
NO_SONGS_YET = "the library has no songs yet; add some with 'musicid library add'"


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
    fingerprint_margin: Optional[int] = None
    """Aligned landmarks of the top song beyond the runner-up's; None without a landmark index."""
    profile_margin: Optional[float] = None
    """Tonal-profile similarity of the top song beyond the runner-up's; None without profiles."""
    confidence: Optional[float] = None
    """How sure the verdict is of the top song: with a fingerprint index, the probability that it
    is right (``musicid_core.verdict``); without one, its ensemble score."""
    speed: float = 1.0
    """The playback speed the alignment checks were read at (``musicid_core.speed_search``): 1.0
    unless the nominal speed gave no confident answer and a drifted speed gave a surer one."""

    @property
    def best(self) -> Match:
        return self.matches[0]

    @property
    def certainty(self) -> float:
        """What to show as the answer's confidence: ``confidence``, else the top song's score."""
        return self.confidence if self.confidence is not None else self.best.score

    def to_json(self, file: str) -> dict[str, Any]:
        return {
            "file": file,
            "verdict": self.verdict,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "matches": [{"title": m.song.title, "source": m.song.source, "score": round(m.score, 6)} for m in self.matches],
        }


class Recognizer:
    """Holds one loaded model and/or the library's song index; ``identify`` can be called many
    times (the CLI, the GUI worker).

    With a song index (``musicid_core.song_index``) the songs it can name are the index's: every
    song of the library that has been analysed, including songs added since the network was
    trained. The network's probabilities are mapped onto them by song id; a song it has not been
    trained on gets ``1 / (songs the network knows)`` in every window, the belief in any one song
    before hearing anything, so only its recording's evidence can make it win. Without a bundle
    (a library never trained) every song gets that prior and the verdict rests on the recording
    checks alone. Without an index the bundle's own songs and landmark index are used."""

    def __init__(
        self, bundle: Optional[ModelBundle], songs: Optional[IndexedSongs] = None, use_fingerprints: bool = True,
    ) -> None:
        if bundle is None and songs is None:
            raise ModelError(NO_SONGS_YET)
        self.bundle = bundle
        self.settings: FeatureSettings = bundle.meta.features if bundle is not None else DEFAULT_FEATURES
        self.threshold = float(bundle.meta.threshold) if bundle is not None else 0.5
        self._use_fingerprints = use_fingerprints
        self._predict = None
        if bundle is not None:
            window = (self.settings.n_mels, self.settings.window_frames)
            self._predict = bundle.lite if bundle.lite is not None else keras_predictor(bundle.model, window)
            self._predict(np.zeros((1, *window, 1), dtype=np.float32))
            # Run once here, so that a Recognizer that exists has been traced: TensorFlow's first trace in a
            # process crashed the app when it overlapped live audio capture (issue 13, keras_predictor).
            # LiteRT does not trace; the run allocates its tensors before any audio arrives.
        self._set_songs(songs)

    def with_songs(self, songs: Optional[IndexedSongs]) -> "Recognizer":
        """The same network (not loaded, traced or run again) over another snapshot of the index."""
        if self.bundle is None and songs is None:
            raise ModelError(NO_SONGS_YET)
        clone = copy.copy(self)
        clone._set_songs(songs)
        return clone

    def _set_songs(self, songs: Optional[IndexedSongs]) -> None:
        bundle = self.bundle
        self.songs = songs
        if songs is not None:
            self.labels = songs.labels
            self.fingerprints = songs.fingerprints if self._use_fingerprints else None
        else:
            self.labels = bundle.labels  # type: ignore[union-attr]
            self.fingerprints = bundle.fingerprints if self._use_fingerprints else None  # type: ignore[union-attr]
        margins = songs.margins if songs is not None else None
        calibrated_speeds: tuple[float, ...] = ()
        calibrated_songs = 0
        if margins is not None:
            self.fingerprint_threshold, self.profile_threshold = margins.fingerprint_margin, margins.profile_margin
            calibrated_speeds, calibrated_songs = margins.speeds, margins.songs
        elif bundle is not None and bundle.meta.fingerprint_margin > 0:
            self.fingerprint_threshold = float(bundle.meta.fingerprint_margin)
            self.profile_threshold = float(bundle.meta.profile_margin)
            calibrated_speeds, calibrated_songs = tuple(bundle.meta.margin_speeds), len(bundle.labels)
        else:
            self.fingerprint_threshold, self.profile_threshold = UNCALIBRATED_MARGINS
        # Speeds tried when the nominal one is not confident: only with margins calibrated through
        # that very search for this library's size (``musicid_core.speed_search``); other margins
        # keep the nominal verdict.
        self.search_speeds = (speed_search.searchable(calibrated_speeds, len(self.labels), calibrated_songs)
                              if self.fingerprints is not None else ())
        self._columns = _network_columns(self.labels, bundle) if songs is not None and bundle is not None else None

    @property
    def untrained_songs(self) -> int:
        """How many of the songs it can name the network has not been trained on."""
        if self._predict is None:
            return len(self.labels)
        return 0 if self._columns is None else int(np.sum(self._columns == len(self.bundle.labels)))  # type: ignore[union-attr]

    def window_probabilities(self, windows: np.ndarray) -> np.ndarray:
        """(n_windows, n_outputs) network probabilities for (n_windows, n_mels, frames) log-mel
        windows, in the network's own output order."""
        if self._predict is None:
            raise ModelError(NO_MODEL_YET)
        return self._predict(np.asarray(windows, dtype=np.float32)[..., np.newaxis])

    def song_probabilities(self, windows: np.ndarray) -> np.ndarray:
        """(n_windows, songs + 1) probabilities in ``labels`` order, the last column "not in your
        library"; songs the network was not trained on get the neutral prior (class docstring)."""
        if self._predict is None:
            return np.full((1, len(self.labels) + 1), 1.0 / (len(self.labels) + 1))
        probabilities = self.window_probabilities(windows)
        if self._columns is None:
            return probabilities
        trained = len(self.bundle.labels)  # type: ignore[union-attr]
        unknown = probabilities[:, trained] if probabilities.shape[1] > trained else np.zeros(len(probabilities))
        padded = np.concatenate([probabilities[:, :trained], np.full((len(probabilities), 1), 1.0 / max(trained, 1))], axis=1)
        return np.concatenate([padded[:, self._columns], unknown[:, np.newaxis]], axis=1)

    def identify(self, audio: np.ndarray, top_k: int = 5) -> Identification:
        """Rank the library's songs for a mono recording at the feature sample rate."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size and float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            raise MusicIdError("the recording is silent; check the microphone and its level")
        windows = recording_windows(audio, self.settings)
        landmarks = self.fingerprints.match(audio) if self.fingerprints is not None else None
        probabilities = self.song_probabilities(windows)

        def answer_at(speed: float, found: Optional[FingerprintMatch]) -> Identification:
            answer = decide(probabilities, self.labels, self.threshold, top_k, found,
                            self.fingerprint_threshold, self.profile_threshold)
            return dataclasses.replace(answer, speed=speed)

        answer = answer_at(1.0, landmarks)
        if self.fingerprints is not None:
            # The network keeps its nominal-speed probabilities; only the alignment checks are redone.
            answer = speed_search.search(
                answer, audio, self.search_speeds, confident=lambda a: a.verdict == "match",
                confidence=lambda a: a.certainty, answer_at=answer_at, match=self.fingerprints.match,
            )
        return answer if self._predict is not None else dataclasses.replace(answer, windows=0, agreement=1.0)

    def identify_windows(self, windows: np.ndarray, top_k: int = 5) -> Identification:
        """Network only: for callers that hold spectrogram windows but not the audio."""
        return decide(self.song_probabilities(windows), self.labels, self.threshold, top_k)


def _network_columns(labels: list[SongLabel], bundle: ModelBundle) -> np.ndarray:
    """For each song of ``labels``, the network output trained on it, or the extra neutral column
    (index ``len(bundle.labels)`` of the padded probabilities) for a song the network never saw."""
    column_of = {label.id: i for i, label in enumerate(bundle.labels)}
    neutral = len(bundle.labels)
    return np.array([column_of.get(label.id, neutral) for label in labels], dtype=np.int64)


def decide(
    probabilities: np.ndarray, labels: list[SongLabel], threshold: float, top_k: int = 5,
    landmarks: Optional[FingerprintMatch] = None, fingerprint_threshold: float = 0.0,
    profile_threshold: float = 0.0,
) -> Identification:
    """Ensemble per-window probabilities, combine them with the fingerprint evidence when given, rank
    the songs and give the verdict (module docstring).

    ``probabilities`` has one column per song, plus a last "not in your library" column when
    there are more columns than ``labels``."""
    songs = probabilities[:, : len(labels)]
    unknown = probabilities[:, len(labels)] if probabilities.shape[1] > len(labels) else np.zeros(len(probabilities))
    scores = songs.mean(axis=0)
    network = scores
    unknown_score = float(unknown.mean())
    if landmarks is not None:
        scores, unknown_score = _with_landmarks(scores, unknown_score, landmarks)
    order = np.argsort(-scores, kind="stable")[: max(1, top_k)]
    top = int(order[0])
    agreement = float(np.mean(probabilities.argmax(axis=1) == top))
    profiles = landmarks.profiles if landmarks is not None else None
    if landmarks is not None:
        confidence = verdicts.probability(verdicts.evidence(top, landmarks, fingerprint_threshold, profile_threshold, network))
        confident = verdicts.is_match(confidence)
    else:
        confidence = float(scores[top])
        confident = scores[top] >= threshold and scores[top] > unknown_score and agreement >= MIN_AGREEMENT
    matches = [Match(labels[i], float(scores[i])) for i in order]
    return Identification(
        "match" if confident else "unknown", matches, len(probabilities), agreement, unknown_score,
        landmarks.margin if landmarks is not None else None,
        round(profiles.margin, 4) if profiles is not None else None, confidence,
    )


def _with_landmarks(scores: np.ndarray, unknown_score: float, landmarks: FingerprintMatch) -> tuple[np.ndarray, float]:
    """Posterior-like scores: CNN probability times e^(landmark and profile evidence), normalised
    together with "not in your library", which is credited with the runner-up's (chance level)."""
    evidence = landmarks.counts.astype(np.float64)
    chance = _runner_up(evidence)
    if landmarks.profiles is not None:
        similarity = PROFILE_WEIGHT * landmarks.profiles.similarity
        evidence = evidence + similarity
        chance += _runner_up(similarity)
    log_scores = np.log(np.append(scores, unknown_score) + PROBABILITY_FLOOR) + np.append(evidence, chance)
    log_scores -= log_scores.max()
    posterior = np.exp(log_scores)
    posterior /= posterior.sum()
    return posterior[:-1], float(posterior[-1])


def _runner_up(values: np.ndarray) -> float:
    return float(np.partition(values, -2)[-2]) if values.size >= 2 else 0.0
