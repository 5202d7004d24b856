"""Item 2 for the one-time migration of ``catalogue.json`` to SQLite: a SIGKILL at any step of it
leaves either the old JSON in use or the complete database, and the next opening finishes it.

Kill points: just before each rename and fsync of the migration (every step that makes something
durable), then at seeded random times during a migration of a few thousand entries (inside the
SQLite transaction).
"""

from __future__ import annotations

import random
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from musicid_core.catalogue import Catalogue, NoiseClip, Song
from musicid_core.library import Library
from musicid_core.storage import write_checked_json
from reliability_helpers import REPO, child_env, count

ENTRIES = 3000
RANDOM_KILLS = 8
DRIVER = Path(__file__).with_name("migrate_driver.py")


def legacy_folder(root: Path, entries: int) -> bytes:
    """A data folder of the JSON version: ``entries`` songs and a few noise clips (no audio: the
    migration only moves the catalogue)."""
    songs = [Song(f"{i:012x}", f"Song {i}", f"song {i}.flac", 180.0 + i / 7, f"{i:064x}", "2026-01-01T00:00:00+00:00",
                  "Artist" if i % 2 else "") for i in range(entries)]
    noise = [NoiseClip(f"{i:012x}", "room", f"n{i}.wav", 2.0, f"{i:064x}") for i in range(3)]
    root.mkdir(parents=True, exist_ok=True)
    path = root / "catalogue.json"
    write_checked_json(path, 1, {"songs": [asdict(s) for s in songs], "noise": [asdict(n) for n in noise]})
    return path.read_bytes()


def _driver(root: Path, kill_at: int) -> list[str]:
    return [sys.executable, str(DRIVER), str(root), str(kill_at)]


def _assert_old_or_complete(root: Path, original: bytes, entries: int) -> str:
    """Right after a kill: the JSON untouched and no database, or the whole database."""
    legacy, migrated = root / "catalogue.json", root / "catalogue.json.migrated"
    database = Catalogue(root / "catalogue.sqlite")
    if not database.exists():
        assert legacy.read_bytes() == original and not migrated.exists()
        return "json"
    contents = database.read()
    assert len(contents.songs) == entries and len(contents.noise) == 3
    assert (legacy if legacy.exists() else migrated).read_bytes() == original
    return "database"


def _assert_migrated(root: Path, original: bytes, entries: int) -> None:
    library = Library(root)  # finishes an interrupted migration
    assert len(library.songs()) == entries and [c.name for c in library.noise_clips()] == ["n0.wav", "n1.wav", "n2.wav"]
    assert not (root / "catalogue.json").exists() and (root / "catalogue.json.migrated").read_bytes() == original


def test_kill_at_every_step_of_the_migration(tmp_path: Path) -> None:
    original = legacy_folder(tmp_path / "count", 50)
    done = subprocess.run(_driver(tmp_path / "count", 0), check=True, capture_output=True, text=True, env=child_env(),
                          cwd=REPO).stdout
    steps = int(next(line for line in done.splitlines() if line.startswith("STEPS")).split()[1])
    assert steps >= 4, done  # fsync of the new file, its rename, the JSON's rename, and their folder fsyncs
    seen = set()
    for kill_at in range(1, steps + 1):
        root = tmp_path / f"kill{kill_at}"
        legacy_folder(root, 50)
        result = subprocess.run(_driver(root, kill_at), capture_output=True, env=child_env(), cwd=REPO)
        assert result.returncode == -9, result.stderr[-500:]
        count("SIGKILL injected")
        seen.add(_assert_old_or_complete(root, original, 50))
        _assert_migrated(root, original, 50)
    assert seen == {"json", "database"}  # the kills fell on both sides of the switch


def test_kill_at_random_times_during_a_large_migration(tmp_path: Path) -> None:
    original = legacy_folder(tmp_path / "timing", ENTRIES)
    done = subprocess.run(_driver(tmp_path / "timing", 0), check=True, capture_output=True, text=True,
                          env=child_env(), cwd=REPO).stdout
    seconds = float(next(line for line in done.splitlines() if line.startswith("SECONDS")).split()[1])
    rng = random.Random(14)
    for number in range(RANDOM_KILLS):
        root = tmp_path / f"kill{number}"
        legacy_folder(root, ENTRIES)
        proc = subprocess.Popen(_driver(root, -1), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env(),
                                cwd=REPO, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        run_and_kill_popen(proc, rng.uniform(0, seconds * 1.2))
        _assert_old_or_complete(root, original, ENTRIES)
        _assert_migrated(root, original, ENTRIES)


def run_and_kill_popen(proc: subprocess.Popen[str], delay: float) -> None:
    import signal

    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        count("SIGKILL injected")


def test_two_processes_opening_an_old_folder_at_once_migrate_it_once(tmp_path: Path) -> None:
    original = legacy_folder(tmp_path / "data", ENTRIES)
    procs = [subprocess.Popen(_driver(tmp_path / "data", 0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=child_env(), cwd=REPO) for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    count("concurrent process races")
    assert [proc.returncode for proc in procs] == [0, 0], [err[-300:] for _, err in outputs]
    assert all(f"SONGS {ENTRIES}" in out for out, _ in outputs), outputs
    assert [p.name for p in (tmp_path / "data").glob("catalogue.json*")] == ["catalogue.json.migrated"]
    _assert_migrated(tmp_path / "data", original, ENTRIES)
