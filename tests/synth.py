"""Tiny generated "songs" and noises for tests: distinct melodies, timbres and rhythms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def song(index: int, seconds: float = 12.0, sr: int = SR) -> np.ndarray:
    """A repeating melody whose notes, tempo and timbre depend on ``index``."""
    rng = np.random.default_rng(1000 + index)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    beat = 0.18 + 0.07 * (index % 4)
    notes = 220.0 * 2 ** (rng.integers(0, 24, size=8) / 12)
    which = (t // beat).astype(int) % len(notes)
    freq = notes[which]
    phase = 2 * np.pi * np.cumsum(freq) / sr
    harmonics = 1 + index % 3
    tone = sum(np.sin(k * phase) / k for k in range(1, harmonics + 2))
    envelope = np.exp(-((t % beat) / (beat * (0.3 + 0.2 * (index % 2)))))
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
