"""The library's song index: songs analysed one by one, kept in line with the catalogue."""

from __future__ import annotations

import io
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
    (index.folder / "margins.json").write_text('{"fingerprint_margin": "NaN", "profile_margin": 1, "songs": 2}')
    assert index.margins() is None
