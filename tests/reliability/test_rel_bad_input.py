"""Item 1: bad input is refused with a clear message, and nothing else is harmed.

Each case goes through ``Library.add_songs`` next to a good song already in the library: the bad
file must be listed in ``report.failed`` with a reason, the good song must still be intact, and
nothing may be written for the bad file.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import synth
from musicid_core.audio.decode import MAX_SECONDS, load_audio
from musicid_core.errors import AudioError
from musicid_core.library import Library
from reliability_helpers import FORMATS, assert_library_intact, count, write_format


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A valid 6 s song in every supported format."""
    folder = tmp_path_factory.mktemp("seeds")
    return {ext: write_format(folder / f"seed.{ext}", synth.song(3, seconds=6.0)).read_bytes() for ext in FORMATS}


@pytest.fixture
def library(tmp_path: Path) -> tuple[Library, str]:
    library = Library(tmp_path / "data")
    song = library.add_songs([synth.write(tmp_path / "good.wav", synth.song(0, seconds=6.0))]).added[0]
    return library, song.id


def _refused(library: Library, good_id: str, path: Path, *words: str) -> str:
    """Import ``path``; it must fail with a reason containing one of ``words``, harming nothing."""
    before = sorted(p.name for p in (library.root / "songs").iterdir())
    report = library.add_songs([path])
    count("bad input files refused")
    assert not report.added, f"{path.name} was accepted"
    assert len(report.failed) == 1, report
    reason = report.failed[0][1]
    assert reason and (not words or any(w.lower() in reason.lower() for w in words)), reason
    assert sorted(p.name for p in (library.root / "songs").iterdir()) == before
    assert_library_intact(library, {good_id})
    return reason


@pytest.mark.parametrize("ext", FORMATS)
def test_truncated_and_corrupt_files_of_every_format(ext: str, seeds: dict[str, bytes], library, tmp_path: Path) -> None:
    lib, good = library
    data = seeds[ext]
    cases = {
        "header-only": data[:40],
        "first-tenth": data[: len(data) // 10],
        "zeroed-head": bytes(256) + data[256:],
        "garbage-head": np.random.default_rng(1).integers(0, 256, 512, dtype=np.uint8).tobytes() + data[512:],
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.{ext}"
        path.write_bytes(content)
        try:
            audio = load_audio(path, min_seconds=5.0)
        except AudioError as exc:
            assert exc.reason and str(path) in str(exc)
            _refused(lib, good, path)
            continue
        # Some damage still decodes (a stream resyncs): then it must be clean, bounded audio.
        count("damaged files that still decode cleanly")
        assert audio.dtype == np.float32 and np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0


def test_zero_length_text_and_image_files_with_audio_extensions(library, tmp_path: Path) -> None:
    lib, good = library
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    for ext in FORMATS:
        (tmp_path / f"empty.{ext}").write_bytes(b"")
        _refused(lib, good, tmp_path / f"empty.{ext}", "empty")
        (tmp_path / f"notes.{ext}").write_text("Shopping list: milk, eggs\n" * 100)
        _refused(lib, good, tmp_path / f"notes.{ext}", "not really")
        (tmp_path / f"photo.{ext}").write_bytes(png)
        _refused(lib, good, tmp_path / f"photo.{ext}", "not really")


def _wav_header(rate: int, channels: int, data_bytes: int, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", (36 + data_bytes) & 0xFFFFFFFF) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
            + b"data" + struct.pack("<I", data_bytes & 0xFFFFFFFF))


@pytest.mark.parametrize(("rate", "channels", "words"), [
    (4_000_000_000, 1, ("damaged", "sample rate")),
    (0, 1, ("damaged", "sample rate")),
    (22050, 65535, ("damaged", "channels")),
    (22050, 1000, ("channels",)),
    (22050, 0, ("damaged", "channel")),
    (1, 1, ("sample rate",)),
])
def test_absurd_headers(rate: int, channels: int, words: tuple[str, ...], library, tmp_path: Path) -> None:
    lib, good = library
    path = tmp_path / "absurd.wav"
    path.write_bytes(_wav_header(rate, channels, 200_000) + os.urandom(200_000))
    _refused(lib, good, path, *words)


def test_nan_inf_silent_and_clipped_audio(library, tmp_path: Path) -> None:
    lib, good = library
    music = synth.song(5, seconds=6.0)
    mostly_nan = music.copy()
    mostly_nan[::3] = np.nan
    _refused(lib, good, synth.write(tmp_path / "nan.wav", mostly_nan, subtype="FLOAT"), "not numbers")
    _refused(lib, good, synth.write(tmp_path / "silent.wav", np.zeros_like(music)), "silent")
    _refused(lib, good, synth.write(tmp_path / "tiny.wav", music * 1e-6, subtype="FLOAT"), "silent")
    # A few glitched samples, at a rate that needs resampling (the resampler refuses NaN): repaired.
    glitched = synth.song(6, seconds=6.0, sr=44100)
    glitched[[10, 5000, 9000]] = [np.nan, np.inf, -np.inf]
    audio = load_audio(synth.write(tmp_path / "glitch.wav", glitched, 44100, subtype="FLOAT"))
    assert np.all(np.isfinite(audio)) and abs(audio.size - 6 * synth.SR) < 10
    # Clipped and over-full-scale float audio is usable and comes back within [-1, 1].
    for name, signal in (("clipped", np.clip(music * 20, -1, 1)), ("hot", music * 1e6)):
        audio = load_audio(synth.write(tmp_path / f"{name}.wav", signal, subtype="FLOAT"))
        assert np.abs(audio).max() <= 1.0 and np.std(audio) > 0.01
        count("bad input files accepted safely")
    report = lib.add_songs([tmp_path / "glitch.wav", tmp_path / "hot.wav"])
    assert len(report.added) == 2 and not report.failed
    assert_library_intact(lib, {good})


def _sparse_three_hour_wav(path: Path) -> Path:
    """A real, valid 3-hour 16-bit wav that costs no disk: a header and a hole."""
    samples = 3 * 3600 * synth.SR
    with path.open("wb") as f:
        f.write(_wav_header(synth.SR, 1, samples * 2))
        f.truncate(44 + samples * 2)
    return path


def _three_hour_stream(path: Path, codec: list[str]) -> Path:
    """A 3-hour aac/mp3 file made by repeating a 20 s encoded stream (frames are self-contained)."""
    segment = path.with_name("segment" + path.suffix)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:r=8000:d=20", *codec, str(segment)],
                   check=True)
    data = segment.read_bytes()
    with path.open("wb") as f:
        for _ in range(3 * 180):
            f.write(data)
    return path


@pytest.mark.parametrize("kind", ["wav", "wav-lying-header", "aac", "mp3"])
def test_three_hour_file_is_refused_quickly(kind: str, library, tmp_path: Path) -> None:
    lib, good = library
    if kind == "wav":
        path = _sparse_three_hour_wav(tmp_path / "three hours.wav")
    elif kind == "wav-lying-header":  # claims 3 hours, holds 1 s
        path = tmp_path / "liar.wav"
        path.write_bytes(_wav_header(synth.SR, 1, 3 * 3600 * synth.SR * 2) + os.urandom(synth.SR * 2))
    elif kind == "aac":
        path = _three_hour_stream(tmp_path / "three hours.aac", ["-c:a", "aac", "-b:a", "16k"])
    else:
        path = _three_hour_stream(tmp_path / "three hours.mp3", ["-c:a", "libmp3lame", "-b:a", "8k", "-write_xing", "0"])
    started = time.monotonic()
    try:
        audio = load_audio(path)
    except AudioError as exc:
        assert any(w in exc.reason for w in ("minutes", "seconds", "long", "damaged")), exc.reason
    else:  # a decoder may stop early at a lying header, but never past the limit
        assert audio.size <= MAX_SECONDS * synth.SR
    assert time.monotonic() - started < 20, "a long file must be refused or cut quickly"
    count("3-hour files tried")
    report = lib.add_songs([path])
    assert kind == "mp3" or (report.failed and not report.added)  # mp3: cut at the limit or refused
    assert_library_intact(lib, {good})


def test_unicode_and_space_file_names_round_trip(library, tmp_path: Path) -> None:
    lib, good = library
    names = ["Sigur Rós – Hoppípolla.wav", "  leading and trailing  .flac", "日本語の歌.ogg", "emoji 🎵 song.mp3",
             "quote's \"and\" $dollar.wav"]
    paths = [write_format(tmp_path / "music" / name, synth.song(10 + i, seconds=6.0)) for i, name in enumerate(names)]
    count("unicode file names tried", len(paths))
    report = lib.add_songs([tmp_path / "music"])
    assert not report.failed and len(report.added) == len(names)
    assert sorted(s.source for s in lib.songs() if s.id != good) == sorted(p.name for p in paths)
    assert_library_intact(lib, {good})


def test_unreadable_missing_folder_and_pipe(library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib, good = library
    _refused(lib, good, tmp_path / "no such file.wav", "no such file")
    (tmp_path / "a folder.wav").mkdir()  # a folder is searched for audio, here none: nothing happens
    assert lib.add_songs([tmp_path / "a folder.wav"]).added == []
    pipe = tmp_path / "pipe.wav"
    os.mkfifo(pipe)
    _refused(lib, good, pipe, "regular file")  # opening a pipe would block forever
    locked = synth.write(tmp_path / "locked.wav", synth.song(2, seconds=6.0))
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the open fail as it does for a user
        real_open = Path.open

        def denied(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self.name == locked.name:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", denied)
    _refused(lib, good, locked, "permission")


def _zip(path: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return path


def test_noise_zip_with_traversal_absolute_and_links_writes_nothing_outside(tmp_path: Path) -> None:
    wav = io.BytesIO()
    sf.write(wav, synth.noise(1, seconds=2.0), synth.SR, format="WAV")
    evil = {
        "../../escape.wav": wav.getvalue(), "/tmp/absolute-escape.wav": wav.getvalue(),
        "..\\..\\windows-escape.wav": wav.getvalue(), "C:/drive-escape.wav": wav.getvalue(),
        "ok/../../../sneaky.wav": wav.getvalue(), "fine/rain.wav": wav.getvalue(),
    }
    archive = _zip(tmp_path / "evil.zip", evil, symlink="link.wav")
    data = tmp_path / "box" / "data"
    library = Library(data)
    outside_before = {p for p in tmp_path.rglob("*")} | set(Path("/tmp").glob("*escape*"))
    report = library.add_noise([archive], pack="evil")
    count("hostile zip members tried", len(evil) + 1)
    assert [c.name for c in report.added] == ["rain.wav"]
    assert len(report.failed) == len(evil)  # five escapes and the link
    written = {p for p in tmp_path.rglob("*")} - outside_before
    assert all(data in p.parents or p == data for p in written), sorted(written)
    assert not list(Path("/tmp").glob("absolute-escape*"))
    assert not (data / "tmp").exists() or not any((data / "tmp").iterdir()), "scratch left behind"


def test_zip_bombs_are_refused_before_unpacking(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    ratio_bomb = tmp_path / "ratio.zip"
    with zipfile.ZipFile(ratio_bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.wav", bytes(64 << 20))  # 64 MiB of zeros: ~1000:1
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(5001):
            archive.writestr(f"f{i}.wav", b"")
    liar = tmp_path / "liar.zip"  # a member whose header under-states its size
    with zipfile.ZipFile(liar, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("big.wav", os.urandom(4096))
    # Patch every copy of the size (local and central headers) to claim 100 bytes.
    liar.write_bytes(liar.read_bytes().replace(struct.pack("<I", 4096), struct.pack("<I", 100)))
    started = time.monotonic()
    for bomb in (ratio_bomb, many, liar):
        report = library.add_noise([bomb], pack="bombs")
        count("zip bombs tried")
        assert not report.added and report.failed, report
    assert time.monotonic() - started < 10
    assert sum(p.stat().st_size for p in (tmp_path / "data").rglob("*") if p.is_file()) < 1 << 20
    assert library.noise_clips() == []
