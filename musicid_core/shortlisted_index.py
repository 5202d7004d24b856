"""Matching a recording against a large library: shortlist first, exact checks on the few.

``FingerprintIndex`` compares a recording with every song at once; its cost and memory grow
with the library (module ``index_pack``). ``ShortlistedIndex`` answers the same question
(``match`` / ``match_query`` -> ``FingerprintMatch``) over packs: every song's summary is
scored (``musicid_core.shortlist``), the best ``FIRST_STAGE`` songs' tonal profiles are matched
near the offset their summary found (``EXACT_WINDOW``), and the best ``SECOND_STAGE`` of those
are matched at every start and by their landmarks, read from the memory-mapped packs. Songs off the shortlist
get no aligned landmarks and no profile similarity: the verdict's margins are calibrated through
this same path (``training.fingerprints.calibrate_margin`` matches impostor recordings with
``match_query``), so its leads are measured against what a shortlist leaves.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from musicid_core.fingerprint import FingerprintMatch, QueryAnalysis, analyse_query, match_song_runs, with_time_jitter
from musicid_core.index_pack import Pack, PackedSong
from musicid_core.shortlist import (
    EXACT_WINDOW, FIRST_STAGE, QUERY_PARTS, SECOND_STAGE, SUMMARY_BLOCKS, SUMMARY_HOP, SummaryTable, basis_id, top,
)
from musicid_core.tonal_profile import QUERY_STRIDE
from musicid_core.tonal_profile import ProfileMatch, match_song_profiles


class ShortlistedIndex:
    """The songs ``chosen`` (pack, row) in this order: song ``i`` of every match is ``chosen[i]``."""

    def __init__(
        self, packs: Sequence[Pack], chosen: Sequence[tuple[int, int]],
        first_stage: int = FIRST_STAGE, second_stage: int = SECOND_STAGE, exact_window: Optional[int] = EXACT_WINDOW,
    ) -> None:
        self.n_songs = len(chosen)
        self.first_stage, self.second_stage, self.exact_window = first_stage, second_stage, exact_window
        used = sorted({p for p, _ in chosen})
        if len({basis_id(packs[p].basis) for p in used}) > 1:
            raise ValueError("the packs' summaries were projected with different shortlist bases")
        basis = packs[used[0]].basis if used else None
        self._songs: list[PackedSong] = [packs[p].song(i) for p, i in chosen]
        # Per pack: its summaries, where each of its songs' runs of summaries starts, and which
        # song of this index each run is (n_songs: one not chosen).
        chosen_array = np.asarray(chosen, dtype=np.int64).reshape(-1, 2)
        blocks = []
        for p, pack in enumerate(packs):
            mine = np.flatnonzero(chosen_array[:, 0] == p)
            if mine.size == 0:
                continue
            song_of_row = np.full(len(pack.ids), self.n_songs, dtype=np.int64)
            song_of_row[chosen_array[mine, 1]] = mine
            keep = np.diff(pack.summary_starts) > 0
            blocks.append((pack.summaries_t, pack.summary_starts[:-1][keep], song_of_row[keep]))
        self._table = SummaryTable(basis, blocks, self.n_songs) if basis is not None else None
        self.profiles = True  # packs always hold profiles (``FingerprintIndex.profiles`` may be None)

    def candidates(self, query: QueryAnalysis) -> np.ndarray:
        """Songs for the exact checks: the best ``first_stage`` by summary (``shortlist``)."""
        return self._candidates(query)[0]

    def _candidates(self, query: QueryAnalysis) -> tuple[np.ndarray, np.ndarray]:
        """(the best ``first_stage`` songs, each one's best summary row)."""
        if self._table is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return self._table.shortlist(query.profiles, self.first_stage)

    def _profile_window(self, k: int, best_row: int, query_blocks: int) -> tuple[np.ndarray, int]:
        """Song ``k``'s profile rows the exact check reads and how many of them may be a start: all
        of them, or with ``exact_window`` the starts within that many blocks of where its best
        summary put the recording (its first part, ``per`` profiles of ``QUERY_STRIDE`` hops,
        centred on the summary) and the rows those starts lay the recording on."""
        rows = self._songs[k].profiles
        if self.exact_window is None:
            return rows, rows.shape[0]
        per = max(1, query_blocks // QUERY_PARTS)
        centre = best_row * SUMMARY_HOP + SUMMARY_BLOCKS // 2 - per * QUERY_STRIDE // 2
        lo = min(max(0, centre - self.exact_window), max(0, rows.shape[0] - 1))
        last_start = max(lo, centre + self.exact_window)
        return rows[lo : last_start + QUERY_STRIDE * max(0, query_blocks - 1) + 1], last_start - lo + 1

    def match(self, audio: np.ndarray) -> FingerprintMatch:
        return self.match_query(analyse_query(audio))

    def match_query(self, query: QueryAnalysis) -> FingerprintMatch:
        """Summaries of every song, exact profiles of the first stage's songs near their summary's
        offset, then every start and the landmarks of the best ``second_stage`` of those."""
        first, best_rows = self._candidates(query)
        blocks = query.profiles.shape[0]
        windows = [self._profile_window(k, int(row), blocks) for k, row in zip(first, best_rows)]
        similarity_first = match_song_profiles(query.profiles, [rows for rows, _ in windows], [count for _, count in windows])
        second = first[top(similarity_first, self.second_stage)]
        jittered = with_time_jitter(query.landmarks)
        counts_c, offsets_c = match_song_runs(jittered, [(self._songs[k].hashes, self._songs[k].times) for k in second])
        counts = np.zeros(self.n_songs, np.int64)
        offsets = np.zeros(self.n_songs, np.int64)
        similarity = np.zeros(self.n_songs)
        similarity[first] = similarity_first
        if self.exact_window is not None:
            # The second stage's few songs get every start: a song shortlisted through a repeated
            # section's summary keeps its best similarity wherever in the song it lies.
            similarity[second] = match_song_profiles(query.profiles, [self._songs[k].profiles for k in second])
        counts[second], offsets[second] = counts_c, offsets_c
        return FingerprintMatch(counts, offsets, int(jittered.hashes.size), ProfileMatch(similarity))
