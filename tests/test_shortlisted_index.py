"""Packs and the shortlisted matcher: the same answers as the in-memory index, from files on disk,
and the shortlist keeps the song that is playing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import synth
from musicid_core import fingerprint as fp
from musicid_core import index_pack, shortlist
from musicid_core.shortlisted_index import ShortlistedIndex
from musicid_core.song_index import analyse, fingerprint_index, pack_arrays, pack_parameters
from musicid_core.tonal_profile import ProfileIndex, match_song_profiles

N = 6


@pytest.fixture(scope="module")
def analyses() -> list:
    return [analyse(synth.song(i, seconds=20.0)) for i in range(N)]


@pytest.fixture(scope="module")
def basis(analyses: list) -> np.ndarray:
    return shortlist.fit_basis([a.profiles for a in analyses], fp.MAX_BIN - fp.MIN_BIN)


def _pack(folder: Path, analyses: list, basis: np.ndarray, ids: list[str] | None = None) -> index_pack.Pack:
    ids = ids or [f"song{i}" for i in range(len(analyses))]
    path = index_pack.write_pack(folder, [(i, pack_arrays(a, basis)) for i, a in zip(ids, analyses)], pack_parameters(basis), basis)
    return index_pack.Pack(path, pack_parameters(basis))


def _query(song: int, start_s: float = 4.0, seconds: float = 8.0) -> fp.QueryAnalysis:
    return fp.analyse_query(synth.noisy_excerpt(song, start_s, seconds, np.random.default_rng(song), snr_db=0.0))


def test_match_song_runs_gives_the_global_tables_counts(analyses: list) -> None:
    index = fingerprint_index(analyses)
    for song in range(N):
        query = fp.with_time_jitter(_query(song).landmarks)
        expected = index.match_landmarks(query)
        runs = [(np.sort(a.landmarks.hashes), a.landmarks.times[np.argsort(a.landmarks.hashes, kind="stable")]) for a in analyses]
        counts, offsets = fp.match_song_runs(query, runs)
        assert np.array_equal(counts, expected.counts) and np.array_equal(offsets, expected.offsets)
        assert int(np.argmax(counts)) == song


def test_match_song_profiles_gives_the_profile_index_similarity(analyses: list) -> None:
    profiles = ProfileIndex.from_songs([a.profiles.astype(np.float32) / 256.0 for a in analyses])
    for song in range(N):
        query = _query(song).profiles
        expected = profiles.match_profiles(query).similarity
        found = match_song_profiles(query, [a.profiles for a in analyses])
        np.testing.assert_allclose(found, expected, atol=1e-6)
        assert int(np.argmax(found)) == song


def test_shortlisted_index_with_room_for_every_song_matches_like_the_in_memory_index(tmp_path: Path, analyses: list, basis: np.ndarray) -> None:
    pack = _pack(tmp_path, analyses, basis)
    shortlisted = ShortlistedIndex([pack], [(0, i) for i in range(N)], first_stage=N, second_stage=N, exact_window=None)
    in_memory = fingerprint_index(analyses)
    for song in range(N):
        query = _query(song)
        a, b = in_memory.match_query(query), shortlisted.match_query(query)
        assert np.array_equal(a.counts, b.counts) and a.query_hashes == b.query_hashes
        np.testing.assert_allclose(a.profiles.similarity, b.profiles.similarity, atol=1e-6)
        assert b.best == song


def test_the_shortlist_keeps_the_song_playing_and_songs_off_it_score_nothing(tmp_path: Path, analyses: list, basis: np.ndarray) -> None:
    # Songs listed in another order than the pack holds them, and spread over two packs.
    first, second = _pack(tmp_path, analyses[:3], basis, ["a0", "a1", "a2"]), _pack(tmp_path, analyses[3:], basis, ["b3", "b4", "b5"])
    chosen = [(1, 2), (0, 0), (1, 0), (0, 2), (0, 1), (1, 1)]  # song k of the index
    truth = {0: 1, 1: 4, 2: 3, 3: 2, 4: 5, 5: 0}  # synth song -> index position
    shortlisted = ShortlistedIndex([first, second], chosen, first_stage=2, second_stage=1)
    for song in range(N):
        query = _query(song)
        assert truth[song] in shortlisted.candidates(query)
        found = shortlisted.match_query(query)
        assert found.best == truth[song]
        assert np.count_nonzero(found.counts) <= 1 and np.count_nonzero(found.profiles.similarity) <= 2


def test_a_damaged_or_foreign_pack_is_refused_with_its_reason(tmp_path: Path, analyses: list, basis: np.ndarray) -> None:
    pack = _pack(tmp_path, analyses[:2], basis)
    params = pack_parameters(basis)
    other = params.copy()
    other[0] += 1
    with pytest.raises(index_pack.PackError, match="other analysis parameters"):
        index_pack.Pack(pack.folder, other)
    # Summaries projected with another library's basis are not comparable: refused too.
    other_basis = shortlist.fit_basis([a.profiles for a in analyses[:2]], fp.MAX_BIN - fp.MIN_BIN)
    with pytest.raises(index_pack.PackError, match="other analysis parameters"):
        index_pack.Pack(pack.folder, pack_parameters(other_basis))
    np.save(pack.folder / "basis.npy", other_basis)
    with pytest.raises(index_pack.PackError, match="basis does not match"):
        index_pack.Pack(pack.folder, params)
    np.save(pack.folder / "basis.npy", basis)
    meta = json.loads((pack.folder / "songs.json").read_text())
    (pack.folder / "songs.json").write_text(json.dumps({**meta, "ids": meta["ids"] + ["ghost"]}))
    with pytest.raises(index_pack.PackError, match="inconsistent"):
        index_pack.Pack(pack.folder, params)
    (pack.folder / "hashes.npy").write_bytes(b"not an array")
    with pytest.raises(index_pack.PackError):
        index_pack.Pack(pack.folder, params)
    assert index_pack.open_packs(tmp_path, params) == []


def test_the_basis_is_the_librarys_own_and_reproducible(analyses: list, basis: np.ndarray) -> None:
    bins = fp.MAX_BIN - fp.MIN_BIN
    again = shortlist.fit_basis([a.profiles for a in analyses], bins)
    assert np.array_equal(again, basis) and shortlist.valid_basis(basis, bins)
    np.testing.assert_allclose(basis.T @ basis, np.eye(shortlist.BASIS_DIMS), atol=1e-4)  # orthonormal directions
    # Its first direction is where these songs' summaries lie: they project on it far more than chance.
    sums = np.concatenate([shortlist._running_sums(a.profiles) for a in analyses])
    assert float(np.mean((sums @ basis[:, 0]) ** 2)) > 10.0 / bins
    # A library with fewer summaries than directions still gets a full, finite basis.
    tiny = shortlist.fit_basis([analyses[0].profiles[:20]], bins)
    assert shortlist.valid_basis(tiny, bins)


def test_open_packs_skips_damaged_ones_and_clears_half_written_folders(tmp_path: Path, analyses: list, basis: np.ndarray) -> None:
    params = pack_parameters(basis)
    good = _pack(tmp_path, analyses[:2], basis)
    (tmp_path / ".tmp-crashed").mkdir()
    (tmp_path / ".tmp-crashed" / "hashes.npy").write_bytes(b"half")
    broken = _pack(tmp_path, analyses[2:4], basis)
    (broken.folder / "profiles.npy").unlink()
    assert [p.folder for p in index_pack.open_packs(tmp_path, params)] == [good.folder]
    assert (tmp_path / ".tmp-crashed").exists() and broken.folder.exists()  # a reader deletes nothing
    assert [p.folder for p in index_pack.open_packs(tmp_path, params, discard_unusable=True)] == [good.folder]
    assert not (tmp_path / ".tmp-crashed").exists() and not broken.folder.exists()


def test_the_exact_check_near_the_summarys_offset_keeps_the_playing_song_first(tmp_path: Path, analyses: list, basis: np.ndarray) -> None:
    pack = _pack(tmp_path, analyses, basis)
    everywhere = ShortlistedIndex([pack], [(0, i) for i in range(N)], first_stage=N, second_stage=N, exact_window=None)
    near = ShortlistedIndex([pack], [(0, i) for i in range(N)], first_stage=N, second_stage=1)
    for song in range(N):
        for start_s in (1.0, 9.0):
            query = _query(song, start_s=start_s)
            first, rows = near._candidates(query)
            row = int(rows[list(first).index(song)])
            assert near._profile_window(song, row, query.profiles.shape[0])[0].shape[0] < analyses[song].profiles.shape[0]
            full, windowed = everywhere.match_query(query).profiles.similarity, near.match_query(query).profiles.similarity
            # The second stage's song gets every start again; the others only fewer starts.
            assert int(np.argmax(windowed)) == song and windowed[song] == pytest.approx(full[song], abs=1e-6)
            assert np.all(windowed <= full + 1e-6)
