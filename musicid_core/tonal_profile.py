"""Tonal profiles: the aligned-spectrum check that survives where landmarks do not.

Landmarks (``musicid_core.fingerprint``) need two spectral peaks of the recording to survive the
room together. Under loud chatter at 0 dB, most failing benchmark queries were sustained music
(pads, held chords): its partials are horizontal lines whose local maxima fall wherever the noise
puts them, so no peak pair survives and the aligned landmark count sat at chance level. The lines
themselves are still there. A tonal profile keeps exactly them: the power spectrum averaged over
a quarter second (``BLOCK_FRAMES``), with its smooth envelope (a local mean of the log power over
``ENVELOPE_BINS``) removed, so what remains is which partials stand out, not how loud or how
coloured the room is. Each block is a unit vector; a recording is compared with every song at
every block offset by the mean cosine of its aligned blocks (one matrix product over the whole
library).

On the older 57-song benchmark (10-s queries, 0 dB, reverb, phone band, codec) the profile alone,
with half-second blocks, put the right song first in 98 % of queries (landmarks alone: 93 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import ndimage

from musicid_core.errors import ModelError

BLOCK_FRAMES = 20
"""STFT frames (1024/256 at 22050 Hz, the landmarks' frames) averaged into one profile: about a
quarter second, a note. Half a second (44 frames, before the eleventh session) averages a
melody's successive notes together, which more songs resemble; 12 frames separated worse again
(too little of each note left above the noise). Chosen with ``ENVELOPE_BINS`` and ``QUERY_STRIDE``
on the tuning side of ``benchmarks.by_source``, network-free (``benchmarks.profile_shapes``;
``benchmarks/RESULTS.md``, "Eleventh session")."""
BLOCK_HOP = 22
"""Songs' profiles every quarter second: a recording's blocks fall at most 1/8 s off a song's."""
QUERY_STRIDE = 1
"""A recording's profiles are taken every ``QUERY_STRIDE`` song hops: every quarter second, so
its blocks cover nearly all of it. With half-second blocks every other hop (2) tiled a recording
at half the matching work; blocks of ``BLOCK_FRAMES`` every other hop would leave half of it unheard."""
QUERY_STEADY_SHARE = 0.4
"""Share of a recording's mean profile taken out of each of its profiles (``without_steady_part``).
Chosen on the tuning side of ``benchmarks.by_source`` (0.3-0.5 within a point; 1.0 worse than none)."""
GAP_BLOCKS = 128
"""Zero profiles between songs in memory, so a recording laid over a song's end meets silence
instead of the next song: recordings are compared on at most their middle 128 song hops (32 s;
the recogniser passes at most 20 s)."""
ENVELOPE_BINS = 17
"""Width (bins, 21.5 Hz each, so 365 Hz) of the local mean removed: wider than a partial and than
the spacing of a low note's partials, narrower than a formant. Measured with the blocks above:
9 bins (before the eleventh session) separated worse, 13-25 alike, 31 worse."""
QUANTISATION = 256.0
"""Profiles are stored as int8 of value x 256 (components of a unit vector over 249 bins rarely
exceed 0.3; the step of 0.004 changes no score by more than rounding)."""
CHUNK_BLOCKS = 80
"""Blocks computed at once (20 s): a long song's spectrum is never held whole."""


def tonal_profiles(audio: np.ndarray, hop: int = BLOCK_HOP, magnitude: Optional[np.ndarray] = None) -> np.ndarray:
    """(blocks, bins) unit-norm profiles every ``hop`` frames of a mono 22050-Hz signal; no rows
    when it is shorter than one block. ``magnitude``: the signal's |STFT| when the caller has it
    (``fingerprint.query_magnitude``), used when the profiles fit in one chunk."""
    from musicid_core.fingerprint import HOP, MAX_BIN, MIN_BIN, N_FFT, power_spectrum

    audio = np.asarray(audio, dtype=np.float32)
    frames = 0 if audio.size < N_FFT else 1 + (audio.size - N_FFT) // HOP
    blocks = 0 if frames < BLOCK_FRAMES else 1 + (frames - BLOCK_FRAMES) // hop
    parts = [np.zeros((0, MAX_BIN - MIN_BIN), np.float32)]
    if magnitude is not None and 0 < blocks <= CHUNK_BLOCKS:
        return _block_profiles(np.square(magnitude), blocks, hop)
    for first in range(0, blocks, CHUNK_BLOCKS):
        count = min(CHUNK_BLOCKS, blocks - first)
        lo = first * hop
        hi = lo + (count - 1) * hop + BLOCK_FRAMES
        parts.append(_block_profiles(power_spectrum(audio[lo * HOP : (hi - 1) * HOP + N_FFT]), count, hop))
    return np.concatenate(parts)


def without_steady_part(query: np.ndarray) -> np.ndarray:
    """A recording's profiles with ``QUERY_STEADY_SHARE`` of their mean taken out, each made a
    unit vector again: what the matching compares with the songs' profiles.

    What stays in every block of a recording is mostly not the song: a hum's harmonics, a fan's
    tone, the phone's and the room's narrow resonances; it lines up with every song's partials at
    those bins alike. Taking part of the recording's mean profile out (as speech recognisers take
    the mean cepstrum out) leaves what changes as the music moves. Only part: the song's own held
    notes are in that mean too, and taking all of it out ranked worse than taking none. The songs'
    profiles are unchanged (a song is minutes of changing music; its mean is not a room's), and so
    is the recording's analysis, which the shortlist summarises (``musicid_core.shortlist``). On
    the tuning side of ``benchmarks.by_source`` (network-free, 570 enrolled recordings) the share
    of right songs ranked first by a lead above 95 % of unknown recordings' rose 84.7 -> 89.3 %."""
    query = np.asarray(query, dtype=np.float32)
    if query.shape[0] < 2:
        return query
    moving = query - QUERY_STEADY_SHARE * query.mean(axis=0, keepdims=True)
    moving /= np.linalg.norm(moving, axis=1, keepdims=True) + 1e-9
    moving[~query.any(axis=1)] = 0.0  # a silent block stays silent, it does not become "minus the mean"
    return moving


def _block_profiles(power: np.ndarray, count: int, hop: int = BLOCK_HOP) -> np.ndarray:
    running = np.concatenate([np.zeros((power.shape[0], 1)), np.cumsum(power, axis=1, dtype=np.float64)], axis=1)
    starts = np.arange(count) * hop
    log_power = np.log((running[:, starts + BLOCK_FRAMES] - running[:, starts]) / BLOCK_FRAMES + 1e-10)
    contrast = log_power - ndimage.uniform_filter1d(log_power, ENVELOPE_BINS, axis=0, mode="nearest")
    contrast -= contrast.mean(axis=0, keepdims=True)
    contrast /= np.linalg.norm(contrast, axis=0, keepdims=True) + 1e-9
    return contrast.T.astype(np.float32)


@dataclass(frozen=True)
class ProfileMatch:
    """Each song's best mean cosine between the recording's profiles and its own, aligned."""

    similarity: np.ndarray  # (n_songs,) float

    @property
    def best(self) -> int:
        return int(np.argmax(self.similarity))

    @property
    def margin(self) -> float:
        """Best song's similarity beyond the runner-up's: foreign music resembles several songs
        about equally (under 0.07 on the benchmark), a song that is playing stands out."""
        if self.similarity.size < 2:
            return float(self.similarity.max(initial=0.0))
        top_two = np.partition(self.similarity, -2)[-2:]
        return float(top_two[1] - top_two[0])


def longest_query(query: np.ndarray) -> np.ndarray:
    """At most the middle ``GAP_BLOCKS / QUERY_STRIDE`` blocks of a query (what the gaps allow)."""
    longest = GAP_BLOCKS // QUERY_STRIDE
    if query.shape[0] > longest:
        first = (query.shape[0] - longest) // 2
        query = query[first : first + longest]
    return query


def match_song_profiles(query: np.ndarray, songs: Sequence[np.ndarray], starts: Optional[Sequence[int]] = None) -> np.ndarray:
    """``ProfileIndex.match_profiles``' similarity of a query to a few songs, each given as its own
    int8 profile rows (value x ``QUANTISATION``, as stored): a large library's shortlisted songs,
    read from a memory-mapped store (``musicid_core.index_pack``) instead of a matrix of every song
    in memory. Same score: the best start's mean cosine (``without_steady_part``), blocks past the
    song's end adding 0.
    ``starts``: per song, how many of its first rows may be a start (the rows given are then a
    window of the song, and a start must find every block it lays the recording on)."""
    query = without_steady_part(longest_query(np.asarray(query, dtype=np.float32)))
    n_query = query.shape[0]
    similarity = np.zeros(len(songs))
    if n_query == 0:
        return similarity
    column = np.arange(n_query)
    lag = QUERY_STRIDE * column
    for k, rows in enumerate(songs):
        if rows.shape[0] == 0 or rows.shape[1] != query.shape[1]:
            continue
        products = np.zeros((rows.shape[0] + lag[-1], n_query), np.float32)  # zero rows: past the song's end
        products[: rows.shape[0]] = np.asarray(rows, dtype=np.float32) @ query.T
        # Start s scores sum_r products[s + QUERY_STRIDE * r, r], gathered in one go.
        count = rows.shape[0] if starts is None else max(1, min(rows.shape[0], int(starts[k])))
        total = products[np.arange(count)[:, None] + lag[None, :], column[None, :]].sum(axis=1)
        similarity[k] = float(total.max()) / (n_query * QUANTISATION)
    return similarity


class ProfileIndex:
    """Every song's profiles (song ``i`` = model output ``i``), kept in memory as float32 for the
    matrix product, with ``GAP_BLOCKS`` zero rows after each song (about 1 MB per 4 minutes of
    song). Stored transposed, (bins, rows): the product streams the whole matrix from memory once
    per recording, and reading it contiguously made it 1.6x faster (12 -> 7 ms for 57 songs)."""

    def __init__(self, profiles: np.ndarray, song_starts: np.ndarray) -> None:
        song_starts = np.asarray(song_starts, dtype=np.int64)
        self.n_songs = song_starts.size - 1
        self.bins = profiles.shape[1]
        lengths = np.diff(song_starts)
        # Song k's rows sit at padded_starts[k] .. padded_starts[k] + lengths[k], zeros follow.
        self.padded_starts = np.concatenate([[0], np.cumsum(lengths + GAP_BLOCKS)])[:-1]
        self.lengths = lengths
        self._padded_t = np.zeros((self.bins, int(lengths.sum()) + GAP_BLOCKS * self.n_songs), np.float32)
        for k in range(self.n_songs):
            rows = profiles[song_starts[k] : song_starts[k + 1]]
            self._padded_t[:, self.padded_starts[k] : self.padded_starts[k] + lengths[k]] = rows.T

    @classmethod
    def from_songs(cls, per_song: list[np.ndarray]) -> "ProfileIndex":
        starts = np.concatenate([[0], np.cumsum([p.shape[0] for p in per_song])])
        return cls(np.concatenate(per_song), starts)

    @property
    def blocks(self) -> int:
        return int(self.lengths.sum())

    def match(self, audio: np.ndarray, magnitude: Optional[np.ndarray] = None) -> ProfileMatch:
        """Similarity of a recording (the caller passes the segment to match, and its |STFT| when
        it has it) to every song."""
        return self.match_profiles(tonal_profiles(audio, BLOCK_HOP * QUERY_STRIDE, magnitude))

    def match_profiles(self, query: np.ndarray) -> ProfileMatch:
        """``query``: profiles every ``QUERY_STRIDE`` song hops. Each song's score is its best
        offset's mean cosine over the query's blocks (``without_steady_part``); blocks laid past a
        song's end meet the zero rows and add nothing, so a song shorter than the recording is
        scored on their overlap."""
        similarity = np.zeros(self.n_songs)
        query = without_steady_part(longest_query(query))
        n_query = query.shape[0]
        if n_query == 0 or self.blocks == 0 or query.shape[1] != self.bins:
            return ProfileMatch(similarity)
        products = query @ self._padded_t  # (query blocks, padded library rows)
        total = products[0].copy()
        for r in range(1, n_query):
            shift = QUERY_STRIDE * r
            total[:-shift] += products[r, shift:]
        total /= n_query
        # Each song's best start among its own rows (a start in the gap would overlap the next song).
        nonempty = self.lengths > 0
        bounds = np.stack([self.padded_starts, self.padded_starts + self.lengths], axis=1)[nonempty].ravel()
        similarity[nonempty] = np.maximum.reduceat(total, bounds)[::2]
        return ProfileMatch(similarity)

    def unpadded(self) -> tuple[np.ndarray, np.ndarray]:
        """(profiles of all songs one after another, song start rows): the stored form."""
        rows = [self._padded_t[:, s : s + n].T for s, n in zip(self.padded_starts, self.lengths)]
        starts = np.concatenate([[0], np.cumsum(self.lengths)])
        return (np.concatenate(rows) if rows else np.zeros((0, self.bins), np.float32)), starts

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``fingerprints.npz`` stores: int8 profiles (a quarter of float32) and song starts."""
        profiles, starts = self.unpadded()
        quantised = np.clip(np.round(profiles * QUANTISATION), -127, 127).astype(np.int8)
        return {"profiles": quantised, "profile_song_starts": starts}

    @classmethod
    def from_arrays(cls, profiles: np.ndarray, song_starts: np.ndarray, n_songs: int, name: str) -> "ProfileIndex":
        """Rebuild from stored arrays, refusing any that do not describe ``n_songs`` songs."""
        if profiles.dtype != np.int8 or profiles.ndim != 2 or song_starts.ndim != 1:
            raise ModelError(f"{name} holds tonal profiles of the wrong type or shape")
        if not np.issubdtype(song_starts.dtype, np.integer) or song_starts.size != n_songs + 1:
            raise ModelError(f"{name} holds tonal profiles for another number of songs")
        if song_starts[0] != 0 or song_starts[-1] != profiles.shape[0] or np.any(np.diff(song_starts) < 0):
            raise ModelError(f"{name} holds inconsistent tonal profile offsets")
        return cls(profiles.astype(np.float32) / QUANTISATION, song_starts)
