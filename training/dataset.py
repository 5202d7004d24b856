"""Building the augmented training and validation sets, on disk, a batch at a time.

Each song is one class and contributes ``examples_per_song`` fragments at random offsets, each
boosted and overlaid with a fresh multi-noise mix, half of them also reverberated and coloured
by a phone microphone (``augment.augment_in_room``), and turned into a log-mel window
by the very function recognition uses (``features.fragment_windows``). One extra class, "not in
your library", gets twice as many examples: fragments of negative music (``resources/negatives``),
noise with no music at all, and synthesised tones and beeps, mixed the same way.

The validation split is drawn from a separate random stream (other offsets, other noise draws),
with held-out noise clips and held-out negative music where there are enough of them.

Songs are read a fragment at a time from the library's Ogg Vorbis copies (``Library.song_reader``:
a seek and ~5 s of decoding, a few ms), so no song is held in memory whatever the library size.
Windows are written to a float16 memory-mapped file (57 songs × 200 examples ≈ 750 MB on disk),
so memory stays at one batch whatever the library size; the reference kept 3 GB in RAM.
Everything is seeded: the same seed and library give the same dataset.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Protocol, Sequence

import numpy as np

from musicid_core import diskspace
from musicid_core.config import DEFAULT_FEATURES, FeatureSettings
from musicid_core.errors import LibraryError, TrainingCancelled
from musicid_core.features import fragment_windows
from musicid_core.library import Library, Song
from musicid_core.progress import ShouldStopFn, never_stop
from training.augment import augment_in_room
from training.noise_bank import synthesised_tones

BUILD_BATCH = 32
UNKNOWN_PER_SONG_FACTOR = 2
"""The "not in your library" class gets this many times ``examples_per_song`` examples."""


@dataclass
class WindowSet:
    """Log-mel windows (memory-mapped float16, (n, n_mels, frames)) and their class indices."""

    windows: np.ndarray
    labels: np.ndarray
    path: Path

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class ExamplePlan:
    """For every example: its class, which clip of the class, and the offset in that clip."""

    classes: np.ndarray
    clips: np.ndarray
    offsets: np.ndarray


class Clip(Protocol):
    """What a class's clips must offer: their length and contiguous slices (an array, a memory
    map, or a song read on demand from the library's compressed copy, ``Library.song_reader``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice) -> np.ndarray: ...


def plan_examples(
    class_clips: Sequence[Sequence[Clip]], counts: Sequence[int], length: int, rng: np.random.Generator
) -> ExamplePlan:
    """Random (class, clip, offset) for ``counts[c]`` examples of each class, shuffled."""
    classes = np.repeat(np.arange(len(counts)), counts)
    clips = np.array([rng.integers(0, len(class_clips[c])) for c in classes], dtype=np.int64)
    limits = np.array([len(class_clips[c][k]) for c, k in zip(classes, clips)], dtype=np.int64) - length
    offsets = (rng.random(len(classes)) * (np.maximum(limits, 0) + 1)).astype(np.int64)
    order = rng.permutation(len(classes))
    return ExamplePlan(classes[order], clips[order], offsets[order])


def fragment_at(audio: Clip, offset: int, length: int) -> np.ndarray:
    """``length`` samples from ``offset``, zero-padded if the clip is shorter."""
    fragment = np.asarray(audio[offset : offset + length], dtype=np.float32)
    if fragment.size < length:
        fragment = np.pad(fragment, (0, length - fragment.size))
    return fragment


def build_threads() -> int:
    """Threads for dataset building: the STFT, filters and convolutions release the GIL, so on
    two cores two threads build about 1.6x as fast as one (it runs before training, which then
    has the cores to itself)."""
    return max(1, min(os.cpu_count() or 1, 4))


def build_window_set(
    path: Path,
    class_clips: Sequence[Sequence[Clip]],
    counts: Sequence[int],
    noise_clips: Sequence[np.ndarray],
    seed: int,
    settings: FeatureSettings = DEFAULT_FEATURES,
    progress: Optional[Callable[[int, int], None]] = None,
    should_stop: ShouldStopFn = never_stop,
    threads: int | None = None,
) -> WindowSet:
    """Write augmented windows, ``counts[c]`` for class ``c``, to ``path`` (.npy, float16).

    Batches are built in parallel threads, each with its own random stream derived from
    ``(seed, first example)``, so the result is the same whatever the number of threads."""
    length = settings.fragment_samples
    plan = plan_examples(class_clips, counts, length, np.random.default_rng(seed))
    total = len(plan.classes)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    doing = f"building the {path.stem} examples"
    windows = _reserved_memmap(tmp, (total, settings.n_mels, settings.window_frames), doing)

    def build_batch(start: int) -> int:
        stop = min(start + BUILD_BATCH, total)
        rng = np.random.default_rng([seed, start])
        mixes = np.empty((stop - start, length), dtype=np.float32)
        for row, index in enumerate(range(start, stop)):
            clip = class_clips[plan.classes[index]][plan.clips[index]]
            fragment = fragment_at(clip, int(plan.offsets[index]), length)
            mixes[row] = augment_in_room(fragment, noise_clips, rng, settings.sample_rate)
        windows[start:stop] = fragment_windows(mixes, settings)
        return stop - start

    done = 0
    with ThreadPoolExecutor(max_workers=threads or build_threads()) as pool:
        pending = [pool.submit(build_batch, start) for start in range(0, total, BUILD_BATCH)]
        try:
            for future in as_completed(pending):
                done += future.result()
                if progress:
                    progress(done, total)
                if should_stop():
                    raise TrainingCancelled("training was cancelled while building the dataset")
        except BaseException:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True)
            del windows
            tmp.unlink(missing_ok=True)
            raise
    with diskspace.translated(doing, path.parent, cleanup=lambda: tmp.unlink(missing_ok=True)):
        windows.flush()
        del windows
        tmp.replace(path)
    return WindowSet(np.load(path, mmap_mode="r"), plan.classes.astype(np.int32), path)


def window_set_bytes(count: int, settings: FeatureSettings = DEFAULT_FEATURES) -> int:
    """Disk space of a set of ``count`` float16 windows (the .npy header included)."""
    return count * settings.n_mels * settings.window_frames * 2 + 4096


def _reserved_memmap(tmp: Path, shape: tuple[int, int, int], doing: str) -> np.ndarray:
    """A new float16 memory-mapped .npy whose blocks are all allocated before anything is
    written through the map: on a full disk this raises ``StorageError``, never SIGBUS."""
    with diskspace.translated(doing, tmp.parent, cleanup=lambda: tmp.unlink(missing_ok=True)):
        windows = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
        try:
            diskspace.reserve(tmp, windows.offset + windows.nbytes, doing, tmp.parent, start=windows.offset)
        except BaseException:
            del windows  # unmap before the file is removed, so its space comes back at once
            raise
    return windows


@dataclass
class Datasets:
    train: WindowSet
    validation: WindowSet
    songs: list[Song]
    seconds: float

    @property
    def n_classes(self) -> int:
        return len(self.songs) + 1

    @property
    def unknown_class(self) -> int:
        return len(self.songs)


TONE_CLIPS = 4
"""Synthesised tones/beeps/sweeps among the "not in your library" clips (``synthesised_tones``)."""


def unknown_clips(negatives: Sequence[np.ndarray], length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Negative music, silent "clips" (one per two negatives, at least one), which the
    augmentation turns into noise-only examples (a room with no music is also "not a song"),
    and a few synthesised tones, so a beep or a whistle is not taken for a song either."""
    silent = np.zeros(length, dtype=np.float32)
    tones = synthesised_tones(rng, TONE_CLIPS, seconds=length / DEFAULT_FEATURES.sample_rate + 1.0)
    return list(negatives) + [silent] * max(1, len(negatives) // 2) + tones


def build_datasets(
    library: Library,
    noise: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    negatives: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    examples_per_song: int,
    seed: int,
    workdir: Path,
    settings: FeatureSettings = DEFAULT_FEATURES,
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: ShouldStopFn = never_stop,
) -> Datasets:
    """Training and validation sets for every song plus "not in your library".

    ``noise`` and ``negatives`` are (training, validation) pairs of clip lists."""
    songs = library.songs()
    if len(songs) < 2:
        raise LibraryError(f"training needs at least 2 songs; the library has {len(songs)}")
    audio = [library.song_reader(s) for s in songs]  # read a fragment at a time: constant memory
    short = [s.title for s, a in zip(songs, audio) if len(a) < settings.fragment_samples]
    if short:
        raise LibraryError(f"these songs are shorter than 5 s and cannot be used: {', '.join(short)}")
    per_val = max(4, examples_per_song // 5)
    plan = [
        ("train", examples_per_song, noise[0], negatives[0]),
        ("validation", per_val, noise[1], negatives[1]),
    ]
    totals = [per_song * (len(songs) + UNKNOWN_PER_SONG_FACTOR) for _, per_song, _, _ in plan]
    diskspace.ensure_free_space(library.root, sum(window_set_bytes(t, settings) for t in totals),
                                doing=f"building the training examples for {len(songs)} songs")
    started, done_before, sets = time.monotonic(), 0, {}
    for number, (name, per_song, noise_clips, negative_clips) in enumerate(plan):
        def report(done: int, count: int, name: str = name, base: int = done_before) -> None:
            if progress:
                progress((base + done) / sum(totals), f"Building {name} examples: {done}/{count}")

        tone_rng = np.random.default_rng(seed * 1000 + 500 + number)
        classes = [[a] for a in audio] + [unknown_clips(negative_clips, settings.fragment_samples, tone_rng)]
        counts = [per_song] * len(songs) + [per_song * UNKNOWN_PER_SONG_FACTOR]
        sets[name] = build_window_set(
            workdir / f"{name}.npy", classes, counts, noise_clips, seed * 1000 + number, settings, report, should_stop
        )
        done_before += totals[number]
    return Datasets(sets["train"], sets["validation"], songs, time.monotonic() - started)
