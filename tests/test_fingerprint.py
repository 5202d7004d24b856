"""Landmark fingerprints: the right recording lines up, foreign audio does not, the index file is
checked, and the recogniser's combination with the CNN ranks and decides as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_core import fingerprint as fp
from musicid_core.errors import ModelError
from musicid_core.models.store import SongLabel
from musicid_core.recognizer import decide
from training.fingerprints import MIN_MARGIN, calibrate_margin


@pytest.fixture(scope="module")
def index() -> fp.FingerprintIndex:
    return fp.FingerprintIndex.build(synth.song(i, seconds=20.0) for i in range(synth.N_SONGS))


@pytest.mark.parametrize("song", range(synth.N_SONGS))
def test_noisy_excerpt_lines_up_with_its_song_at_its_offset(index: fp.FingerprintIndex, song: int) -> None:
    start_s = 3.0 + song
    excerpt = synth.song(song, seconds=20.0)[int(start_s * synth.SR) : int((start_s + 8.0) * synth.SR)]
    interference = synth.noise(60 + song, seconds=8.0)[: excerpt.size]
    noisy = excerpt + interference * (np.std(excerpt) / np.std(interference))  # 0 dB
    match = index.match(noisy)
    assert match.best == song, match.counts
    assert match.margin >= MIN_MARGIN, match.counts
    # The melody repeats, so it lines up equally well a whole number of periods away.
    period = synth.melody_period(song) * synth.SR / fp.HOP
    error = (match.offsets[song] - start_s * synth.SR / fp.HOP) % period
    assert min(error, period - error) <= fp.OFFSET_TOLERANCE + 1


@pytest.mark.parametrize("audio", [synth.noise(3, seconds=8.0), synth.tone(700.0), synth.song(25, seconds=8.0)],
                         ids=["noise", "tone", "other-song"])
def test_audio_not_in_the_index_gives_no_margin(index: fp.FingerprintIndex, audio: np.ndarray) -> None:
    assert index.match(audio).margin < MIN_MARGIN


def test_silence_and_tiny_signals_give_no_landmarks(index: fp.FingerprintIndex) -> None:
    for audio in (np.zeros(5 * synth.SR, np.float32), np.ones(100, np.float32)):
        match = index.match(audio)
        assert match.query_hashes == 0 and match.margin == 0 and not match.counts.any()


def test_long_recordings_are_matched_on_their_middle_only(index: fp.FingerprintIndex) -> None:
    long = np.tile(synth.song(1, seconds=20.0), 6)  # 2 minutes
    assert fp.central_segment(long).size == int(fp.MATCH_SECONDS * fp.SAMPLE_RATE)
    short_marks = fp.with_time_jitter(fp.landmarks(fp.central_segment(long), fp.QUERY_PEAKS_PER_SECOND)).hashes.size
    assert index.match(long).query_hashes == short_marks
    assert index.match(long).best == 1


def test_hashes_fit_their_bit_fields() -> None:
    marks = fp.landmarks(synth.song(2), fp.PEAKS_PER_SECOND)
    assert marks.hashes.size > 0 and marks.hashes.max() < 2**21
    dt = marks.hashes & 0x3F
    df = ((marks.hashes >> 6) & 0x7F).astype(int) - 64
    assert dt.min() >= 1 and dt.max() <= fp.MAX_DT and np.abs(df).max() <= fp.MAX_DF


def test_index_round_trips_and_refuses_damage(index: fp.FingerprintIndex, tmp_path: Path) -> None:
    path = tmp_path / fp.INDEX_FILE
    index.save(path)
    loaded = fp.FingerprintIndex.load(path, synth.N_SONGS)
    query = synth.song(3)[: 8 * synth.SR]
    assert np.array_equal(loaded.match(query).counts, index.match(query).counts)
    with pytest.raises(ModelError, match="does not fit"):
        fp.FingerprintIndex.load(path, synth.N_SONGS + 1)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="cannot be read"):
        fp.FingerprintIndex.load(path, synth.N_SONGS)
    np.savez(path, hashes=np.array([{"evil": 1}], dtype=object), songs=np.zeros(1), times=np.zeros(1), n_songs=[1],
             parameters=fp.ANALYSIS_PARAMETERS)
    with pytest.raises(ModelError):
        fp.FingerprintIndex.load(path, 1)
    np.savez(path, hashes=np.zeros(2, np.uint32), songs=np.array([0, 7]), times=np.zeros(2, np.int32), n_songs=[2],
             parameters=fp.ANALYSIS_PARAMETERS)
    with pytest.raises(ModelError, match="songs the model does not have"):
        fp.FingerprintIndex.load(path, 2)


@pytest.mark.parametrize("parameters", [None, fp.ANALYSIS_PARAMETERS + 1, fp.ANALYSIS_PARAMETERS[:-1]],
                         ids=["before-they-were-stored", "other-values", "fewer"])
def test_an_index_made_by_another_analysis_is_refused_as_stale(
    index: fp.FingerprintIndex, tmp_path: Path, parameters: np.ndarray | None,
) -> None:
    path = tmp_path / fp.INDEX_FILE
    extra = {} if parameters is None else {"parameters": parameters}
    np.savez(path, hashes=index.hashes, songs=index.songs, times=index.times, n_songs=[index.n_songs], **extra)
    with pytest.raises(fp.StaleIndexError, match="another version's song analysis"):
        fp.FingerprintIndex.load(path, index.n_songs)


def test_calibrated_margin_sits_above_foreign_music(index: fp.FingerprintIndex) -> None:
    negatives = [synth.song(i, seconds=12.0) for i in synth.NEGATIVE_SONGS]
    noise = [synth.noise(i) for i in range(4)]
    calibration = calibrate_margin(index, negatives, noise, seed=0)
    assert calibration["fingerprint_margin"] >= MIN_MARGIN
    assert calibration["fingerprint_margin"] > calibration["fingerprint_impostor_p99"]
    assert calibration["fingerprint_impostors"] == len(negatives) * fp_lengths_that_fit(12.0)


def fp_lengths_that_fit(seconds: float) -> int:
    from training.fingerprints import CALIBRATION_LENGTHS_S, CALIBRATION_PER_CLIP

    return sum(CALIBRATION_PER_CLIP if length < seconds else 1 for length in CALIBRATION_LENGTHS_S if length <= seconds)


LABELS = [SongLabel(f"id{i}", f"song{i}", f"s{i}.ogg") for i in range(4)]


def _landmarks(counts: list[int]) -> fp.FingerprintMatch:
    return fp.FingerprintMatch(np.array(counts), np.zeros(len(counts), dtype=np.int64), query_hashes=500)


def test_clear_landmark_winner_overrides_the_cnn() -> None:
    probabilities = np.array([[0.7, 0.2, 0.05, 0.05, 0.0]] * 3)  # the CNN prefers song0
    result = decide(probabilities, LABELS, threshold=0.5, landmarks=_landmarks([2, 30, 1, 0]), fingerprint_threshold=8)
    assert [m.song.title for m in result.matches][:2] == ["song1", "song0"]
    assert result.verdict == "match" and result.fingerprint_margin == 28
    assert result.best.score > 0.99 and sum(m.score for m in result.matches) <= 1.0 + 1e-9


def test_chance_landmarks_keep_the_cnn_order_and_answer_unknown() -> None:
    probabilities = np.array([[0.1, 0.6, 0.2, 0.05, 0.05]] * 3)  # a confident CNN ...
    result = decide(probabilities, LABELS, threshold=0.3, landmarks=_landmarks([3, 3, 3, 3]), fingerprint_threshold=8)
    assert [m.song.title for m in result.matches][:3] == ["song1", "song2", "song0"]
    assert result.verdict == "unknown"  # ... is not enough: nothing lines up
    without_index = decide(probabilities, LABELS, threshold=0.3)
    assert without_index.verdict == "match" and without_index.fingerprint_margin is None


def test_a_margin_for_a_song_the_ranking_does_not_put_first_is_no_match() -> None:
    # The CNN all but excludes song2; a margin just at the threshold does not overcome that.
    probabilities = np.array([[0.98, 0.0, 0.0, 0.02, 0.0]] * 3)
    result = decide(probabilities, LABELS, threshold=0.5, landmarks=_landmarks([0, 0, 8, 0]), fingerprint_threshold=8)
    assert result.best.song.title == "song0" and result.verdict == "unknown"


def test_long_songs_are_analysed_in_chunks_with_the_whole_songs_whitening_level() -> None:
    rng = np.random.default_rng(4)
    chunks = [rng.normal(-3.0, 2.0, size=(fp.MAX_BIN - fp.MIN_BIN, 301)) for _ in range(3)]  # an odd count: one middle
    exact = np.median(np.concatenate(chunks, axis=1), axis=1)
    assert np.abs(fp._median_level(iter(chunks)) - exact).max() <= fp.LEVEL_STEP
    song = np.tile(synth.song(2, seconds=20.0), 3)  # three chunks of analysis
    frames, bins = fp.spectral_peaks(song, fp.PEAKS_PER_SECOND)
    seconds = frames // fp.FRAMES_PER_BLOCK
    assert np.bincount(seconds).max() <= fp.PEAKS_PER_SECOND
    assert set(range(int(seconds.max()))) <= set(seconds.tolist())  # no gap at chunk boundaries
    assert len(set(zip(frames.tolist(), bins.tolist()))) == frames.size  # and no peak twice


@pytest.mark.parametrize("seconds", [3.0, 10.0, 20.0])
def test_the_shared_query_spectrum_changes_no_landmark_and_no_profile(seconds: float) -> None:
    """``FingerprintIndex.match`` computes the STFT once for both checks; it must be exactly what
    each check computes on its own."""
    from musicid_core.fingerprint import central_segment, landmarks, query_magnitude
    from musicid_core.tonal_profile import tonal_profiles

    audio = np.tile(synth.song(2, 12.0), 2)[: int(seconds * synth.SR)]
    segment = central_segment(audio)
    magnitude = query_magnitude(segment)
    alone, shared = landmarks(segment, 60), landmarks(segment, 60, magnitude)
    assert np.array_equal(alone.hashes, shared.hashes) and np.array_equal(alone.times, shared.times)
    assert np.array_equal(tonal_profiles(segment, 44), tonal_profiles(segment, 44, magnitude))
