"""The ambient noise used for augmentation: the user's packs, else the bundled default pack.

Clips stay memory-mapped (float16) so a large collection costs no RAM; only the drawn
segments are converted. If neither the library nor ``resources/noise`` has any noise, coloured
noise is synthesised so training still works (with a warning from the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicid_core.audio.decode import load_audio
from musicid_core.config import SAMPLE_RATE
from musicid_core.errors import AudioError
from musicid_core.library import Library
from musicid_core.resources import default_noise_dir


@dataclass
class NoiseBank:
    clips: list[np.ndarray]
    source: str  # "library", "default pack" or "synthesised"

    def split(self, holdout_every: int = 4) -> tuple["NoiseBank", "NoiseBank"]:
        """(training, validation) banks: every n-th clip is kept for validation when there are
        enough clips, so validation hears noise that training did not."""
        if len(self.clips) < 2 * holdout_every:
            return self, self
        val = [c for i, c in enumerate(self.clips) if i % holdout_every == 0]
        train = [c for i, c in enumerate(self.clips) if i % holdout_every != 0]
        return NoiseBank(train, self.source), NoiseBank(val, self.source)


def load_noise_bank(library: Library, packs: list[str] | None = None) -> NoiseBank:
    clips = [library.noise_audio(c) for c in library.noise_clips() if packs is None or c.pack in packs]
    if clips:
        return NoiseBank(clips, "library")
    bundled = default_noise_clips()
    if bundled:
        return NoiseBank(bundled, "default pack")
    return NoiseBank(synthesised_noise(np.random.default_rng(0)), "synthesised")


def default_noise_clips(folder: Path | None = None) -> list[np.ndarray]:
    folder = folder or default_noise_dir()
    clips = []
    for path in sorted(folder.glob("*.ogg")) if folder.is_dir() else []:
        try:
            clips.append(load_audio(path))
        except AudioError:
            continue
    return clips


def synthesised_noise(rng: np.random.Generator, seconds: float = 10.0) -> list[np.ndarray]:
    """White, pink, brown and hum-like noise: a last resort so training never lacks noise."""
    n = int(seconds * SAMPLE_RATE)
    white = rng.standard_normal(n).astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    freqs[0] = freqs[1]
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    brown = np.fft.irfft(spectrum / freqs, n)
    t = np.arange(n) / SAMPLE_RATE
    hum = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 100 * t) + 0.05 * white
    return [_normalise(x) for x in (white, pink, brown, hum)]


def _normalise(x: np.ndarray) -> np.ndarray:
    return (0.1 * x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)
