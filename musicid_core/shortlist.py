"""The shortlist: which few songs of a large library are worth the exact checks.

The exact checks (aligned landmarks, aligned tonal profiles) cost time in proportion to the songs
they are run on. For a large library a recording is first compared with *summaries* of every
song: its tonal profiles (``musicid_core.tonal_profile``) averaged over ``SUMMARY_BLOCKS`` (5 s)
every ``SUMMARY_HOP`` (1 s), projected on ``BASIS_DIMS`` principal directions and unit-normed.
The recording's own profiles are averaged in ``QUERY_PARTS`` consecutive parts, and a song scores
its best sum of the parts' cosines with summaries as far apart in the song as the parts are in
the recording. Averaging keeps which partials a stretch of music holds and lets a room's noise,
which moves from block to block, average out; four aligned parts keep enough of the music's order
to tell apart songs with the same harmony (tuning side, 10,000 songs, 0 dB: the right song was
in the best 30 for 88 % of recordings with four 32-dimension parts, 80 % with two of 64
dimensions, 65 % with one; measured with ``/work``'s prototype of ``benchmarks.scale``).

Summaries are stored in the packs (float32, 128 bytes per second of music); the basis
(``resources/shortlist_basis.npy``, fitted by ``python -m training.shortlist_basis`` on the tuning
side's songs only) is fixed, so a library's summaries never need remaking while it holds.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Sequence

import numpy as np

from musicid_core.resources import resources_dir
from musicid_core.tonal_profile import QUANTISATION, QUERY_STRIDE

SUMMARY_BLOCKS = 16
"""Song profiles (every 0.25 s) averaged into one summary: 4 s."""
SUMMARY_HOP = 4
"""A summary every second of song."""
QUERY_PARTS = 4
"""A recording's profiles are averaged in this many consecutive parts (2.5 s each for 10 s)."""
BASIS_DIMS = 32
"""Principal directions of profile summaries kept, of 249 bins: the summaries of 10,000 songs
take about 170 MB and a recording's product reads them in tens of milliseconds."""
BASIS_FILE = "shortlist_basis.npy"
FIRST_STAGE = 60
"""Songs the summaries pass on to the exact profile check."""
SECOND_STAGE = 30
"""Songs, best by exact profile similarity, whose landmarks are matched too."""
CHUNK_ROWS = 1 << 18
"""Summaries multiplied at once (read from the memory-mapped packs a chunk at a time)."""


@functools.lru_cache(maxsize=1)
def basis() -> np.ndarray:
    """(249, BASIS_DIMS) float32 projection of a summary; shipped with the program."""
    data = np.load(resources_dir() / BASIS_FILE, allow_pickle=False)
    if data.ndim != 2 or data.shape[1] != BASIS_DIMS or not np.all(np.isfinite(data)):
        raise ValueError(f"{BASIS_FILE} is not a {BASIS_DIMS}-column basis")
    return data.astype(np.float32)


def basis_id() -> int:
    """A number that changes with the basis: packs made with another one are remade."""
    return int(hashlib.sha256(basis().tobytes()).hexdigest()[:7], 16)


def _project(means: np.ndarray) -> np.ndarray:
    means = means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-9)
    reduced = means @ basis()
    return reduced / (np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-9)


def song_summaries(profiles: np.ndarray) -> np.ndarray:
    """(summaries, BASIS_DIMS) float32 of a song's int8 profile rows (value x ``QUANTISATION``);
    one for a song shorter than ``SUMMARY_BLOCKS``, none for a song without profiles."""
    rows = np.asarray(profiles, dtype=np.float32) / QUANTISATION
    n = rows.shape[0]
    if n == 0:
        return np.zeros((0, BASIS_DIMS), np.float32)
    running = np.concatenate([np.zeros((1, rows.shape[1]), np.float32), np.cumsum(rows, axis=0, dtype=np.float32)])
    starts = np.arange(0, max(1, n - SUMMARY_BLOCKS + 1), SUMMARY_HOP)
    sums = running[np.minimum(starts + SUMMARY_BLOCKS, n)] - running[starts]
    return _project(sums).astype(np.float32)


def query_parts(query_profiles: np.ndarray) -> tuple[np.ndarray, int]:
    """The recording's parts, projected: ((parts, BASIS_DIMS), summaries between two parts' starts).
    A recording with fewer profiles than parts is one part."""
    q = np.asarray(query_profiles, dtype=np.float32)
    if q.shape[0] == 0:
        return np.zeros((0, BASIS_DIMS), np.float32), 0
    parts = min(QUERY_PARTS, q.shape[0])
    per = q.shape[0] // parts
    means = np.stack([q[j * per : (j + 1) * per].mean(axis=0) for j in range(parts)])
    # A query profile spans QUERY_STRIDE song hops; a summary starts every SUMMARY_HOP hops.
    step = max(1, int(round(per * QUERY_STRIDE / SUMMARY_HOP)))
    return _project(means), step


def summary_scores(
    query_profiles: np.ndarray, blocks: Sequence[np.ndarray], owners: Sequence[np.ndarray],
    run_starts: Sequence[np.ndarray], n_songs: int,
) -> np.ndarray:
    """Each song's best aligned sum of part cosines (module docstring). ``blocks[j]``: summaries
    whose rows belong to the songs ``owners[j]`` (one int per row); a song's rows are consecutive
    and in order, and ``run_starts[j]`` are the rows where each run of one owner begins. Songs
    without summaries score -inf."""
    best = np.full(n_songs, -np.inf, np.float32)
    parts, step = query_parts(query_profiles)
    if parts.shape[0] == 0:
        return best
    for block, owner, starts in zip(blocks, owners, run_starts):
        rows = block.shape[0]
        if rows == 0:
            continue
        cos = np.concatenate([block[lo : lo + CHUNK_ROWS] @ parts.T for lo in range(0, rows, CHUNK_ROWS)])
        total = cos[:, 0].copy()
        for j in range(1, parts.shape[0]):
            shift = j * step
            if shift >= rows:
                break
            # Part j sits ``shift`` summaries later in the same song; past the song's end it adds 0.
            same = owner[shift:] == owner[:-shift]
            total[:-shift] += np.where(same, cos[shift:, j], 0.0)
        run_best = np.maximum.reduceat(total, starts)
        run_owner = owner[starts]
        np.maximum.at(best, run_owner, run_best)
    return best


def top(scores: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` best-scoring songs, best first."""
    if scores.size <= size:
        return np.argsort(-scores, kind="stable")
    chosen = np.argpartition(-scores, size - 1)[:size]
    return chosen[np.argsort(-scores[chosen], kind="stable")]
