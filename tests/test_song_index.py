"""The library's song index: songs analysed one by one, kept in line with the catalogue."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_core.fingerprint import FingerprintIndex
from musicid_core.library import Library
from musicid_core.models.store import SongLabel
from musicid_core.song_index import ANALYSIS_PARAMETERS, Margins, SongIndex, analyse


def _library(tmp_path: Path, count: int = 3, seconds: float = 20.0) -> Library:
    files = [synth.write(tmp_path / "in" / f"song{i}.wav", synth.song(i, seconds)) for i in range(count)]
    library = Library(tmp_path / "data")
    library.add_songs(files)
    return library


def _best(index: SongIndex, song: int) -> str:
    snapshot = index.snapshot()
    assert snapshot is not None
    found = snapshot.fingerprints.match(synth.noisy_excerpt(song, 3.0, 8.0, np.random.default_rng(song)))
    return snapshot.labels[found.best].title


def test_update_indexes_every_song_in_catalogue_order_and_matches(tmp_path: Path) -> None:
    library = _library(tmp_path)
    index = SongIndex(library)
    assert index.snapshot() is None
    report = index.update()
    assert sorted(report.analysed) == ["song0", "song1", "song2"] and not report.failed
    snapshot = index.snapshot()
    assert snapshot is not None and [l.id for l in snapshot.labels] == [s.id for s in library.songs()]
    assert snapshot.version == library.fingerprint() and snapshot.unindexed == []
    assert [_best(index, i) for i in range(3)] == ["song0", "song1", "song2"]
    assert index.update().analysed == []  # nothing left to do: resumable, not repeated


def test_a_song_removed_from_the_catalogue_is_never_matched_and_its_entry_goes(tmp_path: Path) -> None:
    library = _library(tmp_path)
    index = SongIndex(library)
    index.update()
    removed = library.songs()[1]
    library.remove_song(removed.id)  # behind the index's back
    snapshot = index.snapshot()
    assert snapshot is not None and removed.id not in {l.id for l in snapshot.labels}
    assert index.path(removed.id).exists()
    assert index.update().removed == 1 and not index.path(removed.id).exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other parameters", "wrong dtype"])
def test_a_damaged_or_mismatched_entry_is_left_out_then_made_again(tmp_path: Path, damage: str) -> None:
    library = _library(tmp_path, count=2)
    index = SongIndex(library)
    index.update()
    song = library.songs()[0]
    path = index.path(song.id)
    good = np.load(path)
    original = {k: good[k] for k in good.files}
    if damage == "garbage":
        path.write_bytes(b"not an index entry at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    else:
        arrays = dict(original)
        if damage == "other parameters":
            arrays["parameters"] = ANALYSIS_PARAMETERS + 1
        else:
            arrays["hashes"] = arrays["hashes"].astype(np.float64)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        path.write_bytes(buffer.getvalue())
    snapshot = index.snapshot()
    assert snapshot is not None and snapshot.unindexed == [song.title] and len(snapshot.labels) == 1
    assert index.update().analysed == [song.title]
    remade = np.load(path)
    assert np.array_equal(remade["hashes"], original["hashes"]) and np.array_equal(remade["profiles"], original["profiles"])


def test_seeding_from_a_bundle_index_gives_the_same_entries_as_analysing(tmp_path: Path) -> None:
    library = _library(tmp_path, count=2)
    songs = library.songs()
    bundle_index = FingerprintIndex.build(library.song_audio(s) for s in songs)
    labels = [SongLabel(s.id, s.title, s.source) for s in songs]
    index = SongIndex(library)
    assert index.seed_from(labels, bundle_index) == 2
    assert index.seed_from(labels, bundle_index) == 0  # only songs without an entry
    for song in songs:
        seeded = np.load(index.path(song.id))
        fresh = analyse(np.asarray(library.song_audio(song), dtype=np.float32))
        assert sorted(seeded["hashes"].tolist()) == sorted(fresh.landmarks.hashes.tolist())
        assert np.array_equal(seeded["profiles"], fresh.profiles)


def test_margins_round_trip_and_a_bad_file_reads_as_uncalibrated(tmp_path: Path) -> None:
    library = _library(tmp_path, count=1)
    index = SongIndex(library)
    assert index.margins() is None
    index.save_margins(Margins(14.0, 0.2, 7))
    assert index.margins() == Margins(14.0, 0.2, 7)
    index.save_margins(Margins(14.0, 0.2, 7, 0.96, (0.99, 1.01), (60, 1, 2, 2, 400)))
    assert index.margins() == Margins(14.0, 0.2, 7, 0.96, (0.99, 1.01), (60, 1, 2, 2, 400))
    (index.folder / "margins.json").write_text('{"fingerprint_margin": "NaN", "profile_margin": 1, "songs": 2}')
    assert index.margins() is None


# ----- a large library: packs and the shortlist (PACKED_ABOVE lowered so a few songs count as many)
@pytest.fixture
def packed(monkeypatch: pytest.MonkeyPatch) -> None:
    from musicid_core import song_index

    monkeypatch.setattr(song_index, "PACKED_ABOVE", 1)


def _packs(index: SongIndex) -> list[Path]:
    folder = index.folder / "packs"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def test_a_large_library_is_packed_once_and_matched_through_the_shortlist(tmp_path: Path, packed: None) -> None:
    from musicid_core.shortlisted_index import ShortlistedIndex

    library = _library(tmp_path)
    index = SongIndex(library)
    index.update()
    snapshot = index.snapshot()
    assert snapshot is not None and isinstance(snapshot.fingerprints, ShortlistedIndex)
    assert [l.id for l in snapshot.labels] == [s.id for s in library.songs()] and len(_packs(index)) == 1
    assert [_best(index, i) for i in range(3)] == ["song0", "song1", "song2"]
    assert len(_packs(index)) == 1  # nothing new: no new pack


def test_a_song_added_to_a_packed_library_gets_its_own_pack_and_is_matched(tmp_path: Path, packed: None) -> None:
    library = _library(tmp_path, count=2)
    index = SongIndex(library)
    index.update()
    index.snapshot()
    library.add_songs([synth.write(tmp_path / "in" / "song2.wav", synth.song(2, 20.0))])
    index.update()
    assert _best(index, 2) == "song2" and len(_packs(index)) == 2


def test_a_song_removed_from_a_packed_library_is_never_matched_and_leaves_the_disk(tmp_path: Path, packed: None) -> None:
    library = _library(tmp_path)
    index = SongIndex(library)
    index.update()
    index.snapshot()
    removed = library.songs()[1]
    library.remove_song(removed.id)
    snapshot = index.snapshot()
    assert snapshot is not None and removed.id not in {l.id for l in snapshot.labels}
    # One of three packed songs gone is past DEAD_SHARE: the packs are rewritten without it.
    stored = [json.loads((p / "songs.json").read_text())["ids"] for p in _packs(index)]
    assert all(removed.id not in ids for ids in stored) and sum(map(len, stored)) == 2
    assert _best(index, 0) == "song0" and _best(index, 2) == "song2"


def test_many_small_packs_are_merged_and_every_song_still_matches(tmp_path: Path, packed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from musicid_core import song_index

    monkeypatch.setattr(song_index, "MAX_PACKS", 2)
    library = _library(tmp_path, count=1)
    index = SongIndex(library)
    for i in range(1, 4):
        index.update()
        index.snapshot()
        library.add_songs([synth.write(tmp_path / "in" / f"song{i}.wav", synth.song(i, 20.0))])
    index.update()
    snapshot = index.snapshot()
    assert snapshot is not None and len(snapshot.labels) == 4 and len(_packs(index)) <= 2
    assert [_best(index, i) for i in range(4)] == ["song0", "song1", "song2", "song3"]


def test_a_damaged_pack_is_ignored_and_its_songs_are_packed_again(tmp_path: Path, packed: None) -> None:
    library = _library(tmp_path, count=2)
    index = SongIndex(library)
    index.update()
    index.snapshot()
    (pack,) = _packs(index)
    (pack / "times.npy").write_bytes(b"damaged")
    snapshot = index.snapshot()
    assert snapshot is not None and len(snapshot.labels) == 2 and snapshot.unindexed == []
    assert [_best(index, i) for i in range(2)] == ["song0", "song1"]
    assert pack not in _packs(index) and len(_packs(index)) == 1


def test_the_shortlist_basis_is_fitted_on_the_library_and_refitted_when_it_has_grown(tmp_path: Path, packed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from musicid_core import shortlist

    monkeypatch.setattr(shortlist, "REFIT_GROWTH", 2)
    library = _library(tmp_path, count=2)
    index = SongIndex(library)
    index.update()
    index.snapshot()
    basis_file = index.folder / "shortlist_basis.npz"
    with np.load(basis_file) as data:
        first, fitted_on = data["basis"].copy(), int(data["songs"])
    assert fitted_on == 2 and index.update().removed == 0 and basis_file.is_file()  # not an orphan analysis
    library.add_songs([synth.write(tmp_path / "in" / "song2.wav", synth.song(2, 20.0))])
    index.update()
    assert _best(index, 2) == "song2"
    with np.load(basis_file) as data:
        assert np.array_equal(data["basis"], first)  # 3 songs < 2 x 2: kept, the new song got a pack of its own
    assert len(_packs(index)) == 2
    library.add_songs([synth.write(tmp_path / "in" / "song3.wav", synth.song(3, 20.0))])
    index.update()
    assert [_best(index, i) for i in range(4)] == ["song0", "song1", "song2", "song3"]
    with np.load(basis_file) as data:
        assert int(data["songs"]) == 4 and not np.array_equal(data["basis"], first)
    (pack,) = _packs(index)  # every song repacked with the new basis, the old packs gone
    assert len(json.loads((pack / "songs.json").read_text())["ids"]) == 4


def test_a_damaged_shortlist_basis_is_fitted_again(tmp_path: Path, packed: None, caplog: pytest.LogCaptureFixture) -> None:
    from musicid_core import shortlist

    library = _library(tmp_path, count=2)
    index = SongIndex(library)
    index.update()
    index.snapshot()
    (index.folder / "shortlist_basis.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert [_best(index, i) for i in range(2)] == ["song0", "song1"]
    assert "shortlist basis cannot be read" in caplog.text
    with np.load(index.folder / "shortlist_basis.npz") as data:
        assert data["basis"].shape[1] == shortlist.BASIS_DIMS
