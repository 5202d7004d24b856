"""The benchmark's song corpus and ambient noise, built from freely licensed Debian packages.

Why Debian packages: they are reachable from any Debian machine with ``apt-get``, versioned, and
every file comes with a copyright file, so the benchmark is reproducible and its licences known
(see ``benchmarks/LICENSES.md``). Packages are fetched with ``apt-get download`` and unpacked with
``dpkg -x`` into a cache folder; nothing is installed.

Songs: four game-music packages (``SONG_PACKAGES``), and for issue 15's by-source benchmark four
more that no constant of the recogniser was tuned on (``HELD_OUT_SONG_PACKAGES``: UFO:AI, whose
music sits in a .pk3 zip read through ``musicid_core.safezip``; Hedgewars; ASC; Frozen Bubble,
whose tracker module ffmpeg renders once). Files shorter than ``MIN_SONG_SECONDS`` (victory/defeat
jingles) and near-silent files (Wesnoth's ``silence.ogg``) are left out, because a benchmark
query needs several seconds of actual music. Symbolic links (Drascula's per-language folders
link to the same tracks) are skipped, so every song appears once.

Noise: the ``sounds/ambient/`` folder of ``wesnoth-1.16-data``. Some of those files are part of
MusicID's bundled default noise pack (``resources/noise/``), which the app trains with. A
benchmark that queried with the same noise would flatter the model, so :func:`split_noise` always
puts the files listed in ``DEFAULT_PACK_AMBIENT`` on the *training* side; the query side only
gets files the app has never heard. ``resources/make_noise_pack.py`` imports that same constant,
so the two cannot drift apart.

Usage: ``python -m benchmarks.corpus [--cache DIR]``; the cache defaults to
``$MUSICID_BENCH_CACHE`` or ``~/.cache/musicid-bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SONG_PACKAGES: tuple[str, ...] = (
    "wesnoth-1.16-music",
    "hyperrogue-music",
    "planetblupi-music-ogg",
    "drascula-music",
)
# Issue 15's held-out soundtracks: never used to choose a constant of the recogniser
# (``benchmarks.by_source``). Not in ``SONG_PACKAGES``, so the older benchmarks keep their corpus.
HELD_OUT_SONG_PACKAGES: tuple[str, ...] = (
    "ufoai-music",
    "hedgewars-data",
    "asc-music",
    "fb-music-high",
)
NOISE_PACKAGE = "wesnoth-1.16-data"
AMBIENT_DIR = "usr/share/games/wesnoth/1.16/data/core/sounds/ambient"
AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".flac", ".wav", ".mp3"})
MIN_SONG_SECONDS = 30.0
SILENCE_DBFS = -50.0

# Song folders inside each unpacked package (anything outside them is sound effects or data).
SONG_DIRS: dict[str, str] = {
    "wesnoth-1.16-music": "usr/share/games/wesnoth/1.16/data/core/music",
    "hyperrogue-music": "usr/share/hyperrogue/music",
    "planetblupi-music-ogg": "usr/share/planetblupi/music",
    "drascula-music": "usr/share/scummvm/drascula/audio",
    "hedgewars-data": "usr/share/games/hedgewars/Data/Music",
    "asc-music": "usr/share/games/asc/music",
    # Unpacked by ``ensure_package`` itself (see ``_prepare_songs``): UFO:AI ships its music in a
    # Quake-style .pk3 (a zip), Frozen Bubble as a tracker module that ffmpeg (libopenmpt) renders.
    "ufoai-music": "extracted/music",
    "fb-music-high": "rendered",
}
UFOAI_PK3 = "usr/share/games/ufoai/base/0music.pk3"
FROZEN_BUBBLE_MODULES = "usr/share/games/frozen-bubble/snd"

# Licence and copyright holders, from each package's usr/share/doc/<package>/copyright.
PACKAGE_LICENCES: dict[str, str] = {
    "wesnoth-1.16-music": "GPL-2+",
    "hyperrogue-music": "CC-BY-SA-3.0",
    "planetblupi-music-ogg": "GPL-3+",
    "drascula-music": "Drascula-License (BSD-like, free redistribution, no sale of the game itself)",
    "wesnoth-1.16-data": "GPL-2+",
    "ufoai-music": "per file (CC-BY-3.0, CC-BY-SA-3.0, GPL-2, public-domain)",
    "hedgewars-data": "GPL-2",
    "asc-music": "GPL-2+",
    "fb-music-high": "GPL-2+",
}
PACKAGE_COPYRIGHT: dict[str, str] = {
    "wesnoth-1.16-music": "David White and the Battle for Wesnoth contributors",
    "hyperrogue-music": "see per-file composer",
    "planetblupi-music-ogg": "2017-2018 Mathieu Schroeter; 1997 Daniel Roux, EPSITEC SA & Denis Dumoulin",
    "drascula-music": "1996-2008 Alcachofa Soft S.L.",
    "wesnoth-1.16-data": "David White and the Battle for Wesnoth contributors",
    "ufoai-music": "The UFO:AI Team and the composers named per file",
    "hedgewars-data": "2004-2018 Andrey Korotaev, Igor Ulyanov, Hedgewars Project",
    "asc-music": "2002 Michael Kievernagel",
    "fb-music-high": "Matthias Le Bidan",
}
HYPERROGUE_COMPOSERS: dict[str, str] = {
    "hr3-": "Shawn Parrotte (http://www.shawnparrotte.com)",
    "hr-domina-": "Lincoln Domina",
    "hr-savino-": "Will Savino (http://www.willsavino.net)",
}

# Wesnoth ambient files that resources/make_noise_pack.py puts in the bundled (training) pack.
DEFAULT_PACK_AMBIENT: tuple[str, ...] = ("birds1.ogg", "campfire.ogg", "night.ogg", "ship.ogg")


@dataclass(frozen=True)
class SongFile:
    """One song: where it is, which package it came from, and under which licence."""

    path: Path
    package: str
    licence: str
    copyright: str = ""
    duration_s: float = 0.0

    @property
    def song_id(self) -> str:
        """A stable, human-readable identifier ("package/file") independent of the cache path."""
        return f"{self.package}/{self.path.name}"


@dataclass
class Corpus:
    """Everything the benchmark draws from; ``excluded`` records what was left out and why."""

    cache: Path
    songs: list[SongFile]
    ambient: list[Path]
    excluded: list[tuple[Path, str]] = field(default_factory=list)


def default_cache_dir() -> Path:
    """The cache lives outside the repository: several hundred MB that must never be committed."""
    env = os.environ.get("MUSICID_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "musicid-bench"


def download_package(name: str, debs: Path) -> Path:
    """``apt-get download`` the package unless a .deb for it is already in ``debs``."""
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        raise RuntimeError(f"apt-get not found; place {name}_*.deb in {debs} by hand")
    result = subprocess.run(["apt-get", "download", name], cwd=debs, capture_output=True, text=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if result.returncode != 0 or not found:
        raise RuntimeError(f"apt-get download {name} failed (try apt-get update): {result.stderr.strip()}")
    return found[-1]


def unpack_package(deb: Path, target: Path) -> Path:
    """``dpkg -x`` into ``target`` once; a marker file makes reruns free and survives interruptions."""
    marker = target / ".unpacked"
    if marker.is_file() and marker.read_text().strip() == deb.name:
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    subprocess.run(["dpkg", "-x", str(deb), str(target)], check=True)
    marker.write_text(deb.name + "\n")
    return target


def ensure_package(name: str, cache: Path) -> Path:
    """Download and unpack one package; returns its unpacked root."""
    deb = download_package(name, cache / "debs")
    root = unpack_package(deb, cache / "unpacked" / name)
    _prepare_songs(name, root)
    return root


def _prepare_songs(name: str, root: Path) -> None:
    """Bring a package's songs out of its game container into ``SONG_DIRS[name]`` (once)."""
    if name == "ufoai-music":
        extract_pk3_music(root / UFOAI_PK3, root / SONG_DIRS[name])
    elif name == "fb-music-high":
        render_modules(root / FROZEN_BUBBLE_MODULES, root / SONG_DIRS[name])


def extract_pk3_music(pk3: Path, target: Path) -> None:
    """The ``music/*.ogg`` members of a .pk3 (a zip) into ``target``, read like a user's zip:
    ``musicid_core.safezip`` refuses absolute names, ``..``, links and zip bombs, and each member
    is written under its own base name, never a path taken from the archive."""
    from musicid_core.safezip import audio_members, extract_member

    marker = target / ".extracted"
    if marker.is_file():
        return
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for member, reason in audio_members(pk3, AUDIO_SUFFIXES):
        parts = member.name.split("/")
        if reason is None and len(parts) == 2 and parts[0] == "music":
            extract_member(pk3, member, target / Path(parts[1]).name)
    marker.write_text(pk3.name + "\n")


def render_modules(folder: Path, target: Path) -> None:
    """Tracker modules (.xm/.mod/.it/.s3m) rendered once to FLAC by ffmpeg's libopenmpt decoder,
    so the library and the benchmark read them like any other song."""
    marker = target / ".rendered"
    if marker.is_file():
        return
    target.mkdir(parents=True, exist_ok=True)
    for module in sorted(p for p in folder.iterdir() if p.suffix.lower() in {".xm", ".mod", ".it", ".s3m"}):
        out = target / (module.stem + ".flac")
        tmp = out.with_name(out.stem + ".tmp.flac")
        result = subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(module), "-ac", "2", "-ar", "44100",
             "-fflags", "+bitexact", str(tmp)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"ffmpeg could not render {module.name} (needs libopenmpt): {result.stderr.strip()}")
        tmp.replace(out)
    marker.write_text("rendered\n")


def song_licence(package: str, path: Path) -> tuple[str, str]:
    """(licence, copyright holder) of one song; HyperRogue's copyright differs per composer, and
    UFO:AI's copyright file gives each music file its own licence and authors."""
    holder = PACKAGE_COPYRIGHT[package]
    if package == "hyperrogue-music":
        holder = next(
            (who for prefix, who in HYPERROGUE_COMPOSERS.items() if path.name.startswith(prefix)), "Zeno Rogue"
        )
    if package == "ufoai-music":
        root = path.parents[2]  # <unpacked>/extracted/music/<file>
        per_file = copyright_stanzas(root / "usr/share/doc/ufoai-music/copyright", "base/music/")
        if path.name in per_file:
            return per_file[path.name]
    return PACKAGE_LICENCES[package], holder


def copyright_stanzas(copyright_file: Path, prefix: str) -> dict[str, tuple[str, str]]:
    """File name -> (licence, holders) for the files under ``prefix`` in a machine-readable
    (DEP-5) Debian copyright file."""
    found: dict[str, tuple[str, str]] = {}
    if not copyright_file.is_file():
        return found
    for stanza in copyright_file.read_text(errors="replace").split("\n\n"):
        files, holders, licence, field_name = [], [], "", ""
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                field_name, value = line.split(":", 1)
                value = value.strip()
                if field_name == "License":
                    licence = value
                elif value:
                    (files if field_name == "Files" else holders if field_name == "Copyright" else []).append(value)
            elif field_name in ("Files", "Copyright") and line.strip():
                (files if field_name == "Files" else holders).append(line.strip())
        for name in files:
            if name.startswith(prefix):
                found[name[len(prefix):]] = (licence, "; ".join(holders))
    return found


def _peak_dbfs(path: Path) -> float:
    """Peak level of a file, read in blocks so long songs never sit in memory whole."""
    peak = 0.0
    for block in sf.blocks(str(path), blocksize=1 << 18, dtype="float32"):
        peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
    return float(20.0 * np.log10(peak + 1e-12))


def _probe(path: Path, manifest: dict[str, list[float]]) -> tuple[float, float]:
    """(duration, peak dBFS), memoised by name and size: decoding 6 h of audio takes minutes."""
    key = f"{path.parent.name}/{path.name}:{path.stat().st_size}"
    if key not in manifest:
        manifest[key] = [sf.info(str(path)).duration, _peak_dbfs(path)]
    duration, peak = manifest[key]
    return duration, peak


def list_songs(
    package: str, root: Path, manifest: dict[str, list[float]] | None = None
) -> tuple[list[SongFile], list[tuple[Path, str]]]:
    """Songs of one unpacked package, sorted by path, plus the files skipped and why."""
    manifest = {} if manifest is None else manifest
    songs, skipped = [], []
    for path in sorted((root / SONG_DIRS[package]).iterdir()):
        if path.is_symlink() or not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        duration, peak = _probe(path, manifest)
        if duration < MIN_SONG_SECONDS:
            skipped.append((path, f"shorter than {MIN_SONG_SECONDS:.0f} s ({duration:.1f} s)"))
        elif peak < SILENCE_DBFS:
            skipped.append((path, f"silent (peak {peak:.0f} dBFS)"))
        else:
            licence, holder = song_licence(package, path)
            songs.append(SongFile(path, package, licence, holder, duration))
    return songs, skipped


def ensure_corpus(cache: Path | None = None, packages: tuple[str, ...] = SONG_PACKAGES) -> Corpus:
    """Fetch and unpack all packages (idempotent) and list songs and ambient noise files."""
    cache = Path(cache) if cache else default_cache_dir()
    manifest_path = cache / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    songs: list[SongFile] = []
    excluded: list[tuple[Path, str]] = []
    for package in packages:
        found, skipped = list_songs(package, ensure_package(package, cache), manifest)
        songs += found
        excluded += skipped
    manifest_path.write_text(json.dumps(manifest, indent=0, sort_keys=True))
    noise_root = ensure_package(NOISE_PACKAGE, cache)
    ambient = sorted(p for p in (noise_root / AMBIENT_DIR).glob("*.ogg") if p.is_file())
    return Corpus(cache, songs, ambient, excluded)


def song_group(song: SongFile) -> str:
    """Songs that may be versions of one piece (Wesnoth's ``frantic`` and ``frantic-old``) share a
    group, and a group is never split between enrolled and not enrolled: an "unknown" query that
    is really another arrangement of an enrolled song would make open-set scores meaningless."""
    stem = song.path.stem
    return f"{song.package}/{stem[:-4] if stem.endswith('-old') else stem}"


def pick_library(
    corpus: Corpus, n: int = 57, seed: int = 0, min_rest: int = 15
) -> tuple[list[SongFile], list[SongFile]]:
    """Reproducibly split songs into ``n`` enrolled and the rest as not-enrolled (open-set queries).

    Songs are sorted by id and grouped (:func:`song_group`) first, so the result depends only on
    the packages and the seed, not on file-system order or cache location.
    """
    songs = sorted(corpus.songs, key=lambda s: s.song_id)
    if len(songs) - n < min_rest:
        raise ValueError(f"only {len(songs)} songs: cannot enrol {n} and keep {min_rest} unknown")
    groups: dict[str, list[SongFile]] = {}
    for song in songs:
        groups.setdefault(song_group(song), []).append(song)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    enrolled: list[SongFile] = []
    for key in keys:
        if len(enrolled) + len(groups[key]) <= n:
            enrolled += groups[key]
    if len(enrolled) != n:
        raise ValueError(f"could not enrol exactly {n} songs without splitting a group")
    chosen = {s.song_id for s in enrolled}
    not_enrolled = [s for s in songs if s.song_id not in chosen]
    return sorted(enrolled, key=lambda s: s.song_id), not_enrolled


def ambient_noise_files(corpus: Corpus) -> list[Path]:
    """The Wesnoth ``sounds/ambient`` recordings (birds, campfire, night, ship, war drums)."""
    return list(corpus.ambient)


def is_in_default_pack(path: Path) -> bool:
    """Whether this ambient file was used to build the bundled training noise pack."""
    return path.name in DEFAULT_PACK_AMBIENT


def split_noise(files: list[Path], seed: int = 0) -> tuple[list[Path], list[Path]]:
    """(training, query) halves that never overlap; default-pack files are always training.

    The query half takes up to half of the files, drawn only from files outside the default
    pack, so benchmark queries are mixed with noise the app has not trained on.
    """
    files = sorted(files, key=lambda p: p.name)
    pack = [p for p in files if is_in_default_pack(p)]
    free = [p for p in files if not is_in_default_pack(p)]
    random.Random(seed).shuffle(free)
    n_query = min(len(free), len(files) // 2) if len(files) > 1 else 0
    query = sorted(free[:n_query], key=lambda p: p.name)
    train = sorted(pack + free[n_query:], key=lambda p: p.name)
    assert not set(train) & set(query)
    return train, query


def summary(corpus: Corpus, seed: int = 0) -> str:
    """Human-readable counts and durations, for the CLI and for logs."""
    lines = [f"cache: {corpus.cache}"]
    per_package = Counter(s.package for s in corpus.songs)
    seconds = Counter()
    for s in corpus.songs:
        seconds[s.package] += s.duration_s
    for package in SONG_PACKAGES:
        minutes = seconds[package] / 60
        lines.append(f"  {package:24s} {per_package[package]:3d} songs {minutes:7.1f} min  {PACKAGE_LICENCES[package]}")
    total = sum(seconds.values())
    lines.append(f"  {'total':24s} {len(corpus.songs):3d} songs {total / 60:7.1f} min ({total / 3600:.2f} h)")
    lines.append(f"excluded {len(corpus.excluded)} files:")
    lines += [f"  {p.parent.name}/{p.name}: {why}" for p, why in corpus.excluded]
    enrolled, rest = pick_library(corpus, seed=seed)
    lines.append(f"library (seed {seed}): {len(enrolled)} enrolled, {len(rest)} not enrolled")
    lines.append(
        "  enrolled per package: "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(s.package for s in enrolled).items()))
    )
    lines.append(
        "  not enrolled per package: "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(s.package for s in rest).items()))
    )
    train, query = split_noise(ambient_noise_files(corpus), seed=seed)
    lines.append(f"ambient noise: {len(corpus.ambient)} files")
    lines.append(
        "  training: " + ", ".join(p.name + (" (default pack)" if is_in_default_pack(p) else "") for p in train)
    )
    lines.append("  query:    " + ", ".join(p.name for p in query))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download, unpack and summarise the MusicID benchmark corpus.")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache folder (default: $MUSICID_BENCH_CACHE or ~/.cache/musicid-bench)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the library pick and noise split")
    parser.add_argument("--list", action="store_true", help="also list every song with its licence")
    args = parser.parse_args(argv)
    corpus = ensure_corpus(args.cache)
    print(summary(corpus, seed=args.seed))
    if args.list:
        enrolled, _ = pick_library(corpus, seed=args.seed)
        chosen = {s.song_id for s in enrolled}
        for s in sorted(corpus.songs, key=lambda s: s.song_id):
            mark = "E" if s.song_id in chosen else "-"
            print(f"{mark} {s.song_id:50s} {s.duration_s:6.1f} s  {s.licence}; {s.copyright}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
