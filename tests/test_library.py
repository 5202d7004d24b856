"""The library on disk: import, titles, duplicates, removal, noise packs, atomic catalogue."""

from __future__ import annotations

import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import synth
from musicid_core.errors import LibraryError
from musicid_core.library import Library
from musicid_core.paths import data_dir


def _song_file(folder: Path, name: str, index: int, **kwargs: object) -> Path:
    return synth.write(folder / name, synth.song(index, seconds=7.0), **kwargs)


def test_add_folder_records_title_source_and_duration(tmp_path: Path) -> None:
    folder = tmp_path / "music"
    _song_file(folder, "First Song.wav", 0)
    tagged = folder / "sub" / "track02.ogg"
    tagged.parent.mkdir(parents=True)
    sf.write(tagged, synth.song(1, seconds=7.0), 22050, format="OGG", subtype="VORBIS")
    import mutagen

    tags = mutagen.File(tagged, easy=True)
    tags["title"], tags["artist"] = "Northern Lights", "Someone"
    tags.save()
    library = Library(tmp_path / "data")
    report = library.add_songs([folder])
    assert not report.failed and len(report.added) == 2
    songs = {s.source: s for s in library.songs()}
    assert songs["First Song.wav"].title == "First Song"
    assert songs["track02.ogg"].title == "Northern Lights" and songs["track02.ogg"].artist == "Someone"
    assert abs(songs["First Song.wav"].duration - 7.0) < 0.05
    stored = library.song_audio(songs["First Song.wav"])
    assert stored.dtype == np.float32 and abs(stored.size - 7 * 22050) <= 1
    assert library.song_path(songs["First Song.wav"]).suffix == ".ogg"


def test_same_file_twice_is_a_duplicate(tmp_path: Path) -> None:
    path = _song_file(tmp_path, "a.wav", 0)
    library = Library(tmp_path / "data")
    library.add_songs([path])
    report = library.add_songs([path])
    assert report.added == [] and report.duplicates == [(str(path), "a")]
    assert len(library.songs()) == 1


def test_batch_carries_on_past_bad_files(tmp_path: Path) -> None:
    good = _song_file(tmp_path, "good.wav", 0)
    bad = tmp_path / "bad.mp3"
    bad.write_text("not audio")
    short = synth.write(tmp_path / "short.wav", synth.song(1, seconds=2.0))
    report = Library(tmp_path / "data").add_songs([bad, good, short])
    assert [s.source for s in report.added] == ["good.wav"]
    reasons = dict(report.failed)
    assert "not" in reasons[str(bad)] and "at least" in reasons[str(short)]


def test_remove_song_deletes_entry_and_audio(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    song = library.add_songs([_song_file(tmp_path, "a.wav", 0)]).added[0]
    library.remove_song(song.id)
    assert library.songs() == [] and not library.song_path(song).exists()
    with pytest.raises(LibraryError, match="no song with id"):
        library.remove_song(song.id)


def test_noise_from_folder_files_and_zip(tmp_path: Path) -> None:
    noise_dir = tmp_path / "noise"
    files = [synth.write(noise_dir / f"n{i}.wav", synth.noise(i, seconds=2)) for i in range(2)]
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(files[0], "rain/rain.wav")
        z.writestr("../../escape.wav", files[1].read_bytes())
        z.writestr("/etc/absolute.wav", files[1].read_bytes())
        z.writestr("readme.txt", "hello")
    library = Library(tmp_path / "data")
    assert len(library.add_noise([noise_dir], pack="room").added) == 2
    report = library.add_noise([archive], pack="zipped")
    assert [c.name for c in report.added] == ["rain.wav"]
    reasons = " ".join(reason for _, reason in report.failed)
    assert "escapes" in reasons and "absolute" in reasons and "not an audio file" in reasons
    assert not (tmp_path / "escape.wav").exists() and not (tmp_path.parent / "escape.wav").exists()
    assert sorted(library.noise_packs()) == ["room", "zipped"]


def test_catalogue_is_checksummed_and_edits_are_detected(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    library.add_songs([_song_file(tmp_path, "a.wav", 0)])
    with closing(sqlite3.connect(library.catalogue_path)) as db, db:
        db.execute("UPDATE songs SET title = 'Edited behind our back'")
    with pytest.raises(LibraryError, match="checksum"):
        library.songs()


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    library.add_songs([_song_file(tmp_path, "a.wav", 0)])
    leftovers = [p for p in (tmp_path / "data").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICID_DATA_DIR", str(tmp_path / "env"))
    assert data_dir() == (tmp_path / "env").resolve()
    assert data_dir(tmp_path / "flag") == (tmp_path / "flag").resolve()
    monkeypatch.delenv("MUSICID_DATA_DIR")
    assert data_dir().name == "musicid"


def test_fingerprint_changes_with_the_song_set(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    empty = library.fingerprint()
    song = library.add_songs([_song_file(tmp_path, "a.wav", 0)]).added[0]
    assert library.fingerprint() != empty
    library.remove_song(song.id)
    assert library.fingerprint() == empty


def _as_earlier_version(library: Library, song) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Store ``song`` as versions before Ogg storage did (float16 .npy, no .ogg); its samples."""
    from musicid_core.storage import atomic_save_npy

    pcm = library.song_audio(song).astype(np.float16)
    ogg = library.song_path(song)
    atomic_save_npy(ogg.with_suffix(".npy"), pcm)
    ogg.unlink()
    return pcm


def test_stored_copy_is_seekable_and_small(tmp_path: Path) -> None:
    source = _song_file(tmp_path, "a.wav", 0)
    library = Library(tmp_path / "data")
    song = library.add_songs([source]).added[0]
    whole = library.song_audio(song)
    reader = library.song_reader(song)
    assert len(reader) == whole.size
    assert np.array_equal(reader[30_000:30_000 + 22050], whole[30_000:30_000 + 22050])
    assert library.song_path(song).stat().st_size < source.stat().st_size / 4  # the wav is 16-bit PCM


def test_folder_of_an_earlier_version_reads_and_compacts(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    songs = library.add_songs([_song_file(tmp_path, f"s{i}.wav", i) for i in range(3)]).added
    pcm = {s.id: _as_earlier_version(library, s) for s in songs[:2]}
    assert {s.id for s in library.legacy_songs()} == set(pcm)
    old = songs[0]
    assert library.song_path(old).suffix == ".npy"
    assert np.array_equal(library.song_audio(old), pcm[old.id].astype(np.float32))
    assert library.problems() == [] and not library.repair().changed
    # A crash after the .ogg was written and before the .npy was deleted: the .ogg is read, and
    # compacting again finishes the job.
    from musicid_core.audio import stored
    from musicid_core.storage import atomic_write_bytes

    interrupted = library.root / "songs" / f"{old.id}.ogg"
    atomic_write_bytes(interrupted, stored.encode_vorbis(pcm[old.id].astype(np.float32)))
    assert library.song_path(old) == interrupted
    assert library.compact_songs() == 2
    assert library.legacy_songs() == [] and not list((library.root / "songs").glob("*.npy"))
    for song in songs:
        audio = library.song_audio(song)
        assert abs(audio.size - song.duration * 22050) <= 1
    error = library.song_audio(songs[1]) - pcm[songs[1].id].astype(np.float32)
    assert np.mean(error**2) < 0.03 * np.mean(pcm[songs[1].id].astype(np.float32) ** 2)  # same sound, > 15 dB
    assert library.compact_songs() == 0  # nothing left to do


def test_compaction_cancelled_leaves_every_song_readable(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    songs = library.add_songs([_song_file(tmp_path, f"s{i}.wav", i) for i in range(3)]).added
    for song in songs:
        _as_earlier_version(library, song)
    calls = iter([False, True])
    assert library.compact_songs(should_stop=lambda: next(calls, True)) == 1
    assert len(library.legacy_songs()) == 2
    assert all(library.song_audio(s).size > 0 for s in songs) and library.problems() == []
    assert library.compact_songs() == 2 and library.legacy_songs() == []


def test_removing_a_song_of_an_earlier_version_deletes_its_npy(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    song = library.add_songs([_song_file(tmp_path, "a.wav", 0)]).added[0]
    _as_earlier_version(library, song)
    library.remove_song(song.id)
    assert not list((library.root / "songs").iterdir())


def test_damaged_or_cut_short_audio_is_named(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    songs = library.add_songs([_song_file(tmp_path, f"s{i}.wav", i) for i in range(3)]).added
    path = library.song_path(songs[0])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a copy cut short (a full disk behind our back)
    library.song_path(songs[1]).write_bytes(b"garbage")
    with pytest.raises(LibraryError, match="unusable.*damaged.*library repair"):
        library.song_audio(songs[1])
    report = library.repair()
    assert len(report.dropped) == 2
    assert "truncated" in " ".join(report.dropped) and "damaged" in " ".join(report.dropped)
    assert [s.id for s in library.songs()] == [songs[2].id]
    library.song_path(songs[2]).unlink()
    with pytest.raises(LibraryError, match="missing.*add it again"):
        library.song_audio(songs[2])


def test_import_estimate_covers_the_stored_copy(tmp_path: Path) -> None:
    from musicid_core.library import _estimated_import_bytes

    source = _song_file(tmp_path, "a.wav", 0)
    estimate = _estimated_import_bytes([source], set())
    library = Library(tmp_path / "data")
    song = library.add_songs([source]).added[0]
    written = library.song_path(song).stat().st_size + library.song_path(song).with_suffix(".json").stat().st_size
    assert written <= estimate < 7 * 22050 * 2 / 2  # room for the copy, well under float16 PCM
    assert _estimated_import_bytes([source], {("a.wav", 7)}) == 0  # already there: no room asked
