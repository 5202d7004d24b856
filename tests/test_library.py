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
    assert stored.dtype == np.float16 and abs(stored.size - 7 * 22050) <= 1


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
