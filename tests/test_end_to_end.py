"""Train a tiny model on generated songs, then identify noisy excerpts; reject what is unknown."""

from __future__ import annotations

import numpy as np
import pytest

import synth
from musicid_core.errors import RecordingTooShortError
from musicid_core.models.store import load_current, read_meta
from musicid_core.recognizer import Recognizer
from musicid_core.speed_search import SPEEDS
from training.fingerprints import MIN_PROFILE_MARGIN


@pytest.fixture(scope="module")
def recognizer(trained_library):  # type: ignore[no-untyped-def]
    library, _ = trained_library
    return Recognizer(load_current(library.models_dir))


def test_bundle_has_metrics_labels_and_features(trained_library) -> None:  # type: ignore[no-untyped-def]
    library, result = trained_library
    meta = read_meta(result.bundle)
    assert set(meta.metrics) >= {"accuracy", "precision", "roc_auc", "top5"}
    assert meta.metrics["accuracy"] >= 0.9, meta.metrics
    assert meta.features.n_mels == 128 and meta.features.hop_length == 431
    assert meta.library_fingerprint == library.fingerprint()
    assert (result.bundle / "fingerprints.npz").is_file() and meta.fingerprints_sha256
    assert meta.fingerprint_margin >= meta.metrics["fingerprint_impostor_p99"]
    # Calibrated through the recogniser's speed search, so recognisers of this bundle search.
    assert meta.margin_speeds == list(SPEEDS) and meta.metrics["impostor_tries"] == 1 + len(SPEEDS)
    assert Recognizer(load_current(library.models_dir)).search_speeds == SPEEDS


def test_landmarks_decide_the_verdict_of_a_model_with_an_index(recognizer: Recognizer) -> None:
    assert recognizer.fingerprints is not None and recognizer.fingerprint_threshold >= 8
    excerpt = synth.noisy_excerpt(2, start_s=2.0, seconds=8.0, rng=np.random.default_rng(9), snr_db=0.0)
    result = recognizer.identify(excerpt)
    assert result.verdict == "match" and result.fingerprint_margin is not None
    assert result.fingerprint_margin >= recognizer.fingerprint_threshold


def test_the_bundle_carries_tonal_profiles_with_a_calibrated_margin(trained_library, recognizer: Recognizer) -> None:  # type: ignore[no-untyped-def]
    _, result = trained_library
    meta = read_meta(result.bundle)
    assert meta.profile_margin >= max(MIN_PROFILE_MARGIN, meta.metrics["profile_impostor_p99"])
    assert recognizer.profile_threshold == meta.profile_margin
    assert recognizer.fingerprints.profiles is not None and recognizer.fingerprints.profiles.n_songs == synth.N_SONGS
    excerpt = synth.noisy_excerpt(1, start_s=3.0, seconds=8.0, rng=np.random.default_rng(4), snr_db=0.0)
    answer = recognizer.identify(excerpt)
    assert answer.best.song.title == "song1" and answer.profile_margin is not None and answer.profile_margin > 0


@pytest.mark.parametrize("index", range(synth.N_SONGS))
def test_noisy_excerpt_of_each_song_is_ranked_first(recognizer: Recognizer, index: int) -> None:
    rng = np.random.default_rng(index)
    excerpt = synth.noisy_excerpt(index, start_s=1.3 + index, seconds=8.0, rng=rng, snr_db=5.0)
    result = recognizer.identify(excerpt)
    assert result.best.song.title == f"song{index}", [(m.song.title, m.score) for m in result.matches]
    assert result.verdict == "match", (result.best.score, result.unknown_score, recognizer.threshold, result.agreement)


def test_a_tone_not_in_the_library_is_unknown(recognizer: Recognizer) -> None:
    result = recognizer.identify(synth.tone(1000.0, seconds=8.0))
    assert result.verdict == "unknown", (result.best.score, result.unknown_score, recognizer.threshold)


def test_room_noise_without_music_is_unknown(recognizer: Recognizer) -> None:
    result = recognizer.identify(synth.noise(77, seconds=8.0))
    assert result.verdict == "unknown", (result.best.song.title, result.best.score, result.unknown_score)


def test_ranking_is_complete_and_sorted(recognizer: Recognizer) -> None:
    result = recognizer.identify(synth.song(0)[: 22050 * 6], top_k=10)
    scores = [m.score for m in result.matches]
    assert len(scores) == synth.N_SONGS and scores == sorted(scores, reverse=True)
    assert 0.0 < sum(scores) <= 1.0 + 1e-3  # the rest is "not in your library"


@pytest.mark.parametrize("seconds", [3.0, 4.97])
@pytest.mark.parametrize("index", range(synth.N_SONGS))
def test_a_recording_shorter_than_one_window_is_answered(recognizer: Recognizer, seconds: float, index: int) -> None:
    excerpt = synth.noisy_excerpt(index, start_s=2.0 + index, seconds=seconds, rng=np.random.default_rng(20 + index), snr_db=5.0)
    assert excerpt.size < recognizer.settings.window_samples
    result = recognizer.identify(excerpt)
    assert result.windows == 1
    assert result.best.song.title == f"song{index}", [(m.song.title, round(m.score, 3)) for m in result.matches]


def test_a_short_tone_not_in_the_library_stays_unknown(recognizer: Recognizer) -> None:
    assert recognizer.identify(synth.tone(1000.0, seconds=3.0)).verdict == "unknown"


def test_a_recording_under_3_s_is_refused_with_its_length(recognizer: Recognizer) -> None:
    with pytest.raises(RecordingTooShortError, match=r"the recording is 2\.99 s long; at least 3\.00 s is needed"):
        recognizer.identify(synth.song(0)[: int(22050 * 2.99)])
