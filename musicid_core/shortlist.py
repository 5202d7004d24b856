"""The shortlist: which few songs of a large library are worth the exact checks.

The exact checks (aligned landmarks, aligned tonal profiles) cost time in proportion to the songs
they are run on. For a large library a recording is first compared with *summaries* of every
song: its tonal profiles (``musicid_core.tonal_profile``) averaged over ``SUMMARY_BLOCKS`` (4 s)
every ``SUMMARY_HOP`` (2 s), projected on ``BASIS_DIMS`` principal directions and unit-normed.
The recording's own profiles are averaged in ``QUERY_PARTS`` consecutive parts, and a song scores
its best sum of the parts' cosines with summaries as far apart in the song as the parts are in
the recording. Averaging keeps which partials a stretch of music holds and lets a room's noise,
which moves from block to block, average out; four aligned parts keep enough of the music's order
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

Summaries and the basis they were made with are stored in the packs (float32), so a pack made
with another basis is recognised (``basis_id``) and made again.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Optional, Sequence

import numpy as np

from musicid_core.tonal_profile import QUANTISATION, QUERY_STRIDE

SUMMARY_BLOCKS = 16
"""Song profiles (every 0.25 s) averaged into one summary: 4 s."""
SUMMARY_HOP = 8
"""A summary every 2 s of song (half the rows of one every second, for the same recall)."""
QUERY_PARTS = 4
"""A recording's profiles are averaged in this many consecutive parts (2.5 s each for 10 s)."""
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
similarity in every 0-dB recording but one (10,000 songs, ``benchmarks.scale``)."""
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
    A recording with fewer profiles than parts is one part."""
    q = np.asarray(query_profiles, dtype=np.float32)
    if q.shape[0] == 0:
        return np.zeros((0, basis.shape[1]), np.float32), 0
    parts = min(QUERY_PARTS, q.shape[0])
    per = q.shape[0] // parts
    means = np.stack([q[j * per : (j + 1) * per].mean(axis=0) for j in range(parts)])
    # A query profile spans QUERY_STRIDE song hops; a summary starts every SUMMARY_HOP hops.
    step = max(1, int(round(per * QUERY_STRIDE / SUMMARY_HOP)))
    return _project(means, basis), step


def summary_scores(
    query_profiles: np.ndarray, basis: np.ndarray, blocks_t: Sequence[np.ndarray], owners: Sequence[np.ndarray],
    run_starts: Sequence[np.ndarray], n_songs: int, best_rows: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Each song's best aligned sum of part cosines (module docstring). ``blocks_t[j]``: summaries,
    transposed (dims, rows), whose rows belong to the songs ``owners[j]`` (one int per row); a
    song's rows are consecutive and in order, and ``run_starts[j]`` are the rows where each run of
    one owner begins (each song one run). Songs without summaries score -inf. ``best_rows``
    (``n_songs`` ints), when given, receives each song's best summary row, counted in the song."""
    best = np.full(n_songs, -np.inf, np.float32)
    parts, step = query_parts(query_profiles, basis)
    if parts.shape[0] == 0:
        return best
    for block_t, owner, starts in zip(blocks_t, owners, run_starts):
        rows = block_t.shape[1]
        if rows == 0:
            continue
        cos = np.concatenate([parts @ block_t[:, lo : lo + CHUNK_ROWS] for lo in range(0, rows, CHUNK_ROWS)], axis=1)
        total = cos[0].copy()
        for j in range(1, parts.shape[0]):
            shift = j * step
            if shift >= rows:
                break
            # Part j sits ``shift`` summaries later in the same song; past the song's end it adds 0.
            same = owner[shift:] == owner[:-shift]
            total[:-shift] += np.where(same, cos[j, shift:], 0.0)
        run_best = np.maximum.reduceat(total, starts)
        run_owner = owner[starts]
        np.maximum.at(best, run_owner, run_best)
        if best_rows is not None:
            lengths = np.diff(np.append(starts, rows))
            where_best = np.where(total == np.repeat(run_best, lengths), np.arange(rows), rows)
            best_rows[np.minimum(run_owner, n_songs - 1)] = np.minimum.reduceat(where_best, starts) - starts
    return best


def top(scores: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` best-scoring songs, best first."""
    if scores.size <= size:
        return np.argsort(-scores, kind="stable")
    chosen = np.argpartition(-scores, size - 1)[:size]
    return chosen[np.argsort(-scores[chosen], kind="stable")]
