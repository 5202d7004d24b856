"""The clips training mixes from: ambient noise and negative ("not in your library") music.

Noise: the user's packs, else the bundled default pack (``resources/noise``); library clips stay
memory-mapped (float16) so a large collection costs no RAM. If there is no noise at all, coloured
noise is synthesised so training still works.

Negatives: ``resources/negatives`` (see ``resources/make_negatives.py``), or a folder given in the
training options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicid_core.audio.decode import is_audio_file, load_audio
from musicid_core.config import SAMPLE_RATE
from musicid_core.errors import AudioError
from musicid_core.library import Library
from musicid_core.resources import default_negatives_dir, default_noise_dir


@dataclass
class ClipBank:
    clips: list[np.ndarray]
    source: str  # e.g. "library", "default pack", "synthesised", a folder

    def split(self, holdout_every: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(training, validation) clips: every n-th clip is kept for validation when there are
        enough clips, so validation hears clips that training did not."""
        if len(self.clips) < 2 * holdout_every:
            return self.clips, self.clips
        val = [c for i, c in enumerate(self.clips) if i % holdout_every == 0]
        train = [c for i, c in enumerate(self.clips) if i % holdout_every != 0]
        return train, val

    def validation_only(self, holdout_every: int = 4) -> list[int]:
        """The clip numbers ``split`` keeps out of training (none when it trains on every clip)."""
        if len(self.clips) < 2 * holdout_every:
            return []
        return [i for i in range(len(self.clips)) if i % holdout_every == 0]


def load_noise_bank(library: Library, packs: list[str] | None = None) -> ClipBank:
    clips = [library.noise_audio(c) for c in library.noise_clips() if packs is None or c.pack in packs]
    if clips:
        return ClipBank(clips, "library")
    bundled = folder_clips(default_noise_dir())
    if bundled:
        return ClipBank(bundled, "default pack")
    return ClipBank(synthesised_noise(np.random.default_rng(0)), "synthesised")


def load_negative_bank(folder: Path | None = None) -> ClipBank:
    folder = folder or default_negatives_dir()
    return ClipBank(folder_clips(folder), str(folder))


def folder_clips(folder: Path) -> list[np.ndarray]:
    """Every readable audio file directly in ``folder``, decoded; unreadable ones are skipped."""
    clips = []
    for path in sorted(p for p in folder.iterdir() if is_audio_file(p)) if folder.is_dir() else []:
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


def synthesised_tones(rng: np.random.Generator, count: int, seconds: float = 6.0) -> list[np.ndarray]:
    """Steady tones, beeps and slow sweeps at random pitches: the ringtones, alarms, whistles
    and test tones a microphone also hears. Negative music alone never shows the model a single
    held pitch, so without these a pure tone could be confidently "matched" to a song."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tones = []
    for kind in range(count):
        start_hz = float(np.exp(rng.uniform(np.log(120.0), np.log(5000.0))))
        if kind % 3 == 2:  # a slow sweep over up to an octave
            freq = start_hz * 2 ** (rng.uniform(-1.0, 1.0) * t / seconds)
        else:
            freq = np.full(n, start_hz)
        phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
        partials = int(rng.integers(1, 4))
        wave = sum(np.sin(k * phase) / k for k in range(1, partials + 1))
        if kind % 3 == 1:  # beeping on and off, like an alarm or a phone
            period = rng.uniform(0.2, 1.2)
            wave = wave * ((t % period) < period * rng.uniform(0.3, 0.7))
        tones.append(_normalise(np.asarray(wave, dtype=np.float64)))
    return tones


def _normalise(x: np.ndarray) -> np.ndarray:
    return (0.1 * x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)
