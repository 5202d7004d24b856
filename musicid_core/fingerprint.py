"""Landmark fingerprints: the exact-recording check beside the CNN.

The CNN learns what each song *sounds like* and ranks well, but a per-song softmax cannot tell a
song it knows from music it never heard that sounds alike (benchmarks: at 0 dB it rejected only
about half of the non-enrolled songs). A query of a library song is, however, a noisy copy of
*that very recording*, and spectral-peak landmarks (Wang, "An Industrial-Strength Audio Search
Algorithm", ISMIR 2003; the scheme of Shazam and of Dan Ellis' audfprint) test exactly that: pairs
of spectral peaks hashed as (frequency, frequency difference, time difference) that recur in the
query at one consistent time offset can only come from the same recording. Random music gives a
handful of chance coincidences spread over many offsets; the right song gives dozens at one.

The index is built at training time from the library's songs (about 20 s for 57 songs, four hours
of audio, on a 2-core CPU) and
stored in the model bundle (``fingerprints.npz``), together with the songs' tonal profiles
(``musicid_core.tonal_profile``: the check that still works when no pair of peaks survives the
room); ``Recognizer`` combines both with the CNN (see ``recognizer``).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Protocol, Sequence

import numpy as np

from musicid_core import tonal_profile
from musicid_core.errors import ModelError
from musicid_core.tonal_profile import ProfileIndex, ProfileMatch, tonal_profiles

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256
"""11.6 ms frames: fine enough that reverb and codec framing move peaks by at most a frame."""
MIN_BIN, MAX_BIN = 7, 256
"""150 Hz .. 5.5 kHz: what survives a phone microphone's band limit and a low-bitrate codec."""
PEAK_FREQ_SPAN, PEAK_TIME_SPAN = 17, 13
"""A peak is the maximum of its 17-bin x 13-frame (370 Hz x 150 ms) neighbourhood."""
FRAMES_PER_BLOCK = round(SAMPLE_RATE / HOP)
"""Frames in the one-second blocks within which peaks are ranked."""
CHUNK_BLOCKS = 20
"""Seconds of audio analysed at once (see ``spectral_peaks``)."""
PEAKS_PER_SECOND = 60
"""Strongest peaks kept per second of a library song (density of the constellation)."""
QUERY_PEAKS_PER_SECOND = 60
"""Peaks kept per second of a query (the same density as the songs' measured best)."""
FAN_OUT = 10
"""Each anchor peak is paired with up to this many later peaks in its target zone."""
MAX_DT, MAX_DF = 63, 63
"""Target zone: up to 63 frames (0.73 s) later and 63 bins (1.4 kHz) away; fits the hash bits."""
MAX_PARTNER_LOOKAHEAD = 8 * FAN_OUT
"""Later peaks examined per anchor to find its ``FAN_OUT`` partners (peaks come ~60 a second)."""
ANCHOR_CHUNK = 4096
"""Anchors paired at once: bounds the temporary (anchors x lookahead) arrays to a few MB."""
QUERY_DT_JITTER = 1
"""A query's landmarks are also looked up with their time step this many frames off."""
HASH_SPACE = 1 << 21
"""8 bits of anchor bin, 7 of bin difference, 6 of time difference."""
OFFSET_TOLERANCE = 2
"""Matches whose time offsets differ by up to two frames count together (frame grid, reverb)."""
MATCH_SECONDS = 20.0
"""Longest stretch of a recording matched (its middle); see ``central_segment``."""
INDEX_FILE = "fingerprints.npz"
ANALYSIS_PARAMETERS = np.array([
    SAMPLE_RATE, N_FFT, HOP, MIN_BIN, MAX_BIN, PEAK_FREQ_SPAN, PEAK_TIME_SPAN, PEAKS_PER_SECOND, FAN_OUT, MAX_DT, MAX_DF,
    tonal_profile.BLOCK_FRAMES, tonal_profile.BLOCK_HOP, tonal_profile.ENVELOPE_BINS, int(tonal_profile.QUANTISATION),
], dtype=np.int64)
"""Everything a song's analysis (landmarks and tonal profiles) depends on. Stored with every
analysis (``song_index``) and every bundle's index (``FingerprintIndex.save``): one made with other
values is made again, never matched against recordings analysed with these."""


class StaleIndexError(ModelError):
    """A stored index made with other ``ANALYSIS_PARAMETERS`` (or before they were stored)."""


@dataclass(frozen=True)
class Landmarks:
    """Hashes and their frame times for one signal, in the order the peaks were paired."""

    hashes: np.ndarray  # uint32
    times: np.ndarray  # int32, frame of the anchor peak


def spectral_peaks(
    audio: np.ndarray, peaks_per_second: int, magnitude: Optional[np.ndarray] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(frame, bin) of the constellation: local maxima of the log spectrum, strongest first per second.

    The log spectrum is whitened per frequency (a median level removed) so a phone's frequency
    colouring and steady room hum do not decide which peaks survive. Long audio is analysed in
    ``CHUNK_BLOCKS``-second chunks (with a few frames of context for the neighbourhood test), so
    memory stays bounded for a song of any length (a 29-minute track's whole spectrogram is
    600 MB). The whitening level stays the whole song's median (``_median_level``): the peaks
    are sensitive to it, and whitening each chunk on its own, or by the median of the chunks'
    medians, changed a third of them and cost 2-8 points of top-1 on the benchmark. A query (at
    most ``MATCH_SECONDS``) is a single chunk, whose ``magnitude`` (``query_magnitude``) the
    caller may pass so that the tonal profiles reuse the same STFT."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size < N_FFT:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    total = 1 + (audio.size - N_FFT) // HOP
    chunk = CHUNK_BLOCKS * FRAMES_PER_BLOCK
    context = PEAK_TIME_SPAN // 2
    spans = []
    for first in range(0, total, chunk):
        last = min(first + chunk, total)
        spans.append((first, last, max(0, first - context), min(total, last + context)))

    def log_spectrum(lo: int, hi: int) -> np.ndarray:
        if magnitude is not None and len(spans) == 1:
            return np.log(np.maximum(magnitude[:, lo:hi], 1e-6))
        return _log_magnitude(audio[lo * HOP : (hi - 1) * HOP + N_FFT])

    level = None if len(spans) == 1 else _median_level(log_spectrum(f, l) for f, l, _, _ in spans)
    parts = []
    for first, last, lo, hi in spans:
        frames, bins = _chunk_peaks(log_spectrum(lo, hi), level, peaks_per_second, first - lo, last - lo)
        parts.append((frames + lo, bins))
    frames = np.concatenate([f for f, _ in parts])
    bins = np.concatenate([b for _, b in parts])
    order = np.lexsort((bins, frames))
    return frames[order].astype(np.int64), bins[order].astype(np.int64)


LEVEL_RANGE = (-14.0, 10.0)
"""Span of log magnitudes (natural log; the floor is log 1e-6) covered by ``_median_level``."""
LEVEL_STEP = 0.005


def _median_level(chunks: Iterable[np.ndarray]) -> np.ndarray:
    """Per-frequency median of log spectra given chunk by chunk, to ``LEVEL_STEP``: a running
    histogram per frequency (about 9 MB) instead of the whole spectrogram in memory."""
    low, high = LEVEL_RANGE
    n_levels = int(round((high - low) / LEVEL_STEP))
    histogram = np.zeros((MAX_BIN - MIN_BIN) * n_levels, dtype=np.int64)
    row_offsets = (np.arange(MAX_BIN - MIN_BIN) * n_levels)[:, np.newaxis]
    for log_mag in chunks:
        cells = np.clip(((log_mag - low) / LEVEL_STEP).astype(np.int64), 0, n_levels - 1) + row_offsets
        histogram += np.bincount(cells.ravel(), minlength=histogram.size)
    cumulative = np.cumsum(histogram.reshape(MAX_BIN - MIN_BIN, n_levels), axis=1)
    middle = np.argmax(cumulative >= (cumulative[:, -1:] + 1) / 2, axis=1)
    return (low + (middle + 0.5) * LEVEL_STEP).astype(np.float32)


def _magnitude(audio: np.ndarray) -> np.ndarray:
    import librosa

    return np.abs(librosa.stft(audio, n_fft=N_FFT, hop_length=HOP, center=False))[MIN_BIN:MAX_BIN]


def _log_magnitude(audio: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(_magnitude(audio), 1e-6))


def query_magnitude(audio: np.ndarray) -> Optional[np.ndarray]:
    """The |STFT| of a recording over the landmarks' frames and band, computed once and shared by
    the landmarks and the tonal profiles (the STFT was a third of a match's time when each took
    its own); None for audio shorter than one frame."""
    return _magnitude(np.asarray(audio, dtype=np.float32)) if np.size(audio) >= N_FFT else None


def power_spectrum(audio: np.ndarray) -> np.ndarray:
    """|STFT|^2 over the landmarks' frames and band (``musicid_core.tonal_profile`` shares them)."""
    return np.square(_magnitude(audio))


def _chunk_peaks(
    log_mag: np.ndarray, level: np.ndarray | None, peaks_per_second: int, first: int, last: int
) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of one chunk whose frames ``first..last`` (chunk-relative) are its own, the rest
    context. ``level``: the per-frequency whitening level (None: this chunk's median). Chunks
    start on a whole second, so "the strongest peaks of each second" never straddles two."""
    from scipy import ndimage

    log_mag = log_mag - (np.median(log_mag, axis=1) if level is None else level)[:, np.newaxis]
    local_max = ndimage.maximum_filter(log_mag, size=(PEAK_FREQ_SPAN, PEAK_TIME_SPAN), mode="constant", cval=-np.inf)
    is_peak = (log_mag == local_max) & (log_mag > 0.0)
    is_peak[:, :first] = False
    is_peak[:, last:] = False
    bins, frames = np.nonzero(is_peak)
    strength = log_mag[bins, frames]
    # Keep the strongest peaks of each one-second block: a fixed density whatever the loudness.
    block = (frames - first) // FRAMES_PER_BLOCK
    order = np.lexsort((-strength, block))
    bins, frames, block = bins[order], frames[order], block[order]
    rank = np.arange(block.size) - np.searchsorted(block, block, side="left")
    keep = rank < peaks_per_second
    return frames[keep], bins[keep] + MIN_BIN


def landmarks(audio: np.ndarray, peaks_per_second: int, magnitude: Optional[np.ndarray] = None) -> Landmarks:
    """Hash pairs of peaks: 8 bits anchor bin, 7 bits signed bin difference, 6 bits frame difference."""
    frames, bins = spectral_peaks(audio, peaks_per_second, magnitude)
    parts = [_pair_peaks(frames, bins, lo, min(lo + ANCHOR_CHUNK, frames.size)) for lo in range(0, frames.size, ANCHOR_CHUNK)]
    if not parts:
        return Landmarks(np.zeros(0, np.uint32), np.zeros(0, np.int32))
    return Landmarks(np.concatenate([h for h, _ in parts]), np.concatenate([t for _, t in parts]))


def _pair_peaks(frames: np.ndarray, bins: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks of anchors ``lo..hi``: each paired with its next ``FAN_OUT`` peaks in the target
    zone. Done a chunk of anchors at a time so a long song never needs a huge temporary grid."""
    anchors = np.arange(lo, hi)
    partners = anchors[:, None] + np.arange(1, MAX_PARTNER_LOOKAHEAD + 1)[None, :]
    inside = partners < frames.size
    partners = np.minimum(partners, frames.size - 1)
    dt = frames[partners] - frames[anchors, None]
    df = bins[partners] - bins[anchors, None]
    valid = inside & (dt > 0) & (dt <= MAX_DT) & (np.abs(df) <= MAX_DF)
    valid &= np.cumsum(valid, axis=1) <= FAN_OUT
    rows, cols = np.nonzero(valid)
    anchor_bins = bins[anchors[rows]]
    hashes = ((anchor_bins & 0xFF) << 13) | ((df[rows, cols] + 64) << 6) | dt[rows, cols]
    return hashes.astype(np.uint32), frames[anchors[rows]].astype(np.int32)


def with_time_jitter(marks: Landmarks, jitter: int = QUERY_DT_JITTER) -> Landmarks:
    """The query's landmarks plus copies with the time step one frame shorter and longer.

    Reverb, a codec's framing and noise move a peak's maximum by a frame, which changes the
    hash's time step and loses the landmark; looking the neighbours up too recovers them (on the
    benchmark: top-1 at 0 dB 87 -> 93 %) for three times the lookups."""
    hashes, times = [marks.hashes], [marks.times]
    dt = (marks.hashes & 0x3F).astype(np.int64)
    for d in range(-jitter, jitter + 1):
        if d == 0:
            continue
        shifted = dt + d
        ok = (shifted >= 1) & (shifted <= MAX_DT)
        hashes.append(((marks.hashes.astype(np.int64) & ~0x3F) | shifted)[ok].astype(np.uint32))
        times.append(marks.times[ok])
    return Landmarks(np.concatenate(hashes), np.concatenate(times))


def central_segment(audio: np.ndarray, seconds: float = MATCH_SECONDS) -> np.ndarray:
    """The middle ``seconds`` of a recording (all of a shorter one).

    Chance alignments grow with the length matched, and the verdict's margin is calibrated on
    recordings of at most this length; a song that is really playing gives ample evidence in it."""
    n = int(seconds * SAMPLE_RATE)
    if audio.size <= n:
        return audio
    start = (audio.size - n) // 2
    return audio[start : start + n]


@dataclass(frozen=True)
class QueryAnalysis:
    """What matching needs of a recording, independent of any library: its landmarks (before the
    time-step jitter) and its tonal profiles every ``QUERY_STRIDE`` song hops."""

    landmarks: Landmarks
    profiles: np.ndarray


def analyse_query(audio: np.ndarray) -> QueryAnalysis:
    """The middle ``MATCH_SECONDS`` of a recording, its STFT taken once for both checks."""
    from musicid_core.tonal_profile import BLOCK_HOP, QUERY_STRIDE

    segment = central_segment(np.asarray(audio, dtype=np.float32))
    magnitude = query_magnitude(segment)
    return QueryAnalysis(
        landmarks(segment, QUERY_PEAKS_PER_SECOND, magnitude), tonal_profiles(segment, BLOCK_HOP * QUERY_STRIDE, magnitude),
    )


@dataclass(frozen=True)
class FingerprintMatch:
    """How strongly the query's landmarks line up with each song: aligned hashes at the best offset."""

    counts: np.ndarray  # (n_songs,) int
    offsets: np.ndarray  # (n_songs,) frame offset of the best alignment
    query_hashes: int
    profiles: Optional[ProfileMatch] = None
    """The tonal-profile comparison of the same segment; None for indexes stored without profiles."""

    @property
    def best(self) -> int:
        return int(np.argmax(self.counts))

    @property
    def margin(self) -> int:
        """Aligned landmarks of the best song beyond the runner-up's: near zero when the recording
        is not in the index (chance alignments hit every song alike), dozens when it is."""
        if self.counts.size < 2:
            return int(self.counts.max(initial=0))
        top_two = np.partition(self.counts, -2)[-2:]
        return int(top_two[1] - top_two[0])


class RecordingMatcher(Protocol):
    """What recognition needs of an index of the library's recordings: ``FingerprintIndex`` (every
    song in memory) or ``shortlisted_index.ShortlistedIndex`` (a large library, from packs)."""

    n_songs: int

    def match(self, audio: np.ndarray) -> "FingerprintMatch": ...

    def match_query(self, query: "QueryAnalysis") -> "FingerprintMatch": ...


def aligned_counts(song: np.ndarray, offset: np.ndarray, n_songs: int) -> tuple[np.ndarray, np.ndarray]:
    """Each song's landmarks aligned at its best time offset, and that offset, from the
    (song, offset) of every hit (a query landmark meeting an index landmark with its hash).
    Offsets within ``OFFSET_TOLERANCE`` frames are pooled (frame grid, reverb)."""
    counts = np.zeros(n_songs, dtype=np.int64)
    offsets = np.zeros(n_songs, dtype=np.int64)
    if song.size == 0:
        return counts, offsets
    base = -int(offset.min()) + OFFSET_TOLERANCE + 1
    span = int(offset.max()) + base + OFFSET_TOLERANCE + 2
    key = song.astype(np.int64) * span + offset + base
    keys, key_counts = np.unique(key, return_counts=True)
    # Pool each offset with its neighbours within the tolerance. The keys are unique and sorted,
    # so a neighbour within the tolerance is at most that many places away; songs are ``span``
    # apart, so no two songs ever pool (two searchsorted passes did the same 5 ms slower).
    pooled = key_counts.copy()
    for d in range(1, OFFSET_TOLERANCE + 1):
        near = (keys[d:] - keys[:-d]) <= OFFSET_TOLERANCE
        pooled[d:] += np.where(near, key_counts[:-d], 0)
        pooled[:-d] += np.where(near, key_counts[d:], 0)
    # Each song's best offset (the first, at a tie): its keys form one contiguous run.
    key_song = keys // span
    run_starts = np.flatnonzero(np.r_[True, key_song[1:] != key_song[:-1]])
    run_of_key = np.repeat(np.arange(run_starts.size), np.diff(np.r_[run_starts, keys.size]))
    at_max = np.flatnonzero(pooled == np.maximum.reduceat(pooled, run_starts)[run_of_key])
    winners = at_max[np.unique(run_of_key[at_max], return_index=True)[1]]
    counts[key_song[winners]] = pooled[winners]
    offsets[key_song[winners]] = keys[winners] % span - base
    return counts, offsets


def match_song_runs(query: Landmarks, runs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """``aligned_counts`` of a query (with its time-step jitter) against a few songs, each given as
    its own landmarks (hashes, anchor frames): a large library's shortlisted songs, read from a
    memory-mapped store (``musicid_core.index_pack``) instead of one global table whose buckets
    grow with the library. Gives exactly the counts the global table gives for those songs.

    The query's hashes go into a table over the hash space (which hashes it has), and each song's
    landmarks are looked up there: one gather per song landmark from a 2-MB table that stays in
    cache, 3-4x faster than binary searches of the query's hashes in each song. Only the few
    hundred landmarks that hit are then placed in the query's sorted hashes by binary search
    (two hash-space tables of where each hash starts cost 1.6 ms per recording to clear, more
    than every song's search together). The table has one slot past the hash space that stays
    empty, so a damaged song hash outside it is clipped there and matches nothing."""
    order = np.argsort(query.hashes, kind="stable")
    q_hashes, q_times = query.hashes[order].astype(np.int64), query.times[order].astype(np.int64)
    if q_hashes.size and (q_hashes[-1] >= HASH_SPACE or q_hashes[0] < 0):
        raise ValueError("query hashes outside the hash space")
    present = np.zeros(HASH_SPACE + 1, dtype=bool)
    present[q_hashes] = True
    first = np.flatnonzero(np.r_[True, q_hashes[1:] != q_hashes[:-1]]) if q_hashes.size else np.zeros(0, np.int64)
    unique = q_hashes[first]
    run_length = np.diff(np.r_[first, q_hashes.size])
    songs, offsets = [], []
    for k, (hashes, times) in enumerate(runs):
        # ``take`` with clipping: 30 % faster than indexing with the packs' uint32 hashes.
        entries = np.flatnonzero(np.take(present, hashes, mode="clip"))
        if entries.size == 0:
            continue
        slot = np.searchsorted(unique, np.asarray(hashes[entries], dtype=np.int64))
        per_entry = run_length[slot]
        total = int(per_entry.sum())
        query_pos = np.repeat(first[slot] - np.cumsum(per_entry) + per_entry, per_entry) + np.arange(total)
        entry_times = np.asarray(times[entries], dtype=np.int64)
        offsets.append(np.repeat(entry_times, per_entry) - q_times[query_pos])
        songs.append(np.full(total, k, dtype=np.int64))
    if not songs:
        return np.zeros(len(runs), np.int64), np.zeros(len(runs), np.int64)
    return aligned_counts(np.concatenate(songs), np.concatenate(offsets), len(runs))


class FingerprintIndex:
    """All landmarks of the library, sorted by hash, with a table of where each hash starts, so a
    lookup is two array reads instead of a binary search (16 MB for the 2^21 hashes); and, for
    indexes built since they exist, the songs' tonal profiles (``musicid_core.tonal_profile``)."""

    def __init__(
        self, hashes: np.ndarray, songs: np.ndarray, times: np.ndarray, n_songs: int,
        profiles: Optional[ProfileIndex] = None,
    ) -> None:
        order = np.argsort(hashes, kind="stable")
        self.hashes = np.ascontiguousarray(hashes[order], dtype=np.uint32)
        self.songs = np.ascontiguousarray(songs[order], dtype=np.int32)
        self.times = np.ascontiguousarray(times[order], dtype=np.int32)
        self.n_songs = int(n_songs)
        self.profiles = profiles
        self._starts = np.searchsorted(self.hashes, np.arange(HASH_SPACE + 1, dtype=np.int64)).astype(np.int64)

    @classmethod
    def build(cls, songs_audio: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> "FingerprintIndex":
        """Index songs in output order (song ``i`` of the iterable is model output ``i``).

        Songs are analysed a few at a time on all cores (the STFT, filters and sorts release the
        GIL), and only that many are held in memory at once."""
        workers = max(1, min(4, os.cpu_count() or 1))
        all_h, all_s, all_t, all_p = [], [], [], []
        n = 0
        songs = iter(songs_audio)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            while True:
                batch = [np.asarray(audio, dtype=np.float32) for audio in itertools.islice(songs, workers)]
                if not batch:
                    break
                analysed = pool.map(lambda audio: (landmarks(audio, PEAKS_PER_SECOND), tonal_profiles(audio)), batch)
                for marks, profiles in analysed:
                    all_p.append(profiles)
                    all_h.append(marks.hashes)
                    all_t.append(marks.times)
                    all_s.append(np.full(marks.hashes.size, n, dtype=np.int32))
                    n += 1
                    if progress is not None:
                        progress(n)
        if n == 0:
            raise ValueError("no songs to index")
        return cls(np.concatenate(all_h), np.concatenate(all_s), np.concatenate(all_t), n, ProfileIndex.from_songs(all_p))

    def match(self, audio: np.ndarray) -> FingerprintMatch:
        """Landmarks and (when indexed) tonal profiles of the recording's middle ``MATCH_SECONDS``."""
        return self.match_query(analyse_query(audio))

    def match_query(self, query: "QueryAnalysis") -> FingerprintMatch:
        """``match`` for a recording analysed already (the calibration matches the same impostor
        recordings against every new library size)."""
        found = self.match_landmarks(with_time_jitter(query.landmarks))
        if self.profiles is None:
            return found
        return dataclasses.replace(found, profiles=self.profiles.match_profiles(query.profiles))

    def match_landmarks(self, query: Landmarks) -> FingerprintMatch:
        counts = np.zeros(self.n_songs, dtype=np.int64)
        offsets = np.zeros(self.n_songs, dtype=np.int64)
        if query.hashes.size == 0 or self.hashes.size == 0:
            return FingerprintMatch(counts, offsets, int(query.hashes.size))
        query_hashes = query.hashes.astype(np.int64)
        if query_hashes.max() >= HASH_SPACE:
            raise ValueError("query hashes outside the hash space")
        lo = self._starts[query_hashes]
        hits = self._starts[query_hashes + 1] - lo
        if hits.sum() == 0:
            return FingerprintMatch(counts, offsets, int(query.hashes.size))
        # Expand every (query landmark, index entry) pair with the same hash.
        query_of_hit = np.repeat(np.arange(query.hashes.size), hits)
        first = np.repeat(lo - np.cumsum(hits) + hits, hits)
        entry = first + np.arange(query_of_hit.size)
        song = self.songs[entry].astype(np.int64)
        offset = self.times[entry].astype(np.int64) - query.times[query_of_hit]
        counts, offsets = aligned_counts(song, offset, self.n_songs)
        return FingerprintMatch(counts, offsets, int(query.hashes.size))

    def save(self, path: Path) -> None:
        """Compressed: sorted hashes and small song numbers pack well (about a third of raw size)."""
        songs = self.songs.astype(np.uint16) if self.n_songs <= np.iinfo(np.uint16).max else self.songs
        extra = self.profiles.arrays() if self.profiles is not None else {}
        with open(path, "wb") as f:
            np.savez_compressed(f, hashes=self.hashes, songs=songs, times=self.times, n_songs=np.array([self.n_songs]),
                                parameters=ANALYSIS_PARAMETERS, **extra)

    @classmethod
    def load(cls, path: Path, n_songs: int) -> "FingerprintIndex":
        """Load an index without pickles; refuse one that does not fit the bundle's labels, and one
        made with other analysis parameters (``StaleIndexError``: its songs must be analysed again)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                parameters = data["parameters"] if "parameters" in data.files else None
                if parameters is None or not np.array_equal(parameters, ANALYSIS_PARAMETERS):
                    raise StaleIndexError(f"{path.name} was made by another version's song analysis")
                hashes, songs, times = data["hashes"], data["songs"], data["times"]
                stored = int(data["n_songs"][0])
                profile_arrays = (data["profiles"], data["profile_song_starts"]) if "profiles" in data.files else None
        except (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelError(f"{path.name} cannot be read ({str(exc)[:120]})") from None
        if stored != n_songs or not (hashes.shape == songs.shape == times.shape) or hashes.ndim != 1:
            raise ModelError(f"{path.name} does not fit the model's {n_songs} songs")
        if not all(np.issubdtype(a.dtype, np.integer) for a in (hashes, songs, times)):
            raise ModelError(f"{path.name} holds non-integer landmarks")
        if songs.size and (songs.min() < 0 or songs.max() >= n_songs):
            raise ModelError(f"{path.name} refers to songs the model does not have")
        profiles = ProfileIndex.from_arrays(*profile_arrays, n_songs, path.name) if profile_arrays else None
        return cls(hashes, songs, times, n_songs, profiles)
