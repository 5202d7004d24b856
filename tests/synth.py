"""Tiny generated "songs" and noises for tests: distinct melodies, timbres and rhythms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


NOTES_PER_MELODY = 8


def _melody(index: int) -> tuple[float, np.ndarray]:
    """(beat in seconds, note frequencies) of song ``index``. Pitches and tempo are off any shared
    grid, as in real recordings: two generated songs must not share note pairs at identical
    intervals, or their landmarks (``musicid_core.fingerprint``) would coincide."""
    rng = np.random.default_rng(1000 + index)
    beat = 0.15 + 0.25 * rng.random()
    return beat, 220.0 * 2 ** rng.uniform(0.0, 2.0, size=NOTES_PER_MELODY)


def melody_period(index: int) -> float:
    """Seconds after which song ``index`` repeats itself exactly."""
    return NOTES_PER_MELODY * _melody(index)[0]


def song(index: int, seconds: float = 12.0, sr: int = SR) -> np.ndarray:
    """A repeating melody whose notes, tempo and timbre depend on ``index``."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    beat, notes = _melody(index)
    which = (t // beat).astype(int) % len(notes)
    freq = notes[which]
    phase = 2 * np.pi * np.cumsum(freq) / sr
    harmonics = 1 + index % 3
    tone = sum(np.sin(k * phase) / k for k in range(1, harmonics + 2))
    # A 20-ms attack: an instant onset is a broadband click, and clicks at the same tempo would
    # make two songs' landmarks coincide whatever their notes.
    envelope = np.exp(-((t % beat) / (beat * (0.3 + 0.2 * (index % 2))))) * (1 - np.exp(-(t % beat) / 0.02))
    clicks = (np.sin(2 * np.pi * (60 + 25 * index) * t) * np.exp(-((t % (2 * beat)) * 40))) * (index % 2)
    return (0.3 * tone * envelope / (harmonics + 1) + 0.2 * clicks).astype(np.float32)


def noise(index: int, seconds: float = 6.0, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(5000 + index)
    white = rng.standard_normal(int(seconds * sr))
    if index % 2:
        white = np.cumsum(white)
        white -= np.convolve(white, np.ones(200) / 200, mode="same")
    return (0.1 * white / np.std(white)).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = SR, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, **kwargs)
    return path


N_SONGS = 4


NEGATIVE_SONGS = range(20, 28)
"""Generated songs that play the part of "other music in the world" for tiny test models."""


def write_negatives(folder: Path) -> Path:
    for index in NEGATIVE_SONGS:
        write(folder / f"other{index}.wav", song(index, seconds=8.0))
    return folder


def tiny_training(negatives_dir: Path):  # type: ignore[no-untyped-def]
    """Options for a few-second training run of the tiny model on generated songs."""
    from training.train import TrainOptions

    return TrainOptions(arch="tiny", epochs=14, examples_per_song=64, learning_rate=5e-3, seed=1,
                        negatives_dir=negatives_dir)


def tone(freq: float = 1000.0, seconds: float = 8.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noisy_excerpt(index: int, start_s: float, seconds: float, rng: np.random.Generator, snr_db: float = 5.0) -> np.ndarray:
    """An excerpt of generated song ``index`` under noise the model never trained on."""
    clean = song(index)[int(start_s * SR) : int((start_s + seconds) * SR)]
    interference = noise(50 + int(rng.integers(0, 100)), seconds + 1)[: clean.size]
    gain = np.sqrt(np.mean(clean**2) / np.mean(interference**2)) * 10 ** (-snr_db / 20)
    return (clean + gain * interference).astype(np.float32)


STRANGER = 40
"""A generated song that is neither enrolled nor among the negatives: "not in your library"."""


def listening_sequence(rng: np.random.Generator, snr_db: float = 5.0, gap_s: float = 3.0
                       ) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """What continuous listening is tested with: song0 and song1 back to back, a gap of digital
    silence, a stranger, then song2, all under noise. Returns (audio, truth) with truth as
    (title, or "?" for the stranger, start s, end s)."""
    parts: list[tuple[str, np.ndarray]] = [
        ("song0", noisy_excerpt(0, 0.0, 11.0, rng, snr_db)),
        ("song1", noisy_excerpt(1, 0.5, 11.0, rng, snr_db)),
        ("-", np.zeros(int(gap_s * SR), np.float32)),
        ("?", _noisy(song(STRANGER, seconds=10.0), rng, snr_db)),
        ("song2", noisy_excerpt(2, 0.0, 11.0, rng, snr_db)),
    ]
    truth, t = [], 0.0
    for label, audio in parts:
        if label != "-":
            truth.append((label, t, t + audio.size / SR))
        t += audio.size / SR
    return np.concatenate([a for _, a in parts]).astype(np.float32), truth


def _noisy(clean: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    interference = noise(50 + int(rng.integers(0, 100)), clean.size / SR + 1)[: clean.size]
    gain = np.sqrt(np.mean(clean**2) / np.mean(interference**2)) * 10 ** (-snr_db / 20)
    return (clean + gain * interference).astype(np.float32)
