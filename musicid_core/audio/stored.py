"""How the library stores a song's decoded audio: Ogg Vorbis, 22050 Hz mono, seekable.

Every imported song used to be stored again as float16 PCM (``.npy``, 44 kB per second): 3.2x
the Ogg files it came from on one set of songs, 8.3x on another. It is now stored as Ogg Vorbis
at the feature rate (quality 5, about 50 kbit/s: 0.27x originals of 189 kbit/s on average; even
a 36-kbit/s original's copy is 1.24x its size), which libsndfile decodes at ~2000x real time and
seeks in sample-accurately, so training still reads a random 5-s fragment in a few milliseconds
without decoding the song (``StoredAudio``). Why a lossy copy rather than FLAC or references to the
user's files, with the measurements: ``docs/library-format.md``.

Songs stored by earlier versions (``.npy``) are read as before (``StoredAudio`` reads both), and
``Library.compact_songs`` (``musicid library compact``) re-stores them with ``encode_vorbis``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from musicid_core.config import SAMPLE_RATE

SUFFIX = ".ogg"
"""Songs stored by this version."""
LEGACY_SUFFIX = ".npy"
"""Songs stored by earlier versions (float16 PCM, memory-mapped)."""
VORBIS_COMPRESSION_LEVEL = 0.5
"""libsndfile's compression level; for Vorbis it is 1 - quality, so 0.5 is Vorbis quality 5
(about 48 kbit/s for 22050 Hz mono music; the landmark and profile checks find the same songs
in it as in the original decode, see ``benchmarks/disk.py``)."""
WRITE_BLOCK_FRAMES = 1 << 16
"""Frames per write: libsndfile 1.2.2 crashes the process (SIGSEGV) when one call hands its
Vorbis encoder a whole song (7 M frames); 65536-frame writes encode just as fast."""
LENGTH_TOLERANCE_S = 0.05
"""A song's recorded duration is rounded to 0.01 s; its stored copy has exactly its samples."""
ESTIMATED_BYTES_PER_SECOND = 12_000
"""For free-space checks before an import: twice the ~6 kB/s quality 5 averages on music, so a
bright, dense song (VBR spends more bits on it) never outgrows its estimate."""


def stored_name(item_id: str) -> str:
    return f"{item_id}{SUFFIX}"


def encode_vorbis(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """The mono float audio as the bytes of an Ogg Vorbis file (encoded in memory, so the caller
    writes it with ``storage.atomic_write_bytes`` and a full disk raises a plain ``OSError``)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"expected non-empty mono audio, got shape {audio.shape}")
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", sample_rate, 1, format="OGG", subtype="VORBIS",
                      compression_level=VORBIS_COMPRESSION_LEVEL) as out:
        for start in range(0, audio.size, WRITE_BLOCK_FRAMES):
            out.write(audio[start:start + WRITE_BLOCK_FRAMES])
    return buffer.getvalue()


class StoredAudioError(Exception):
    """A stored audio file is missing or unusable; ``str()`` says which and why, in a few words."""


class StoredAudio:
    """A stored song, read on demand: ``len()`` is its length in samples and a slice
    ``audio[a:b]`` decodes just those samples (mono float32, 22050 Hz), so training can draw
    random fragments from thousands of songs without holding any of them in memory.

    Each read opens the file anew (about 0.5 ms for Ogg): libsndfile handles are not shared
    between threads, and a dataset build reads from several threads at once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._frames = _frames(self.path)
        # A legacy file stays mapped: reads need no reopening, and compaction may delete it meanwhile.
        self._legacy = _open_npy(self.path) if self.path.suffix == LEGACY_SUFFIX else None

    def __len__(self) -> int:
        return self._frames

    @property
    def seconds(self) -> float:
        return self._frames / SAMPLE_RATE

    def __getitem__(self, index: slice) -> np.ndarray:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("stored audio is read by contiguous slices, audio[start:stop]")
        start, stop, _ = index.indices(self._frames)
        return self.read(start, max(stop - start, 0))

    def read(self, start: int = 0, frames: int = -1) -> np.ndarray:
        """``frames`` samples from ``start`` (-1: to the end), as a new float32 array."""
        try:
            if self._legacy is not None:
                stop = self._frames if frames < 0 else start + frames
                data = np.asarray(self._legacy[start:stop], dtype=np.float32)
            else:
                if not self.path.is_file():
                    raise FileNotFoundError(self.path)
                with sf.SoundFile(str(self.path)) as f:
                    f.seek(start)
                    data = f.read(frames, dtype="float32", always_2d=False)
        except FileNotFoundError:
            raise StoredAudioError("its audio file is missing") from None
        except (OSError, RuntimeError, ValueError) as exc:  # LibsndfileError is a RuntimeError
            raise StoredAudioError(f"its audio file is damaged ({str(exc)[:80]})") from None
        return np.clip(data, -1.0, 1.0)  # a lossy codec may overshoot full scale by a hair


def problem(path: Path, expected_seconds: float | None = None) -> str:
    """Why a stored song cannot be used ('' when it can), from its header alone (about 0.5 ms).
    A file cut short still has a valid header (Ogg pages stand alone), so with the song's
    recorded length a truncated copy is caught too; damage inside a page is not looked for."""
    try:
        audio = StoredAudio(path)
    except StoredAudioError as exc:
        return str(exc)
    if len(audio) == 0:
        return "its audio file holds no samples"
    if expected_seconds is not None and abs(audio.seconds - expected_seconds) > LENGTH_TOLERANCE_S:
        return f"its audio file is truncated ({audio.seconds:.2f} s of {expected_seconds:.2f} s)"
    return ""


def _frames(path: Path) -> int:
    try:
        if not path.is_file():
            raise FileNotFoundError(path)
        if path.suffix == LEGACY_SUFFIX:
            array = _open_npy(path)
            if array.ndim != 1:
                raise StoredAudioError(f"its audio file has an unexpected shape {array.shape}")
            return int(array.shape[0])
        info = sf.info(str(path))
    except FileNotFoundError:
        raise StoredAudioError("its audio file is missing") from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise StoredAudioError(f"its audio file is damaged ({str(exc)[:80]})") from None
    if info.channels != 1 or info.samplerate != SAMPLE_RATE:
        raise StoredAudioError(
            f"its audio file is not {SAMPLE_RATE} Hz mono ({info.samplerate} Hz, {info.channels} channels)")
    return int(info.frames)


def _open_npy(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r", allow_pickle=False)
