"""Features: librosa-exact, identical for training and recognition, right window counts."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from musicid_core.config import DEFAULT_FEATURES as F
from musicid_core.errors import RecordingTooShortError
from musicid_core.features import fragment_windows, looped_to, recording_windows, window_starts
from training.dataset import build_window_set


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * F.sample_rate)) / F.sample_rate
    return (0.3 * np.sin(2 * np.pi * 440 * t * (1 + t / 20)) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_window_is_librosa_log_mel_with_method_settings() -> None:
    audio = _signal(5.0)[: F.fragment_samples]
    expected = librosa.power_to_db(
        librosa.feature.melspectrogram(y=audio, sr=22050, n_mels=128, hop_length=431), ref=np.max
    )
    window = fragment_windows(audio[np.newaxis])[0]
    assert window.shape == (128, 256) == expected.shape
    np.testing.assert_allclose(window, expected, atol=1e-3)


def test_batched_mel_power_is_librosas_and_each_signals_own_to_float32_rounding() -> None:
    """A batch of fragments (dataset building) and one signal (recognition) take different
    products; both must give librosa's mel spectrogram. Bit for bit on the Intel machine they were
    written on; on an AMD EPYC the BLAS kernels for the batched product round differently, by at
    most a few float32 ulps (relative 4e-7), so the test allows that and nothing more."""
    from musicid_core.features import mel_power

    batch = np.stack([_signal(5.0, seed=s)[: F.fragment_samples] for s in range(3)])
    together = mel_power(batch)
    for audio, row in zip(batch, together):
        expected = librosa.feature.melspectrogram(y=audio, sr=22050, n_mels=128, hop_length=431)
        np.testing.assert_allclose(row, expected, rtol=2e-6, atol=0)
        np.testing.assert_allclose(row, mel_power(audio), rtol=2e-6, atol=0)


def test_training_fragment_equals_recognition_window_of_same_samples() -> None:
    recording = _signal(12.0)
    hop = F.hop_length
    windows = recording_windows(recording)
    for index in (0, 2, 4):
        start = index * F.step_frames * hop
        fragment = recording[start : start + F.fragment_samples]
        from_training = fragment_windows(fragment[np.newaxis])[0]
        # Identical but for the two edge frames each side, where librosa pads a lone fragment.
        np.testing.assert_allclose(from_training[:, 3:-3], windows[index][:, 3:-3], atol=0.05)


def test_dataset_builder_uses_the_same_feature_function(tmp_path, monkeypatch) -> None:
    import training.augment

    monkeypatch.setattr(training.augment, "REVERB_PROBABILITY", 0.0)
    monkeypatch.setattr(training.augment, "MICROPHONE_PROBABILITY", 0.0)
    song = _signal(8.0, seed=3)
    silent_noise = [np.zeros(1000, dtype=np.float32)]  # noise of zero energy: mix = boosted song
    built = build_window_set(tmp_path / "w.npy", [[song]], [3], silent_noise, seed=5)
    rng = np.random.default_rng(5)
    from training.dataset import plan_examples

    plan = plan_examples([[song]], [3], F.fragment_samples, rng)
    for row, offset in enumerate(plan.offsets):
        expected = fragment_windows(song[np.newaxis, offset : offset + F.fragment_samples])[0]
        np.testing.assert_allclose(built.windows[row].astype(np.float32), expected, atol=0.05)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    # frames = 1 + samples // 431; windows = 1 + (frames - 256) // 51
    [(4.99, 1), (5.0, 1), (5.9, 1), (6.0, 2), (10.0, 6), (30.0, 26), (60.0, 56)],
)
def test_sliding_window_count(seconds: float, expected: int) -> None:
    samples = int(seconds * F.sample_rate)
    frames = 1 + samples // F.hop_length
    assert F.window_count(samples) == expected == len(window_starts(frames))
    assert len(recording_windows(_signal(seconds))) == expected


@pytest.mark.parametrize("seconds", [3.0, 4.0, 4.97])
def test_recording_shorter_than_a_window_gives_one_window_of_itself_looped(seconds: float) -> None:
    audio = _signal(seconds)
    assert audio.size < F.window_samples and F.window_count(audio.size) == 1
    windows = recording_windows(audio)
    assert windows.shape == (1, F.n_mels, F.window_frames)
    looped = looped_to(audio, F.fragment_samples)
    np.testing.assert_array_equal(looped[: audio.size], audio)
    np.testing.assert_array_equal(looped[audio.size : 2 * audio.size], audio[: looped.size - audio.size])
    np.testing.assert_allclose(windows[0], fragment_windows(looped[np.newaxis])[0], atol=1e-4)
    # The recording's own frames are its own spectrum (but for the seam), not padding.
    own = int(audio.size // F.hop_length) - 3
    alone = fragment_windows(np.pad(audio, (0, F.fragment_samples - audio.size))[np.newaxis])[0]
    assert np.abs(windows[0][:, 3:own] - alone[:, 3:own]).max() < 1.0


def test_windows_step_51_frames() -> None:
    assert list(window_starts(400)) == [0, 51, 102]


@pytest.mark.parametrize(("samples", "said"), [(int(2.99 * F.sample_rate), "2.99"), (F.min_recording_samples - 1, "2.99"), (0, "0.00")])
def test_recording_under_3_s_is_refused_with_its_length_to_a_hundredth(samples: int, said: str) -> None:
    assert F.window_count(samples) == 0
    with pytest.raises(RecordingTooShortError, match=rf"the recording is {said} s long; at least 3\.00 s is needed"):
        recording_windows(_signal(samples / F.sample_rate + 1e-6)[:samples])


def test_loudness_does_not_change_features() -> None:
    audio = _signal(6.0)
    np.testing.assert_allclose(recording_windows(audio), recording_windows(audio * 0.01), atol=1e-3)


def test_dataset_builder_gives_the_same_windows_with_one_thread_or_several(tmp_path) -> None:
    songs = [[_signal(7.0, seed=11)], [_signal(6.0, seed=12)]]
    noise = [_signal(3.0, seed=13), _signal(2.0, seed=14)]
    one = build_window_set(tmp_path / "one.npy", songs, [40, 30], noise, seed=9, threads=1)
    two = build_window_set(tmp_path / "two.npy", songs, [40, 30], noise, seed=9, threads=3)
    np.testing.assert_array_equal(one.labels, two.labels)
    np.testing.assert_array_equal(np.asarray(one.windows), np.asarray(two.windows))
    assert not np.array_equal(one.windows[0], one.windows[1])  # a real, varied set, not a constant
