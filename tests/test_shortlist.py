"""The summary scan (``musicid_core.shortlist.SummaryTable``) against its definition, read naively."""

from __future__ import annotations

import numpy as np

from musicid_core import shortlist
from musicid_core.tonal_profile import QUANTISATION


def _naive_scores(parts: np.ndarray, step: int, songs: list[np.ndarray]) -> list[tuple[float, int]]:
    """Per song (rows, dims): its best sum over parts j of cos(part j, row r + j * step), rows past
    the song's end adding nothing, and the first row r where it is reached."""
    found = []
    for rows in songs:
        totals = [sum(float(parts[j] @ rows[r + j * step]) for j in range(parts.shape[0]) if r + j * step < rows.shape[0])
                  for r in range(rows.shape[0])]
        found.append((max(totals), int(np.argmax(totals))) if totals else (-np.inf, 0))
    return found


def test_the_scan_scores_every_song_by_its_best_aligned_parts_and_never_across_songs() -> None:
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.standard_normal((80, shortlist.BASIS_DIMS)))[0].astype(np.float32)
    query = rng.integers(0, 100, (29, 80)).astype(np.float32)
    parts, step = shortlist.query_parts(query, basis)
    assert parts.shape[0] == shortlist.QUERY_PARTS and step >= 1
    # Two packs; songs of 1 to 12 summaries (shorter than the parts' reach, too), one song with
    # none, and in the second pack a song that is not in this table (its run belongs to no one).
    lengths = [[5, 1, 12, 3, 7], [2, 9, 4]]
    table_song = [[0, 1, 2, 3, 4], [5, 8, 6]]  # song 8 = n_songs: not in the table
    n_songs = 8
    blocks, per_song = [], {}
    for pack_lengths, pack_songs in zip(lengths, table_song):
        summaries = [rng.standard_normal((n, shortlist.BASIS_DIMS)).astype(np.float32) for n in pack_lengths]
        for song, rows in zip(pack_songs, summaries):
            per_song[song] = rows
        starts = np.concatenate([[0], np.cumsum(pack_lengths)[:-1]])
        blocks.append((np.ascontiguousarray(np.concatenate(summaries).T), starts, np.array(pack_songs)))
    table = shortlist.SummaryTable(basis, blocks, n_songs)
    expected = _naive_scores(parts, step, [per_song.get(k, np.zeros((0, shortlist.BASIS_DIMS))) for k in range(n_songs)])
    scores = table.scores(query)
    np.testing.assert_allclose(scores, [e[0] for e in expected], rtol=1e-5, atol=1e-5)
    assert scores[7] == -np.inf  # song 7 has no summaries
    chosen, rows = table.shortlist(query, 4)
    assert list(chosen) == list(np.argsort(-np.array([e[0] for e in expected]), kind="stable")[:4])
    assert [int(r) for r in rows] == [expected[k][1] for k in chosen]
    # The same again (buffers reused between recordings), and a recording too short for parts.
    np.testing.assert_array_equal(table.scores(query), scores)
    assert np.all(table.scores(query[:0]) == -np.inf)


def test_a_recordings_parts_leave_out_its_steady_part_so_a_hum_does_not_pick_the_songs() -> None:
    # A song of moving notes, recorded under a hum (three partials in every block), and another
    # song that holds those partials: with the hum in its parts the recording resembles the other
    # song more (3.14 against 3.06 here, five parts); without its steady part, the song it is.
    rng = np.random.default_rng(0)
    bins = 80
    basis = np.eye(bins, shortlist.BASIS_DIMS, dtype=np.float32)
    notes = np.zeros((64, bins), np.float32)
    notes[np.arange(64), rng.integers(0, 40, 64)] = 1.0
    hum = np.zeros(bins, np.float32)
    hum[[50, 51, 52]] = 1.0 / np.sqrt(3)

    def unit(rows: np.ndarray) -> np.ndarray:
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def stored(profiles: np.ndarray) -> np.ndarray:
        return np.clip(np.round(profiles * QUANTISATION), -127, 127).astype(np.int8)

    holding = unit(2.4 * hum + 0.15 * rng.standard_normal((64, bins)).astype(np.float32))
    summaries = [shortlist.song_summaries(stored(notes), basis), shortlist.song_summaries(stored(holding), basis)]
    starts = np.array([0, summaries[0].shape[0]])
    table = shortlist.SummaryTable(basis, [(np.ascontiguousarray(np.concatenate(summaries).T), starts, np.arange(2))], 2)
    recording = unit(notes[8:48] + 0.3 * hum)
    scores = table.scores(recording)
    assert scores[0] > scores[1] + 0.3
