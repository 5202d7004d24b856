"""Packs: the song index of a large library, memory-mapped instead of held in memory.

Why. The in-memory index (``fingerprint.FingerprintIndex``) keeps every landmark in one table
sorted by hash: ~620 landmarks and 4 tonal profiles per second of music, about 1.4 GB for 552
songs and 25 GB for 10,000, and each recording's lookups meet a bucket that grows with the
library (202 ms per recording at 552 songs). For a large library the index is instead split by
song: each song's landmarks sorted by hash on their own, its int8 profiles and its summaries
(``musicid_core.shortlist``), in read-only ``.npy`` files mapped into memory. A recording is
first compared with the summaries of every song (the shortlist, kept small), and only the
shortlisted songs' landmarks and profiles are read (``fingerprint.match_song_runs``,
``tonal_profile.match_song_profiles``); the operating system keeps the pages that recordings
touch and drops the rest, so the recognising process stays small whatever the library's size.

Layout, inside ``index/``::

    packs/<name>/songs.json      the songs in this pack (ids) and the analysis parameters
    packs/<name>/*.npy           landmarks (hashes, times: each song's run sorted by hash),
                                 profiles (int8), summaries (float32, stored transposed:
                                 dims x rows), with per-song start rows, and the shortlist basis
                                 the summaries were projected with

A pack is written into a temporary folder and renamed into place, so it exists whole or not at
all; packs are never changed afterwards. Songs enrolled since the last pack live only in their
per-song files (``song_index``) until ``SongIndex`` packs them; a song removed from the library
stays in its pack until the next merge but is never matched (the snapshot lists only catalogue
songs). A pack made with other parameters, or damaged, is ignored with a warning: its songs are
packed again from their per-song files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from musicid_core.shortlist import basis_id
from musicid_core.storage import _fsync_dir

log = logging.getLogger(__name__)

PACKS_DIR = "packs"
ARRAYS = ("hashes", "times", "landmark_starts", "profiles", "profile_starts", "summaries_t", "summary_starts", "basis")


@dataclass(frozen=True)
class PackedSong:
    """One song's analysis as a pack holds it (views into the mapped arrays)."""

    hashes: np.ndarray  # uint32, sorted
    times: np.ndarray  # int32, in the hashes' order
    profiles: np.ndarray  # (blocks, bins) int8
    summaries: np.ndarray  # (segments, dims) float32


class Pack:
    """One pack, mapped read-only. ``song(i)`` is its ``i``-th song (``ids[i]``)."""

    def __init__(self, folder: Path, parameters: np.ndarray) -> None:
        self.folder = folder
        try:
            meta = json.loads((folder / "songs.json").read_text(encoding="utf-8"))
            ids = [str(i) for i in meta["ids"]]
            if meta["parameters"] != [int(p) for p in parameters]:
                raise ValueError("made with other analysis parameters")
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PackError(f"{folder.name}: {str(exc)[:160]}") from None
        n = len(ids)
        for name, data in (("landmark_starts", arrays["hashes"]), ("profile_starts", arrays["profiles"]),
                           ("summary_starts", arrays["summaries_t"].T)):
            starts = arrays[name]
            if starts.shape != (n + 1,) or starts[0] != 0 or starts[-1] != data.shape[0] or np.any(np.diff(starts) < 0):
                raise PackError(f"{folder.name}: inconsistent {name}")
        if (arrays["hashes"].dtype != np.uint32 or arrays["times"].dtype != np.int32
                or arrays["hashes"].shape != arrays["times"].shape or arrays["profiles"].dtype != np.int8
                or arrays["summaries_t"].dtype != np.float32 or arrays["profiles"].ndim != 2
                or arrays["summaries_t"].ndim != 2
                or arrays["basis"].shape != (arrays["profiles"].shape[1], arrays["summaries_t"].shape[0])):
            raise PackError(f"{folder.name}: arrays of the wrong type or shape")
        # A pack's parameters end with the id of the basis its summaries were projected with.
        if arrays["basis"].dtype != np.float32 or basis_id(np.asarray(arrays["basis"])) != int(parameters[-1]):
            raise PackError(f"{folder.name}: its shortlist basis does not match its parameters")
        self.ids = ids
        self._a = arrays
        self.summaries_t = arrays["summaries_t"]
        """(dims, rows): a recording's product with every summary reads this contiguously, which
        took 45 ms at 10,000 songs against 75-85 ms for the (rows, dims) layout (measured alone)."""
        self.summary_starts = np.asarray(arrays["summary_starts"])
        self.basis = np.array(arrays["basis"])

    @property
    def bytes(self) -> int:
        return sum(int(a.nbytes) for a in self._a.values())

    def song(self, i: int) -> PackedSong:
        a = self._a
        l0, l1 = int(a["landmark_starts"][i]), int(a["landmark_starts"][i + 1])
        p0, p1 = int(a["profile_starts"][i]), int(a["profile_starts"][i + 1])
        s0, s1 = int(a["summary_starts"][i]), int(a["summary_starts"][i + 1])
        return PackedSong(a["hashes"][l0:l1], a["times"][l0:l1], a["profiles"][p0:p1], a["summaries_t"][:, s0:s1].T)


class PackError(Exception):
    """A pack that cannot be used (damaged, or made with other parameters)."""


def write_pack(packs_dir: Path, songs: Sequence[tuple[str, "SongArrays"]], parameters: np.ndarray, basis: np.ndarray) -> Path:
    """Write one pack of ``songs`` (id, analysis arrays, summaries made with ``basis``) atomically;
    returns its folder."""
    packs_dir.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex[:16]
    tmp = packs_dir / f".tmp-{name}"
    tmp.mkdir()
    try:
        columns: dict[str, list[np.ndarray]] = {k: [] for k in ("hashes", "times", "profiles", "summaries")}
        for _, arrays in songs:
            order = np.argsort(arrays.hashes, kind="stable")
            columns["hashes"].append(np.asarray(arrays.hashes, dtype=np.uint32)[order])
            columns["times"].append(np.asarray(arrays.times, dtype=np.int32)[order])
            columns["profiles"].append(np.asarray(arrays.profiles, dtype=np.int8))
            columns["summaries"].append(np.asarray(arrays.summaries, dtype=np.float32))
        bins = songs[0][1].profiles.shape[1] if songs else 0
        dims = songs[0][1].summaries.shape[1] if songs else 0
        out = {
            "hashes": _concat(columns["hashes"], np.uint32),
            "times": _concat(columns["times"], np.int32),
            "landmark_starts": _starts(columns["hashes"]),
            "profiles": _concat(columns["profiles"], np.int8, bins),
            "profile_starts": _starts(columns["profiles"]),
            "summaries_t": np.ascontiguousarray(_concat(columns["summaries"], np.float32, dims).T),
            "summary_starts": _starts(columns["summaries"]),
            "basis": np.ascontiguousarray(basis, dtype=np.float32),
        }
        for key, array in out.items():
            with open(tmp / f"{key}.npy", "wb") as f:
                np.save(f, array, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        meta = {"ids": [song_id for song_id, _ in songs], "parameters": [int(p) for p in parameters]}
        with open(tmp / "songs.json", "w", encoding="utf-8") as f:
            json.dump(meta, f)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        final = packs_dir / name
        os.rename(tmp, final)
        _fsync_dir(packs_dir)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass(frozen=True)
class SongArrays:
    """What a pack stores of one song (``song_index.SongAnalysis`` plus its summaries)."""

    hashes: np.ndarray
    times: np.ndarray
    profiles: np.ndarray
    summaries: np.ndarray


def _concat(parts: list[np.ndarray], dtype: type, bins: Optional[int] = None) -> np.ndarray:
    if parts:
        return np.ascontiguousarray(np.concatenate(parts), dtype=dtype)
    return np.zeros((0,) if bins is None else (0, bins), dtype=dtype)


def _starts(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([p.shape[0] for p in parts], dtype=np.int64)]).astype(np.int64)


def open_packs(packs_dir: Path, parameters: np.ndarray, discard_unusable: bool = False) -> list[Pack]:
    """Every usable pack, oldest first (a later pack's copy of a song wins). Damaged packs, packs
    of other parameters and left-over temporary folders (a crash mid-write) are skipped, and with
    ``discard_unusable`` (a caller holding the library's lock, about to pack their songs again)
    deleted."""
    if not packs_dir.is_dir():
        return []
    packs = []
    for folder in sorted(packs_dir.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
        if folder.name.startswith(".tmp-"):
            if discard_unusable:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        if not folder.is_dir():
            continue
        try:
            packs.append(Pack(folder, parameters))
        except PackError as exc:
            log.warning("ignoring index pack %s; its songs will be packed again", exc)
            if discard_unusable:
                shutil.rmtree(folder, ignore_errors=True)
    return packs


def remove_packs(packs: Iterable[Pack]) -> None:
    for pack in packs:
        shutil.rmtree(pack.folder, ignore_errors=True)
