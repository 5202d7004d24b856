"""Shared tools of the reliability section: fault counters, seed files of every format, checks.

Every test that injects a fault or tries an input calls ``count``; ``conftest.py`` prints the
totals at the end of the run, so the numbers in the closing report come from the run itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

import synth

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
COUNTS: Counter[str] = Counter()
FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "m4a", "aac")


def count(kind: str, n: int = 1) -> None:
    COUNTS[kind] += n


def write_format(path: Path, audio: np.ndarray, sr: int = synth.SR) -> Path:
    """``audio`` as ``path``'s format: libsndfile for wav/flac/ogg/opus/mp3, ffmpeg for m4a/aac."""
    ext = path.suffix.lower().lstrip(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    if ext in ("m4a", "aac"):
        wav = path.with_suffix(".tmp.wav")
        synth.write(wav, audio, sr)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "48k", str(path)],
                       check=True)
        wav.unlink()
        return path
    if ext == "opus":
        import librosa

        return synth.write(path, librosa.resample(audio, orig_sr=sr, target_sr=48000), 48000,
                           format="OGG", subtype="OPUS")
    kwargs = {"ogg": {"format": "OGG", "subtype": "VORBIS"}, "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III"}}
    return synth.write(path, audio, sr, **kwargs.get(ext, {}))


def cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "musicid_cli", "--data-dir", str(data_dir), *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_and_kill(command: list[str], delay: float) -> subprocess.CompletedProcess[bytes] | None:
    """Start ``command``, SIGKILL it after ``delay`` seconds. None if it was killed, else its result."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env(), cwd=REPO)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        count("SIGKILL injected")
        return None
    return subprocess.CompletedProcess(command, proc.returncode, b"", proc.stderr.read() if proc.stderr else b"")


def timed(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, env=child_env(), cwd=REPO)
    return time.monotonic() - started


def assert_library_intact(library, must_have: set[str] = frozenset()) -> None:  # type: ignore[no-untyped-def]
    """The catalogue loads, names only audio that loads, and still holds ``must_have`` song ids."""
    songs = library.songs()
    ids = {s.id for s in songs}
    assert must_have <= ids, f"lost songs: {must_have - ids}"
    for song in songs:
        audio = library.song_audio(song)
        assert abs(audio.size / synth.SR - song.duration) < 0.05
    for clip in library.noise_clips():
        assert library.noise_audio(clip).size > 0
    assert library.problems() == []
