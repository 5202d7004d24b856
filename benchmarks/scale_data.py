"""The songs, distractors and recordings of the library-size benchmark (``benchmarks.scale``).

Real songs: every track of the allowed packages (``benchmarks.corpus``), analysed with the
product's own ``song_index.analyse`` and cached (``<cache>/scale/analyses``). Two sides, as in
``benchmarks.by_source``: the *tuning* side's songs (Wesnoth, Drascula, Planet Blupi; unknown:
HyperRogue) and noise may be used to choose a constant; the *held-out* side's (UFO:AI; unknown:
Hedgewars, asc-music, fb-music-high) never are. Both sides' enrolled songs are in every library.

Distractors: a library of 10,000 songs needs more music than the packages hold (about 300 tracks).
A distractor is a real enrolled song's recording pitch shifted by ±1…±6 semitones and its tempo
changed by ±5…20 %: a distinct recording for the landmarks and the profiles, harder than a real
stranger because it keeps the original's timbre and harmony. ``derived_analysis`` makes its index
entry from the real song's analysis (frequencies scaled, times stretched), which is what lets the
benchmark reach sizes no session could enrol; ``sox_distractor`` makes the real recording, for the
sizes that are enrolled for real. The benchmark's table says which sizes were simulated.
"""

from __future__ import annotations

import hashlib
import itertools
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from benchmarks.common import bench_cache, negative_song_ids
from benchmarks.corpus import HELD_OUT_SONG_PACKAGES, SONG_PACKAGES, SongFile, ensure_corpus
from musicid_core import fingerprint
from musicid_core.fingerprint import Landmarks
from musicid_core.song_index import SongAnalysis, analyse
from musicid_core.tonal_profile import QUANTISATION

SR = 22050
TUNING_ENROLLED = ("wesnoth-1.16-music", "drascula-music", "planetblupi-music-ogg")
TUNING_UNKNOWN = ("hyperrogue-music",)
HELD_OUT_ENROLLED = ("ufoai-music",)
HELD_OUT_UNKNOWN = ("hedgewars-data", "asc-music", "fb-music-high")
SEMITONES = tuple(s for s in range(-6, 7) if s != 0)
TEMPI = (0.80, 0.85, 0.90, 0.95, 1.05, 1.10, 1.15, 1.20)
"""Distractor variants: every (semitones, tempo) pair, 96 per real song."""
VARIANT_COUNT = len(SEMITONES) * len(TEMPI)


@dataclass(frozen=True)
class ScaleSongs:
    enrolled: list[SongFile]
    """Real songs in every library, tuning side first."""
    unknown: list[SongFile]
    side: dict[str, str]
    """song_id -> "tuning" | "held-out"."""


def scale_songs() -> ScaleSongs:
    corpus = ensure_corpus(None, SONG_PACKAGES + HELD_OUT_SONG_PACKAGES)
    negatives = negative_song_ids()
    usable = sorted((s for s in corpus.songs if s.song_id not in negatives), key=lambda s: s.song_id)
    side = {}
    for song in usable:
        side[song.song_id] = "tuning" if song.package in TUNING_ENROLLED + TUNING_UNKNOWN else "held-out"
    enrolled = [s for s in usable if s.package in TUNING_ENROLLED] + [s for s in usable if s.package in HELD_OUT_ENROLLED]
    unknown = [s for s in usable if s.package in TUNING_UNKNOWN + HELD_OUT_UNKNOWN]
    return ScaleSongs(enrolled, unknown, side)


def _cache_dir(*parts: str) -> Path:
    path = bench_cache().joinpath("scale", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def analysis_key() -> str:
    """Names what the cached analyses were made with: another analysis is another cache."""
    from musicid_core.song_index import ANALYSIS_PARAMETERS, QUERY_ANALYSIS_PARAMETERS

    return _key(f"{ANALYSIS_PARAMETERS.tolist()} {QUERY_ANALYSIS_PARAMETERS}")


def song_audio(song: SongFile) -> np.ndarray:
    from musicid_core.audio.decode import load_audio

    return load_audio(song.path, sample_rate=SR)


def real_analysis(song: SongFile) -> SongAnalysis:
    """The product's analysis of a real song (cached)."""
    path = _cache_dir(f"analyses-{analysis_key()}") / f"{_key(song.song_id)}.npz"
    if path.is_file():
        with np.load(path) as data:
            return SongAnalysis(Landmarks(data["hashes"], data["times"]), data["profiles"])
    analysis = analyse(song_audio(song))
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, hashes=analysis.landmarks.hashes, times=analysis.landmarks.times, profiles=analysis.profiles)
    tmp.replace(path)
    return analysis


def variants(seed: int = 0) -> Iterator[tuple[int, float]]:
    """(semitones, tempo) pairs in a seeded order, cycling."""
    pairs = list(itertools.product(SEMITONES, TEMPI))
    np.random.default_rng(seed).shuffle(pairs)
    return itertools.cycle(pairs)


def derived_analysis(analysis: SongAnalysis, semitones: int, tempo: float) -> SongAnalysis:
    """The index entry of ``analysis``'s song pitch shifted by ``semitones`` and played at
    ``tempo`` (1.1: 10 % faster, so 10 % shorter), made from the analysis itself: every landmark's
    frequencies scaled by 2^(semitones/12) and its times by 1/tempo, dropping those that leave the
    band or the target zone; every tonal profile resampled the same way along frequency and time,
    then unit-normed again. Same arrays, same code path as an enrolled song's."""
    f = 2.0 ** (semitones / 12.0)
    h = analysis.landmarks.hashes.astype(np.int64)
    anchor = (h >> 13) & 0xFF
    df = ((h >> 6) & 0x7F) - 64
    dt = h & 0x3F
    new_anchor = np.round(anchor * f).astype(np.int64)
    new_df = np.round(df * f).astype(np.int64)
    new_dt = np.round(dt / tempo).astype(np.int64)
    new_time = np.round(analysis.landmarks.times / tempo).astype(np.int64)
    partner = new_anchor + new_df
    ok = ((new_anchor >= fingerprint.MIN_BIN) & (new_anchor < fingerprint.MAX_BIN) & (np.abs(new_df) <= fingerprint.MAX_DF)
          & (partner >= fingerprint.MIN_BIN) & (partner < fingerprint.MAX_BIN) & (new_dt >= 1) & (new_dt <= fingerprint.MAX_DT))
    hashes = ((new_anchor[ok] & 0xFF) << 13) | ((new_df[ok] + 64) << 6) | new_dt[ok]
    order = np.argsort(new_time[ok], kind="stable")
    marks = Landmarks(hashes[order].astype(np.uint32), new_time[ok][order].astype(np.int32))

    profiles = analysis.profiles.astype(np.float32) / QUANTISATION
    blocks = profiles.shape[0]
    new_blocks = max(0, int(np.floor((blocks - 1) / tempo)) + 1) if blocks else 0
    src = np.minimum(np.arange(new_blocks) * tempo, max(blocks - 1, 0))
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, blocks - 1)
    w = (src - lo)[:, None].astype(np.float32)
    stretched = profiles[lo] * (1 - w) + profiles[hi] * w if new_blocks else profiles[:0]
    bins = np.arange(fingerprint.MIN_BIN, fingerprint.MAX_BIN)
    source_bin = bins / f - fingerprint.MIN_BIN
    inside = (source_bin >= 0) & (source_bin <= bins.size - 1)
    b_lo = np.clip(np.floor(source_bin).astype(np.int64), 0, bins.size - 1)
    b_hi = np.minimum(b_lo + 1, bins.size - 1)
    bw = np.clip(source_bin - b_lo, 0, 1).astype(np.float32)
    shifted = (stretched[:, b_lo] * (1 - bw) + stretched[:, b_hi] * bw) * inside
    shifted -= shifted.mean(axis=1, keepdims=True)
    shifted /= np.linalg.norm(shifted, axis=1, keepdims=True) + 1e-9
    quantised = np.clip(np.round(shifted * QUANTISATION), -127, 127).astype(np.int8)
    return SongAnalysis(marks, quantised)


def sox_distractor(audio: np.ndarray, semitones: int, tempo: float) -> np.ndarray:
    """The real recording of a distractor: ``audio`` through sox's pitch and tempo effects."""
    import subprocess

    import soundfile as sf
    import io

    buffer = io.BytesIO()
    sf.write(buffer, audio, SR, format="WAV", subtype="FLOAT")
    out = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "wav", "-e", "floating-point", "-", "pitch", str(100 * semitones), "tempo", "-m", str(tempo)],
        input=buffer.getvalue(), capture_output=True, check=True,
    ).stdout
    return sf.read(io.BytesIO(out), dtype="float32")[0]


def seed_of(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def noise_for(side: str) -> list[np.ndarray]:
    """The side's room noise (``benchmarks.by_source``'s split of the synthesized sources)."""
    from benchmarks.room_noise import source_clips
    from musicid_core.audio.decode import load_audio

    sources = {
        "tuning": ("babble-pl-sv-cs", "cutlery-steel", "traffic-street", "hvac-50hz", "tv-news-en"),
        "held-out": ("babble-ru-pt-tr-fi", "dishes-ceramic", "traffic-highway", "hvac-60hz", "tv-drama-el-hu"),
    }[side]
    files = [p for source in sources for p in source_clips(source, bench_cache() / "room-noise")]
    return [load_audio(p, sample_rate=SR) for p in files]


@dataclass(frozen=True)
class Recording:
    song_id: Optional[str]
    """None for a song that is not in the library."""
    side: str
    snr_db: int
    audio: np.ndarray


def recordings(songs: ScaleSongs, per_side: int, unknown_per_side: int, snrs: tuple[int, ...], seconds: float = 10.0) -> list[Recording]:
    """10-s phone recordings in a room (``benchmarks.simulate``) of ``per_side`` enrolled songs and
    ``unknown_per_side`` unknown ones per side, at every SNR (cached)."""
    from benchmarks.simulate import resample, simulate_recording

    name = f"rec-{per_side}-{unknown_per_side}-{'_'.join(map(str, snrs))}-{seconds:g}.npz"
    path = _cache_dir() / name
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            meta = data["meta"]
            return [Recording(None if m[0] == "" else str(m[0]), str(m[1]), int(m[2]), data[f"a{i}"]) for i, m in enumerate(meta)]
    n = int(seconds * SR)
    out: list[Recording] = []
    for side in ("tuning", "held-out"):
        noise = noise_for(side)
        rng = np.random.default_rng(seed_of("pick", side))
        enrolled = [s for s in songs.enrolled if songs.side[s.song_id] == side]
        unknown = [s for s in songs.unknown if songs.side[s.song_id] == side]
        picks = [(s, True) for s in rng.permutation(np.array(enrolled, dtype=object))[:per_side]]
        picks += [(s, False) for s in rng.permutation(np.array(unknown, dtype=object))[:unknown_per_side]]
        for song, known in picks:
            audio = song_audio(song)
            r = np.random.default_rng(seed_of("offset", song.song_id))
            start = int(r.integers(0, max(1, audio.size - n)))
            clean = audio[start : start + n]
            for snr in snrs:
                noisy, rate = simulate_recording(clean, SR, noise, float(snr), np.random.default_rng(seed_of(song.song_id, snr)))
                back = resample(noisy.astype(np.float64), rate, SR)[:n].astype(np.float32)
                out.append(Recording(song.song_id if known else None, side, snr, back))
    meta = np.array([[r.song_id or "", r.side, str(r.snr_db)] for r in out])
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, meta=meta, **{f"a{i}": r.audio for i, r in enumerate(out)})
    tmp.replace(path)
    return out


def impostor_analyses() -> list:
    """The verdict calibration's impostor recordings (``training.fingerprints.impostor_queries`` of
    the bundled negatives in the bundled noise: what enrolment calibrates with), analysed at every
    search speed, cached."""
    from musicid_core.resources import default_negatives_dir, default_noise_dir
    from training.enrolment import _queries_bytes, _read_queries
    from training.fingerprints import impostor_queries
    from training.noise_bank import folder_clips, load_negative_bank

    from musicid_core.speed_search import SPEEDS

    # Analysed at every search speed (``training.fingerprints.impostor_queries``): the file is per grid.
    path = _cache_dir() / f"impostors-speeds-{'-'.join(f'{x:g}' for x in SPEEDS) or 'none'}-{analysis_key()}.npz"
    cached = _read_queries(path)
    if cached is not None:
        return cached
    queries = impostor_queries(load_negative_bank(default_negatives_dir()).clips, folder_clips(default_noise_dir()))
    path.write_bytes(_queries_bytes(queries))
    return queries
