"""The shortlist: which few songs of a large library are worth the exact checks.

The exact checks (aligned landmarks, aligned tonal profiles) cost time in proportion to the songs
they are run on. For a large library a recording is first compared with *summaries* of every
song: its tonal profiles (``musicid_core.tonal_profile``) averaged over ``SUMMARY_BLOCKS`` (4 s)
every ``SUMMARY_HOP`` (2 s), projected on ``BASIS_DIMS`` principal directions and unit-normed.
The recording's own profiles are averaged in ``QUERY_PARTS`` consecutive parts, and a song scores
its best sum of the parts' cosines with summaries as far apart in the song as the parts are in
the recording. Averaging keeps which partials a stretch of music holds and lets a room's noise,
which moves from block to block, average out; five aligned parts keep enough of the music's order
to tell apart songs with the same harmony.

Whose directions. The projection is fitted on *the library's own songs* (``fit_basis``, no
recording and no label: the principal directions of its summaries), when the library is first
packed and again each time it has grown ``REFIT_GROWTH``-fold (``song_index``). A projection fitted
once on other music does not transfer. Measured on ``benchmarks.scale``'s libraries (10-s, 0 dB;
right song in the best 60, held-out / tuning-side recordings): 32 directions fitted on the tuning
side's soundtracks, a summary every second (shipped before), 80 / 95 % at 1,000 songs and
62.5 / 90 % at 10,000; 32 fitted on the library, 85 / 97.5 % and 60 / 85 %; 64 fitted on the
library, a summary every 2 s (the same bytes and product), 87.5 / 95 % and 70 / 87.5 %; all 249
bins unprojected, every second, 87.5 / 97.5 % at 1,000. In the best 120: 90 / 97.5 % and 80 / 90 %.
The setting was chosen for its held-out gain (on the tuning side alone it is no better).

A recording's parts leave out its steady part (``tonal_profile.without_steady_part``, as the exact
check does). Measured with quarter-second profiles (twelfth session, ``benchmarks/RESULTS.md``; the
summaries themselves unchanged), right song in the best 120 of 10,000 songs, tuning side, 40
recordings per SNR: 0 dB 37 -> 38, -5 dB 33 -> 36; 1,000 songs 40 / 37 both ways. Other summary
lengths (8, 12, 24, 32 profiles), a summary every second, 6 or 8 parts: within a recording of
these either way, or worse (32 profiles, 8 parts). Held-out, read after: 10,000 songs 28 -> 27
and 18 -> 18, 1,000 songs 35 -> 35 and 28 -> 26 (no gain there). Through the whole recogniser
(``benchmarks.scale``, 10,000 songs; ``results/scale-library-twelfth-steady-only.json``): tuning
shortlist kept 95 -> 97.5 % (0 dB), 85 -> 90 % (-5 dB); held-out ranked first 65 -> 67.5 % (0 dB).

Summaries and the basis they were made with are stored in the packs (float32), so a pack made
with another basis is recognised (``basis_id``) and made again.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Iterable, Sequence

import numpy as np

from musicid_core.tonal_profile import QUANTISATION, QUERY_STRIDE, without_steady_part

SUMMARY_BLOCKS = 16
"""Song profiles (every 0.25 s) averaged into one summary: 4 s."""
SUMMARY_HOP = 8
"""A summary every 2 s of song (half the rows of one every second, for the same recall)."""
QUERY_PARTS = 5
"""A recording's profiles are averaged in this many consecutive parts: 2 s each for 10 s, about one
``SUMMARY_HOP``, so part j lies j summaries on (with 4 parts of 2.5 s each part fell half a second
further from the summary it was scored against). Tuning side, right song in the best 120, 0 / -5 dB,
against 4 parts: 10,000 songs 38 -> 39 / 36 -> 36 of 40, 1,000 songs 40 -> 40 / 37 -> 38, mean log
rank lower in all four. Through the whole recogniser (``benchmarks.scale``,
``results/scale-library-twelfth-session.json``): tuning -5 dB right ``match`` 80 -> 82.5 % at
10,000 songs and 87.5 -> 90 % at 1,000, the rest alike; held-out (read after) alike at 10,000,
at 1,000 0 dB 70 -> 72.5 % and -5 dB 40 -> 37.5 %."""
QUERY_VERSION = 2
"""Changes whenever a recording's parts are made otherwise (2: without their steady part), so a
large library's margins, calibrated through the shortlist, are calibrated again."""
BASIS_DIMS = 64
"""Principal directions of profile summaries kept, of 249 bins: the summaries of 10,000 songs
take about 330 MB and a recording's product reads them in tens of milliseconds."""
FIT_ROWS = 200_000
"""Summaries (sampled, seeded) a basis is fitted on: ~50 GFLOP would otherwise go to 10,000 songs."""
REFIT_GROWTH = 4
"""A library's basis is fitted again once it holds this many times the songs it was fitted on."""
FIRST_STAGE = 120
"""Songs the summaries pass on to the exact profile check (about 0.1 ms each): at 10,000 songs
the best 120 held the right song 10 points more often than the best 60 (module docstring)."""
SECOND_STAGE = 15
"""Songs, best by exact profile similarity, whose landmarks are matched too (the costliest check
per song: its landmark pages). A shortlisted right song was within the best 5 by profile
similarity in every 0-dB recording but one (10,000 songs, ``benchmarks.scale``). 10 measured
5 ms faster (median 68.5 against 73.4 ms) but ranked one held-out 0-dB recording of 40 lower
(``benchmarks/results/scale-10k-second-stage.json``), so 15 stays."""
EXACT_WINDOW = 16
"""The exact profile check tries a shortlisted song's starts within this many song blocks (4 s)
either side of where its best summary put the recording, not every start of the song: the
summaries fall every 2 s and average 4 s, so the right start lies well inside, and the check
reads ~100 of a 4-minute song's ~960 rows (at 1,000 songs it took 67 of ~110 ms over whole
songs). ``None``: every start (the in-memory index's exhaustive check)."""
CHUNK_ROWS = 1 << 18
"""Summaries multiplied at once (read from the memory-mapped packs a chunk at a time)."""


def _running_sums(profiles: np.ndarray) -> np.ndarray:
    """Unit-normed sums of ``SUMMARY_BLOCKS`` profiles every ``SUMMARY_HOP`` (all 249 bins)."""
    rows = np.asarray(profiles, dtype=np.float32) / QUANTISATION
    n = rows.shape[0]
    if n == 0:
        return np.zeros((0, rows.shape[1]), np.float32)
    running = np.concatenate([np.zeros((1, rows.shape[1]), np.float32), np.cumsum(rows, axis=0, dtype=np.float32)])
    starts = np.arange(0, max(1, n - SUMMARY_BLOCKS + 1), SUMMARY_HOP)
    sums = running[np.minimum(starts + SUMMARY_BLOCKS, n)] - running[starts]
    return sums / (np.linalg.norm(sums, axis=1, keepdims=True) + 1e-9)


def fit_basis(songs_profiles: Iterable[np.ndarray], bins: int, dims: int = BASIS_DIMS, seed: int = 0) -> np.ndarray:
    """(bins, dims) float32: the principal directions (uncentred, as cosines are taken about the
    origin) of these songs' unit-normed summaries. A tiny ridge keeps every direction defined
    for a library with fewer summaries than ``dims``."""
    parts = [_running_sums(p) for p in songs_profiles]
    x = np.concatenate([np.zeros((0, bins), np.float32)] + [p for p in parts if p.shape[0]])
    if x.shape[0] > FIT_ROWS:
        x = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], FIT_ROWS, replace=False))]
    gram = x.T.astype(np.float64) @ x.astype(np.float64) / max(1, x.shape[0]) + 1e-6 * np.eye(bins)
    values, vectors = np.linalg.eigh(gram)
    chosen = vectors[:, np.argsort(-values, kind="stable")[:dims]]
    chosen *= np.where(chosen.sum(axis=0) < 0, -1.0, 1.0)  # a fixed sign: the same songs give the same basis
    return np.ascontiguousarray(chosen, dtype=np.float32)


def valid_basis(basis: np.ndarray, bins: int) -> bool:
    return basis.dtype == np.float32 and basis.shape == (bins, BASIS_DIMS) and bool(np.all(np.isfinite(basis)))


def basis_id(basis: np.ndarray) -> int:
    """A number that changes with the basis: packs made with another one are remade."""
    return int(hashlib.sha256(np.ascontiguousarray(basis, dtype=np.float32).tobytes()).hexdigest()[:7], 16)


def _project(means: np.ndarray, basis: np.ndarray) -> np.ndarray:
    means = means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-9)
    reduced = means @ basis
    return reduced / (np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-9)


def song_summaries(profiles: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(summaries, BASIS_DIMS) float32 of a song's int8 profile rows (value x ``QUANTISATION``);
    one for a song shorter than ``SUMMARY_BLOCKS``, none for a song without profiles."""
    sums = _running_sums(profiles)
    if sums.shape[0] == 0:
        return np.zeros((0, basis.shape[1]), np.float32)
    return _project(sums, basis).astype(np.float32)


def query_parts(query_profiles: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, int]:
    """The recording's parts, projected: ((parts, BASIS_DIMS), summaries between two parts' starts).
    A recording with fewer profiles than parts is one part. The parts average the recording's
    profiles without their steady part, as the exact check compares them (``without_steady_part``:
    a room's hum and the phone's resonances, in every block, are not the song)."""
    q = without_steady_part(np.asarray(query_profiles, dtype=np.float32))
    if q.shape[0] == 0:
        return np.zeros((0, basis.shape[1]), np.float32), 0
    parts = min(QUERY_PARTS, q.shape[0])
    per = q.shape[0] // parts
    means = np.stack([q[j * per : (j + 1) * per].mean(axis=0) for j in range(parts)])
    # A query profile spans QUERY_STRIDE song hops; a summary starts every SUMMARY_HOP hops.
    step = max(1, int(round(per * QUERY_STRIDE / SUMMARY_HOP)))
    return _project(means, basis), step


class SummaryTable:
    """Every song's summaries as the packs hold them, and the scan that scores a recording
    against all of them (module docstring).

    ``blocks``: per pack, its summaries transposed (dims, rows), the rows where each song's run
    of consecutive summaries begins, and the song each run belongs to here (``n_songs``: a song
    of the pack that is not in this table). A song has at most one run.

    The scan reads every summary once per recording, at the memory's bandwidth (at 10,000 songs
    330 MB: most of its time). A coarse first pass on the 16, 24 or 32 leading directions, the
    best 300-2,000 songs then scored on all 64, read a quarter to a half of the bytes but kept the
    right song (held-out, 0 dB) 2.5-40 points less often at 10,000 songs (``benchmarks/RESULTS.md``): the leading
    directions hold what songs share, not what tells them apart."""

    def __init__(self, basis: np.ndarray, blocks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], n_songs: int) -> None:
        self.basis, self.n_songs = basis, n_songs
        self._blocks = [(summaries_t, np.asarray(starts, np.int64), np.asarray(songs, np.int64))
                        for summaries_t, starts, songs in blocks if summaries_t.shape[1] > 0]
        # Where each song's run is: (block, first row, row after its last); block -1: no summaries.
        self._runs = np.full((n_songs, 3), -1, np.int64)
        for b, (summaries_t, starts, songs) in enumerate(self._blocks):
            ends = np.append(starts[1:], summaries_t.shape[1])
            mine = songs < n_songs
            self._runs[songs[mine]] = np.stack([np.full(int(mine.sum()), b), starts[mine], ends[mine]], axis=1)
        self._buffers = threading.local()  # each thread's cosines, kept: faulting 20 MB in costs ms

    def scores(self, query_profiles: np.ndarray) -> np.ndarray:
        """Each song's best aligned sum of part cosines; songs without summaries score -inf."""
        return self._scan(query_profiles)[0]

    def shortlist(self, query_profiles: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(the best ``size`` songs, best first; each one's best summary row, counted in its song)."""
        scores, totals = self._scan(query_profiles)
        chosen = top(scores, size)
        rows = np.zeros(chosen.size, np.int64)
        for i, song in enumerate(chosen):
            block, lo, hi = self._runs[song]
            if block >= 0:
                rows[i] = int(np.argmax(totals[block][lo:hi]))
        return chosen, rows

    def _scan(self, query_profiles: np.ndarray) -> tuple[np.ndarray, list]:
        """(each song's score, the aligned totals of every block's rows)."""
        best = np.full(self.n_songs + 1, -np.inf, np.float32)
        parts, step = query_parts(query_profiles, self.basis)
        if parts.shape[0] == 0:
            return best[: self.n_songs], []
        totals = []
        for b, (summaries_t, starts, songs) in enumerate(self._blocks):
            totals.append(self._aligned_totals(parts, step, summaries_t, starts, b))
            np.maximum.at(best, songs, np.maximum.reduceat(totals[-1], starts))
        return best[: self.n_songs], totals

    def _aligned_totals(self, parts: np.ndarray, step: int, summaries_t: np.ndarray, starts: np.ndarray, block: int) -> np.ndarray:
        """``_aligned`` of one block's cosines, made in this thread's buffer for the block."""
        rows = summaries_t.shape[1]
        buffers = getattr(self._buffers, "cos", None)
        if buffers is None:
            buffers = self._buffers.cos = [np.empty((QUERY_PARTS, s.shape[1]), np.float32) for s, _, _ in self._blocks]
        cos = buffers[block][: parts.shape[0]]
        for lo in range(0, rows, CHUNK_ROWS):  # memory-mapped packs are read a chunk at a time
            np.matmul(parts, summaries_t[:, lo : lo + CHUNK_ROWS], out=cos[:, lo : lo + CHUNK_ROWS])
        return _aligned(cos, step, starts)


def _aligned(cos: np.ndarray, step: int, starts: np.ndarray) -> np.ndarray:
    """Per summary row: part 0's cosine there plus part j's ``j * step`` rows later, where that
    row is still in the same song (past the song's end a part adds 0). ``cos`` (parts, rows):
    the parts' cosines with every row, whose songs' runs begin at ``starts``; it is overwritten."""
    rows = cos.shape[1]
    total = cos[0].copy()
    ends = np.append(starts[1:], rows)
    for j in range(1, cos.shape[0]):
        shift = j * step
        if shift >= rows:
            break
        # Row r takes part j from row r + shift; that row belongs to the next song when r lies
        # in its song's last ``shift`` rows: those entries (each read by one row only) add 0.
        read = (ends[:, None] + np.arange(shift)).ravel()
        crossing = (read < rows) & (read - shift >= np.repeat(starts, shift))
        cos[j, read[crossing]] = 0.0
        total[: rows - shift] += cos[j, shift:]
    return total


def top(scores: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` best-scoring songs, best first."""
    if scores.size <= size:
        return np.argsort(-scores, kind="stable")
    chosen = np.argpartition(-scores, size - 1)[:size]
    return chosen[np.argsort(-scores[chosen], kind="stable")]
