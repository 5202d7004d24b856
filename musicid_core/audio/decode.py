"""Decode any supported audio file to mono float32 at the feature sample rate.

libsndfile (through ``soundfile``) reads wav, flac, ogg/vorbis, opus and mp3 without spawning
anything; m4a/aac and anything else it refuses goes through ``ffmpeg``, which we call directly
(rather than through pydub) so that a 3-hour file is cut at the limit while streaming instead of
being loaded whole, and so its error text can be passed on.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from musicid_core.config import SAMPLE_RATE
from musicid_core.errors import AudioError

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".aif", ".aiff"}
)
MAX_SECONDS = 30 * 60
"""Longer files are refused: a song or noise clip is never this long, and decoding a 3-hour
file would cost ~1 GB of memory for nothing."""
MAX_FILE_BYTES = 1 << 30
DECODE_TIMEOUT_S = 600.0
"""An ffmpeg decode running longer than this is stopped (callers may ask for less)."""
SILENCE_RMS = 1e-4
"""Below this RMS (-80 dBFS) a file holds no usable sound."""


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def load_audio(
    path: str | Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_seconds: float = 0.0,
    max_seconds: float = MAX_SECONDS,
    allow_silence: bool = False,
    timeout_s: float = DECODE_TIMEOUT_S,
) -> np.ndarray:
    """Return the file as mono float32 at ``sample_rate``, or raise ``AudioError`` saying why.

    ``timeout_s`` bounds an ffmpeg decode (the phone server passes a few seconds: a hostile file
    must not hold its one recognition worker)."""
    path = Path(path)
    _check_file(path)
    try:
        audio, rate = _read_with_soundfile(path, max_seconds)
    except _NotForSoundfile:
        audio, rate = _read_with_ffmpeg(path, max_seconds, timeout_s)
    audio = _finite(_to_mono_float(audio, path), path)  # the resampler refuses NaN/inf
    if rate != sample_rate and audio.size:
        import librosa  # heavy import, only when a file needs it

        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate).astype(np.float32)
    return validate_signal(audio, path, sample_rate, min_seconds=min_seconds, allow_silence=allow_silence)


def estimated_seconds(path: Path) -> float:
    """How long ``path`` plays, from its header (libsndfile) or else from its size at a generous
    64 kbit/s; 0 for what is not a readable file. Nothing is decoded: it sizes an import."""
    try:
        if not path.is_file():
            return 0.0
        size = path.stat().st_size
    except OSError:
        return 0.0
    try:
        info = sf.info(str(path))
        if info.samplerate > 0 and info.frames > 0:
            return min(info.frames / info.samplerate, MAX_SECONDS)
    except Exception:  # noqa: BLE001 - m4a/aac and damaged files: fall back to the size
        pass
    return min(size / 8000, MAX_SECONDS)


def _finite(audio: np.ndarray, source: str | Path) -> np.ndarray:
    """Replace a few NaN/inf samples (a glitch) by silence; refuse a file that is mostly damage."""
    if audio.size == 0 or np.all(np.isfinite(audio)):
        return audio
    bad = int(np.count_nonzero(~np.isfinite(audio)))
    if bad > audio.size // 100:
        raise AudioError(source, f"{bad} samples are not numbers (NaN/inf); the file is damaged")
    return np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)


def validate_signal(
    audio: np.ndarray,
    source: str | Path,
    sample_rate: int = SAMPLE_RATE,
    *,
    min_seconds: float = 0.0,
    allow_silence: bool = False,
) -> np.ndarray:
    """Reject empty, NaN/inf, silent or too-short signals with a reason naming ``source``."""
    if audio.size == 0:
        raise AudioError(source, "the file contains no audio samples")
    audio = _finite(audio, source)
    seconds = audio.size / sample_rate
    if seconds < min_seconds:
        raise AudioError(source, f"it is {seconds:.1f} s long; at least {min_seconds:.1f} s is needed")
    if not allow_silence and float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
        raise AudioError(source, "it is silent (no sound above -80 dBFS)")
    peak = float(np.max(np.abs(audio)))
    if peak > 1.0:  # floating-point files may exceed full scale: scale, keeping the waveform
        audio = audio / peak
    return np.clip(audio, -1.0, 1.0).astype(np.float32, copy=False)


class _NotForSoundfile(Exception):
    pass


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "it is a folder, not an audio file")
    if not path.is_file():  # opening a pipe or a device could block forever
        raise AudioError(path, "it is not a regular file (a pipe, device or socket)")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except PermissionError:
        raise AudioError(path, "permission denied: the file cannot be read") from None
    except OSError as exc:
        raise AudioError(path, f"the file cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise AudioError(path, "the file is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise AudioError(path, f"the file is {size / 2**30:.1f} GiB; files over 1 GiB are refused")


def _read_with_soundfile(path: Path, max_seconds: float) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(str(path)) as f:
            rate = int(f.samplerate)
            if not 1000 <= rate <= 384_000:
                raise AudioError(path, f"its header claims an impossible sample rate ({rate} Hz)")
            if not 1 <= f.channels <= 32:
                raise AudioError(path, f"its header claims {f.channels} channels; at most 32 are supported")
            if f.frames > 0 and f.frames / rate > max_seconds:
                raise AudioError(
                    path, f"it is {f.frames / rate / 60:.0f} minutes long; the limit is {max_seconds / 60:.0f} minutes"
                )
            # Read in blocks so a header that lies about its length cannot make us allocate it all.
            limit = int(max_seconds * rate) + 1
            blocks = []
            total = 0
            for block in f.blocks(blocksize=rate * 10, dtype="float32", always_2d=True):
                blocks.append(block.mean(axis=1, dtype=np.float32))  # mono at once: memory / channels
                total += len(block)
                if total > limit:
                    raise AudioError(path, f"it is longer than the limit of {max_seconds / 60:.0f} minutes")
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, MemoryError, OverflowError) as exc:
        if path.suffix.lower() in {".m4a", ".aac", ".mp4"} or "Format not recognised" in str(exc):
            raise _NotForSoundfile from exc
        raise AudioError(path, f"it is damaged or not really {_kind(path)} audio ({_libsndfile_reason(exc)})") from None
    if not blocks:
        raise AudioError(path, "the file contains no audio samples")
    return np.concatenate(blocks), rate


def _kind(path: Path) -> str:
    return path.suffix.lstrip(".").upper() or "an"


def _libsndfile_reason(exc: object) -> str:
    """libsndfile's words without the file name, and without its misleading "possibly a pipe?"."""
    text = str(exc)
    if text.startswith("Error opening"):
        text = text.split(": ", 1)[-1]
    if "not a regular file" in text:
        return "no audio data found"
    return _short(text)


def _read_with_ffmpeg(path: Path, max_seconds: float, timeout_s: float = DECODE_TIMEOUT_S) -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            path, "this format needs ffmpeg, which is not installed (Debian/Ubuntu: sudo apt-get install ffmpeg)"
        )
    _refuse_if_too_long(path, max_seconds, timeout_s)
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-t", str(max_seconds + 1), "-vn",
           "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(path, f"decoding took over {_duration_words(timeout_s)} and was stopped") from None
    if proc.returncode != 0 or not proc.stdout:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else "no audio stream found"
        if "does not contain any stream" in detail or "Invalid data found" in detail:
            detail = "no audio stream found"
        raise AudioError(path, f"it is damaged or not really audio ({_short(detail.replace(str(path) + ': ', ''))})")
    audio = np.frombuffer(proc.stdout[: len(proc.stdout) // 4 * 4], dtype="<f4")
    if audio.size > max_seconds * SAMPLE_RATE:
        raise AudioError(path, f"it is longer than the limit of {max_seconds / 60:.0f} minutes")
    return audio.reshape(-1, 1), SAMPLE_RATE


def _refuse_if_too_long(path: Path, max_seconds: float, timeout_s: float = 60.0) -> None:
    """Ask ffprobe for the duration first, so a 3-hour file is refused in a fraction of a second
    instead of being decoded up to the limit. Without ffprobe the streaming cut still applies."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return
    cmd = [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=min(60.0, timeout_s), check=False, text=True)
        seconds = float(proc.stdout.strip().splitlines()[0])
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError):
        return  # unknown duration: ffmpeg decides, and stops at the limit
    if seconds > max_seconds:
        raise AudioError(path, f"it is {seconds / 60:.0f} minutes long; the limit is {max_seconds / 60:.0f} minutes")


def _duration_words(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.3g} s"


def _to_mono_float(audio: np.ndarray, path: Path) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return np.ascontiguousarray(audio)


def _short(exc: object, limit: int = 160) -> str:
    text = str(exc).replace("\n", " ").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
