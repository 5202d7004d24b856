"""Building the augmented training and validation sets, on disk, a batch at a time.

Each song contributes ``examples_per_song`` fragments at random offsets, each boosted and overlaid
with a fresh multi-noise mix (``augment``), turned into a log-mel window by the very function
recognition uses (``features.fragment_windows``). The validation split is drawn from a separate
random stream (other offsets, other noise draws, held-out noise clips where there are enough).

Windows are written to a float16 memory-mapped file (57 songs × 200 examples ≈ 750 MB on disk),
so memory stays at one batch whatever the library size; the reference kept 3 GB in RAM.
Everything is seeded: the same seed and library give the same dataset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.errors import LibraryError, TrainingCancelled
from musicid_core.features import fragment_windows
from musicid_core.library import Library, Song
from musicid_core.progress import ShouldStopFn, never_stop
from training.augment import augment

BUILD_BATCH = 32


@dataclass
class WindowSet:
    """Log-mel windows (memory-mapped float16, (n, n_mels, frames)) and their song indices."""

    windows: np.ndarray
    labels: np.ndarray
    path: Path

    def __len__(self) -> int:
        return len(self.labels)


def fragment_at(song_audio: np.ndarray, offset: int, length: int) -> np.ndarray:
    return np.asarray(song_audio[offset : offset + length], dtype=np.float32)


def plan_examples(durations_samples: Sequence[int], per_song: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(song index, offset) for every example, shuffled so batches mix songs."""
    songs = np.repeat(np.arange(len(durations_samples)), per_song)
    limits = np.asarray(durations_samples, dtype=np.int64)[songs] - length
    offsets = (rng.random(len(songs)) * (np.maximum(limits, 0) + 1)).astype(np.int64)
    order = rng.permutation(len(songs))
    return songs[order], offsets[order]


def build_window_set(
    path: Path,
    song_audio: Sequence[np.ndarray],
    noise_clips: Sequence[np.ndarray],
    per_song: int,
    seed: int,
    settings: FeatureSettings = DEFAULT_FEATURES,
    progress: Optional[Callable[[int, int], None]] = None,
    should_stop: ShouldStopFn = never_stop,
    transform: Optional[Callable[[np.ndarray, np.random.Generator], np.ndarray]] = None,
) -> WindowSet:
    """Write ``per_song`` augmented windows per song to ``path`` (.npy, float16) and return them.

    ``transform``, if given, is applied to each fragment before augmentation (used to make
    impostor fragments for calibration).
    """
    rng = np.random.default_rng(seed)
    length = settings.fragment_samples
    songs, offsets = plan_examples([len(a) for a in song_audio], per_song, length, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    windows = np.lib.format.open_memmap(
        tmp, mode="w+", dtype=np.float16, shape=(len(songs), settings.n_mels, settings.window_frames)
    )
    for start in range(0, len(songs), BUILD_BATCH):
        if should_stop():
            del windows
            tmp.unlink(missing_ok=True)
            raise TrainingCancelled("training was cancelled while building the dataset")
        stop = min(start + BUILD_BATCH, len(songs))
        mixes = np.empty((stop - start, length), dtype=np.float32)
        for row, index in enumerate(range(start, stop)):
            fragment = fragment_at(song_audio[songs[index]], int(offsets[index]), length)
            if transform is not None:
                fragment = transform(fragment, rng)
            mixes[row], _ = augment(fragment, noise_clips, rng)
        windows[start:stop] = fragment_windows(mixes, settings)
        if progress:
            progress(stop, len(songs))
    windows.flush()
    del windows
    tmp.replace(path)
    return WindowSet(np.load(path, mmap_mode="r"), songs.astype(np.int32), path)


@dataclass
class Datasets:
    train: WindowSet
    validation: WindowSet
    impostors: WindowSet
    songs: list[Song]
    seconds: float


def build_datasets(
    library: Library,
    noise_clips: Sequence[np.ndarray],
    validation_noise: Sequence[np.ndarray],
    examples_per_song: int,
    seed: int,
    workdir: Path,
    settings: FeatureSettings = DEFAULT_FEATURES,
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: ShouldStopFn = never_stop,
) -> Datasets:
    """Training, validation and impostor sets for every song in the library."""
    songs = library.songs()
    if len(songs) < 2:
        raise LibraryError(f"training needs at least 2 songs; the library has {len(songs)}")
    audio = [library.song_audio(s) for s in songs]
    short = [s.title for s, a in zip(songs, audio) if len(a) < settings.fragment_samples]
    if short:
        raise LibraryError(f"these songs are shorter than 5 s and cannot be used: {', '.join(short)}")
    per_val = max(4, examples_per_song // 5)
    per_impostor = max(2, examples_per_song // 25)
    plan = [("train", examples_per_song, noise_clips, None), ("validation", per_val, validation_noise, None),
            ("impostors", per_impostor, validation_noise, impostor_transform)]
    total = len(songs) * sum(p[1] for p in plan)
    done_before = 0
    started = time.monotonic()
    sets = {}
    for number, (name, per_song, noise, transform) in enumerate(plan):
        def report(done: int, count: int, name: str = name, base: int = done_before) -> None:
            if progress:
                progress((base + done) / total, f"Building {name} examples: {done}/{count}")

        sets[name] = build_window_set(
            workdir / f"{name}.npy", audio, noise, per_song, seed * 1000 + number, settings, report, should_stop, transform
        )
        done_before += len(songs) * per_song
    return Datasets(sets["train"], sets["validation"], sets["impostors"], songs, time.monotonic() - started)


def impostor_transform(fragment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Music that is *like* the library but not in it: the fragment reversed in time and, half of
    the time, sped up or slowed down by 8–20 % (which shifts its pitch too)."""
    reversed_fragment = fragment[::-1]
    if rng.random() < 0.5:
        return np.ascontiguousarray(reversed_fragment)
    factor = rng.uniform(1.08, 1.2) ** (1 if rng.random() < 0.5 else -1)
    positions = np.arange(fragment.size) * factor % fragment.size
    return np.interp(positions, np.arange(fragment.size), reversed_fragment).astype(np.float32)
