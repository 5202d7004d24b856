"""Tonal profiles: sustained music under loud noise is found where landmarks fail, foreign music
is not, edge lengths are handled, the stored profiles are checked, and the verdict uses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_core import fingerprint as fp
from musicid_core import tonal_profile as tp
from musicid_core.errors import ModelError
from musicid_core.models.store import SongLabel
from musicid_core.recognizer import decide
from training.fingerprints import MIN_PROFILE_MARGIN, calibrate_margin

N_PADS = 4


def pad(index: int, seconds: float = 24.0) -> np.ndarray:
    """Held chords without attacks (a synth pad): a new random three-note chord every 3 s, each
    note faded in and out over a second. The benchmark's landmark misses were music like this."""
    rng = np.random.default_rng(100 + index)
    t = np.arange(int(seconds * synth.SR)) / synth.SR
    out = np.zeros_like(t)
    chord_s = 3.0
    for start in np.arange(0.0, seconds, chord_s):
        envelope = np.clip(np.minimum(t - start, start + chord_s + 1.0 - t), 0.0, 1.0)
        for freq in rng.uniform(200.0, 2000.0, size=3):
            out += envelope * (np.sin(2 * np.pi * freq * t) + 0.5 * np.sin(2 * np.pi * 2 * freq * t))
    return (0.1 * out / np.abs(out).max()).astype(np.float32)


def chatter(index: int, seconds: float) -> np.ndarray:
    """Noise with moving spectral lines, like voices: a drifting harmonic series plus hiss."""
    rng = np.random.default_rng(200 + index)
    t = np.arange(int(seconds * synth.SR)) / synth.SR
    pitch = 150.0 + 60.0 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / synth.SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 15))
    return (voice + rng.normal(0.0, 0.5, t.size)).astype(np.float32)


def at_snr(music: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    noise = noise[: music.size]
    return music + noise * (np.std(music) / np.std(noise)) * 10 ** (-snr_db / 20)


@pytest.fixture(scope="module")
def index() -> fp.FingerprintIndex:
    return fp.FingerprintIndex.build([pad(i) for i in range(N_PADS)] + [synth.song(i, seconds=20.0) for i in range(2)])


def test_profiles_are_unit_vectors_a_quarter_second_apart() -> None:
    profiles = tp.tonal_profiles(pad(0, seconds=10.0))
    frames = 1 + (10 * synth.SR - fp.N_FFT) // fp.HOP
    assert profiles.shape == (1 + (frames - tp.BLOCK_FRAMES) // tp.BLOCK_HOP, fp.MAX_BIN - fp.MIN_BIN)
    assert np.allclose(np.linalg.norm(profiles, axis=1), 1.0, atol=1e-4)


def test_long_audio_is_profiled_in_chunks_exactly_as_whole() -> None:
    audio = pad(1, seconds=45.0)  # more than two chunks of blocks
    whole = tp._block_profiles(fp.power_spectrum(audio), tp.tonal_profiles(audio).shape[0])
    assert np.allclose(tp.tonal_profiles(audio), whole, atol=1e-4)


@pytest.mark.parametrize("song", range(N_PADS))
def test_held_chords_under_chatter_are_found_by_their_profile(index: fp.FingerprintIndex, song: int) -> None:
    start = int((2.0 + 1.5 * song) * synth.SR)
    recording = at_snr(pad(song)[start : start + 10 * synth.SR], chatter(song, 10.0), snr_db=-3.0)
    match = index.match(recording)
    assert match.profiles is not None
    assert match.profiles.best == song, match.profiles.similarity
    assert match.profiles.margin >= 2 * MIN_PROFILE_MARGIN, match.profiles.similarity


def hum(seconds: float, base_hz: float = 120.0) -> np.ndarray:
    """A steady mains hum with its harmonics up to the profiles' band: the same partials in every block."""
    t = np.arange(int(seconds * synth.SR)) / synth.SR
    return sum(np.sin(2 * np.pi * k * base_hz * t) / k for k in range(2, 30)).astype(np.float32)


def test_a_recordings_steady_partials_are_taken_out_of_its_profiles_not_the_music() -> None:
    music = pad(2, seconds=10.0)
    recording = at_snr(music, hum(10.0), snr_db=-6.0)
    plain = tp.tonal_profiles(recording, tp.BLOCK_HOP * tp.QUERY_STRIDE)
    moving = tp.without_steady_part(plain)
    assert moving.shape == plain.shape
    assert np.allclose(np.linalg.norm(moving, axis=1), 1.0, atol=1e-4)
    # The clean music's profiles at the same blocks: closer to the moving part than to the plain profiles.
    clean = tp.tonal_profiles(music, tp.BLOCK_HOP * tp.QUERY_STRIDE)
    assert np.mean(np.sum(moving * clean, axis=1)) > np.mean(np.sum(plain * clean, axis=1)) + 0.02


def test_the_song_under_a_hum_leads_by_more_with_the_steady_part_taken_out(
    index: fp.FingerprintIndex, monkeypatch: pytest.MonkeyPatch,
) -> None:
    song = 1
    start = int(3.0 * synth.SR)
    recording = at_snr(pad(song)[start : start + 10 * synth.SR], hum(10.0), snr_db=-6.0)
    profiles = tp.tonal_profiles(recording, tp.BLOCK_HOP * tp.QUERY_STRIDE)
    assert index.profiles is not None
    leads = []
    for share in (0.0, tp.QUERY_STEADY_SHARE):
        monkeypatch.setattr(tp, "QUERY_STEADY_SHARE", share)
        found = index.profiles.match_profiles(profiles)
        assert found.best == song
        # The packed path (a large library's shortlisted songs) scores exactly the same.
        rows = [np.round(r * tp.QUANTISATION).astype(np.int8) for r in _song_rows(index.profiles)]
        assert np.allclose(tp.match_song_profiles(profiles, rows), found.similarity, atol=2e-3)
        leads.append(found.margin)
    assert leads[1] > leads[0] + 0.03, leads


def _song_rows(profiles: tp.ProfileIndex) -> list[np.ndarray]:
    rows, starts = profiles.unpadded()
    return [rows[a:b] for a, b in zip(starts[:-1], starts[1:])]


def test_silent_blocks_stay_silent_and_one_block_is_left_as_it_is() -> None:
    audio = pad(3, seconds=6.0)
    audio[: 2 * synth.SR] = 0.0
    plain = tp.tonal_profiles(audio, tp.BLOCK_HOP * tp.QUERY_STRIDE)
    moving = tp.without_steady_part(plain)
    silent = ~plain.any(axis=1)
    assert silent.any() and not moving[silent].any()
    assert np.array_equal(tp.without_steady_part(plain[-1:]), plain[-1:])


@pytest.mark.parametrize("audio", [pad(9, seconds=10.0), synth.noise(3, seconds=10.0), chatter(5, 10.0)],
                         ids=["other-pad", "noise", "chatter"])
def test_foreign_audio_leads_no_song_by_a_profile_margin(index: fp.FingerprintIndex, audio: np.ndarray) -> None:
    assert index.match(audio).profiles.margin < MIN_PROFILE_MARGIN


def test_a_recording_shorter_than_one_block_has_no_similarity(index: fp.FingerprintIndex) -> None:
    one_block = fp.N_FFT + (tp.BLOCK_FRAMES - 1) * fp.HOP  # samples
    match = index.match(pad(0)[: one_block - 1])
    assert not match.profiles.similarity.any() and match.profiles.margin == 0.0
    assert index.match(pad(0)[:one_block]).profiles.best == 0


def test_a_song_shorter_than_the_recording_is_scored_on_their_overlap() -> None:
    short = pad(2, seconds=4.0)
    index = tp.ProfileIndex.from_songs([tp.tonal_profiles(pad(0)), tp.tonal_profiles(short), tp.tonal_profiles(pad(1))])
    recording = np.concatenate([short, synth.noise(1, seconds=6.0) * 0.01])
    match = index.match(recording)
    assert match.best == 1 and 0.2 < match.similarity[1] < 0.6  # about 4 s of 10 line up


def test_a_song_too_short_for_one_block_is_never_the_answer() -> None:
    tiny = tp.tonal_profiles(pad(3)[: fp.N_FFT + (tp.BLOCK_FRAMES - 1) * fp.HOP - 1])
    assert tiny.shape == (0, fp.MAX_BIN - fp.MIN_BIN)
    index = tp.ProfileIndex.from_songs([tp.tonal_profiles(pad(0)), tiny, tp.tonal_profiles(pad(1))])
    match = index.match(pad(1)[: 8 * synth.SR])
    assert match.best == 2 and match.similarity[1] == 0.0
    restored = tp.ProfileIndex.from_arrays(*index.arrays().values(), 3, "test")
    assert np.allclose(restored.match(pad(1)[: 8 * synth.SR]).similarity, match.similarity, atol=0.01)


def test_profiles_round_trip_through_the_index_file(index: fp.FingerprintIndex, tmp_path: Path) -> None:
    path = tmp_path / fp.INDEX_FILE
    index.save(path)
    loaded = fp.FingerprintIndex.load(path, index.n_songs)
    query = at_snr(pad(3)[: 8 * synth.SR], chatter(1, 8.0), snr_db=0.0)
    assert np.allclose(loaded.match(query).profiles.similarity, index.match(query).profiles.similarity, atol=0.01)


def test_an_index_stored_without_profiles_still_matches_landmarks(index: fp.FingerprintIndex, tmp_path: Path) -> None:
    path = tmp_path / fp.INDEX_FILE
    np.savez(path, hashes=index.hashes, songs=index.songs, times=index.times, n_songs=[index.n_songs],
             parameters=fp.ANALYSIS_PARAMETERS)
    loaded = fp.FingerprintIndex.load(path, index.n_songs)
    match = loaded.match(synth.song(1, seconds=20.0)[: 8 * synth.SR])
    assert loaded.profiles is None and match.profiles is None and match.best == N_PADS + 1


@pytest.mark.parametrize(
    "profiles, starts, message",
    [
        (np.zeros((10, 249), np.float32), [0, 5, 10], "wrong type"),
        (np.zeros((10, 249), np.int8), [0, 10], "another number of songs"),
        (np.zeros((10, 249), np.int8), [0, 7, 12], "inconsistent"),
        (np.zeros((10, 249), np.int8), [0, 7, 3], "inconsistent"),
    ],
    ids=["float", "count", "past-end", "backwards"],
)
def test_damaged_profiles_are_refused(tmp_path: Path, profiles: np.ndarray, starts: list[int], message: str) -> None:
    path = tmp_path / fp.INDEX_FILE
    np.savez(path, hashes=np.zeros(1, np.uint32), songs=np.zeros(1, np.int32), times=np.zeros(1, np.int32),
             n_songs=[2], profiles=profiles, profile_song_starts=np.array(starts), parameters=fp.ANALYSIS_PARAMETERS)
    with pytest.raises(ModelError, match=message):
        fp.FingerprintIndex.load(path, 2)


def test_calibration_sets_a_profile_margin_above_foreign_music(index: fp.FingerprintIndex) -> None:
    negatives = [pad(20 + i, seconds=12.0) for i in range(3)]
    calibration = calibrate_margin(index, negatives, [chatter(i, 6.0) for i in range(3)], seed=0)
    assert calibration["profile_margin"] >= MIN_PROFILE_MARGIN
    assert calibration["profile_margin"] > calibration["profile_impostor_p99"]


LABELS = [SongLabel(f"id{i}", f"song{i}", f"s{i}.ogg") for i in range(4)]


def _evidence(counts: list[int], similarity: list[float]) -> fp.FingerprintMatch:
    return fp.FingerprintMatch(np.array(counts), np.zeros(len(counts), np.int64), 500,
                               tp.ProfileMatch(np.array(similarity)))


def test_a_profile_margin_answers_match_when_landmarks_are_at_chance() -> None:
    probabilities = np.array([[0.6, 0.1, 0.2, 0.1, 0.0]] * 3)  # the CNN prefers song0
    evidence = _evidence([4, 4, 5, 4], [0.21, 0.24, 0.45, 0.20])
    result = decide(probabilities, LABELS, 0.5, landmarks=evidence, fingerprint_threshold=8, profile_threshold=0.08)
    assert result.best.song.title == "song2" and result.verdict == "match"
    assert result.profile_margin == pytest.approx(0.21) and result.fingerprint_margin == 1
    without_threshold = decide(probabilities, LABELS, 0.5, landmarks=evidence, fingerprint_threshold=8)
    assert without_threshold.best.song.title == "song2" and without_threshold.verdict == "unknown"


def test_close_profiles_keep_the_cnn_order_and_answer_unknown() -> None:
    probabilities = np.array([[0.1, 0.6, 0.2, 0.1, 0.0]] * 3)
    evidence = _evidence([3, 3, 3, 3], [0.300, 0.301, 0.302, 0.300])
    result = decide(probabilities, LABELS, 0.5, landmarks=evidence, fingerprint_threshold=8, profile_threshold=0.08)
    assert [m.song.title for m in result.matches][:2] == ["song1", "song2"] and result.verdict == "unknown"
