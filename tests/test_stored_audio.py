"""The library's stored form of a song (musicid_core/audio/stored.py): Ogg Vorbis at 22050 Hz mono,
read back close to what was stored, sliced sample-accurately, and earlier versions' .npy read too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_core.audio import stored
from musicid_core.storage import atomic_save_npy, atomic_write_bytes


def _stored(tmp_path: Path, audio: np.ndarray) -> Path:
    path = tmp_path / stored.stored_name("0123456789ab")
    atomic_write_bytes(path, stored.encode_vorbis(audio))
    return path


def test_round_trip_keeps_length_and_sound(tmp_path: Path) -> None:
    audio = synth.song(0, seconds=9.0)
    path = _stored(tmp_path, audio)
    back = stored.StoredAudio(path).read()
    assert back.dtype == np.float32 and back.size == audio.size
    error = back - audio
    snr_db = 10 * np.log10(np.mean(audio**2) / np.mean(error**2))
    assert snr_db > 15, snr_db  # lossy, but the same waveform (a shifted or wrong one is ~0 dB)
    assert np.max(np.abs(back)) <= 1.0
    assert path.stat().st_size < audio.size * 2 / 4  # well under a quarter of float16 PCM


def test_long_song_is_encoded_in_blocks(tmp_path: Path) -> None:
    """One write of a whole song crashes libsndfile 1.2.2's Vorbis encoder; blocks do not."""
    audio = np.tile(synth.song(1, seconds=10.0), 6)  # 60 s, far over WRITE_BLOCK_FRAMES
    assert stored.StoredAudio(_stored(tmp_path, audio)).read().size == audio.size


def test_slices_are_sample_accurate(tmp_path: Path) -> None:
    reader = stored.StoredAudio(_stored(tmp_path, synth.song(2, seconds=12.0)))
    whole = reader.read()
    rng = np.random.default_rng(3)
    for offset in rng.integers(0, len(reader) - 22050, size=8):
        assert np.array_equal(reader[int(offset):int(offset) + 22050], whole[offset:offset + 22050])
    assert reader[len(reader) - 10:len(reader) + 100].size == 10  # past the end: what there is
    assert np.array_equal(reader.read(100, 50), whole[100:150])


def test_legacy_npy_reads_the_same_way(tmp_path: Path) -> None:
    audio = synth.song(3, seconds=6.0)
    path = tmp_path / "0123456789ab.npy"
    atomic_save_npy(path, audio.astype(np.float16))
    reader = stored.StoredAudio(path)
    assert len(reader) == audio.size
    assert np.array_equal(reader[10:20], audio.astype(np.float16)[10:20].astype(np.float32))
    path.unlink()  # compaction may delete it while a reader is open: the mapping stays valid
    assert reader.read().size == audio.size


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "stereo"])
def test_problems_are_named(tmp_path: Path, damage: str) -> None:
    audio = synth.song(4, seconds=8.0)
    path = _stored(tmp_path, audio)
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"not an ogg file at all")
    elif damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])  # the headers and about half the audio
    else:
        import soundfile as sf

        sf.write(path, np.stack([audio, audio], axis=1), 22050, format="OGG", subtype="VORBIS")
    found = stored.problem(path, expected_seconds=8.0)
    expected = {"missing": "missing", "garbage": "damaged", "truncated": "truncated", "stereo": "mono"}[damage]
    assert expected in found, found
    if damage != "truncated":  # a cut-short file has a valid header: only its known length tells
        with pytest.raises(stored.StoredAudioError, match=expected):
            stored.StoredAudio(path)
    assert stored.problem(_stored(tmp_path / "ok", audio), expected_seconds=8.0) == ""
