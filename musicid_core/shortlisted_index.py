"""Matching a recording against a large library: shortlist first, exact checks on the few.

``FingerprintIndex`` compares a recording with every song at once; its cost and memory grow
with the library (module ``index_pack``). ``ShortlistedIndex`` answers the same question
(``match`` / ``match_query`` -> ``FingerprintMatch``) over packs: every song's summary is
scored (``musicid_core.shortlist``), and only the best ``SHORTLIST_SIZE`` songs' landmarks and
tonal profiles, read from the memory-mapped packs, are matched exactly. Songs off the shortlist
get no aligned landmarks and no profile similarity: the verdict's margins are calibrated through
this same path (``training.fingerprints.calibrate_margin`` matches impostor recordings with
``match_query``), so its leads are measured against what a shortlist leaves.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from musicid_core.fingerprint import FingerprintMatch, QueryAnalysis, analyse_query, match_song_runs, with_time_jitter
from musicid_core.index_pack import Pack, PackedSong
from musicid_core.shortlist import FIRST_STAGE, SECOND_STAGE, basis_id, summary_scores, top
from musicid_core.tonal_profile import ProfileMatch, match_song_profiles


class ShortlistedIndex:
    """The songs ``chosen`` (pack, row) in this order: song ``i`` of every match is ``chosen[i]``."""

    def __init__(
        self, packs: Sequence[Pack], chosen: Sequence[tuple[int, int]],
        first_stage: int = FIRST_STAGE, second_stage: int = SECOND_STAGE,
    ) -> None:
        self.n_songs = len(chosen)
        self.first_stage, self.second_stage = first_stage, second_stage
        used = sorted({p for p, _ in chosen})
        if len({basis_id(packs[p].basis) for p in used}) > 1:
            raise ValueError("the packs' summaries were projected with different shortlist bases")
        self.basis = packs[used[0]].basis if used else None
        self._songs: list[PackedSong] = [packs[p].song(i) for p, i in chosen]
        # Per pack: its summaries and, per summary row, the song it belongs to here (n_songs: none).
        chosen_array = np.asarray(chosen, dtype=np.int64).reshape(-1, 2)
        self._summaries, self._owners, self._run_starts = [], [], []
        for p, pack in enumerate(packs):
            song_of_row = np.full(len(pack.ids), self.n_songs, dtype=np.int64)
            mine = np.flatnonzero(chosen_array[:, 0] == p)
            if mine.size == 0:
                continue
            song_of_row[chosen_array[mine, 1]] = mine
            counts = np.diff(pack.summary_starts)
            keep = counts > 0
            self._summaries.append(pack.summaries_t)
            self._owners.append(np.repeat(song_of_row, counts))
            self._run_starts.append(pack.summary_starts[:-1][keep])
        self.profiles = True  # packs always hold profiles (``FingerprintIndex.profiles`` may be None)

    def candidates(self, query: QueryAnalysis) -> np.ndarray:
        """Songs for the exact checks: the best ``first_stage`` by summary (``shortlist``)."""
        if self.basis is None:
            return np.zeros(0, np.int64)
        scores = summary_scores(query.profiles, self.basis, self._summaries, self._owners, self._run_starts, self.n_songs + 1)[: self.n_songs]
        return top(scores, self.first_stage)

    def match(self, audio: np.ndarray) -> FingerprintMatch:
        return self.match_query(analyse_query(audio))

    def match_query(self, query: QueryAnalysis) -> FingerprintMatch:
        """Summaries of every song, exact profiles of the first stage's songs, landmarks of the
        best ``second_stage`` of those by profile similarity."""
        first = self.candidates(query)
        similarity_first = match_song_profiles(query.profiles, [self._songs[k].profiles for k in first])
        second = first[top(similarity_first, self.second_stage)]
        jittered = with_time_jitter(query.landmarks)
        counts_c, offsets_c = match_song_runs(jittered, [(self._songs[k].hashes, self._songs[k].times) for k in second])
        counts = np.zeros(self.n_songs, np.int64)
        offsets = np.zeros(self.n_songs, np.int64)
        similarity = np.zeros(self.n_songs)
        similarity[first] = similarity_first
        counts[second], offsets[second] = counts_c, offsets_c
        return FingerprintMatch(counts, offsets, int(jittered.hashes.size), ProfileMatch(similarity))
