"""Item 2: SIGKILL at any point of ``library add``, ``noise add`` and ``train`` loses nothing;
damaged catalogues and model bundles are detected, reported and repaired or set aside.

Kill points are drawn from a seeded generator over the measured duration of each command (or, for
training, over its progress lines), so every run injects the same bounded number of faults.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import subprocess
import sys
import zipfile
from contextlib import closing
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import synth
from musicid_core.catalogue import Song, row_checksum
from musicid_core.errors import LibraryError, ModelError
from musicid_core.fingerprint import INDEX_FILE, FingerprintIndex
from musicid_core.library import Library
from musicid_core.models import store
from reliability_helpers import REPO, assert_library_intact, child_env, cli, count, run_and_kill, timed

LIBRARY_KILLS = 20
NOISE_KILLS = 10
TRAIN_KILLS = 2
COMPACT_KILLS = 8


def _songs(folder: Path, indices: range) -> list[Path]:
    return [synth.write(folder / f"song {i}.wav", synth.song(i, seconds=6.0)) for i in indices]


def test_kill_library_add_at_random_points(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    kept = {s.id for s in library.add_songs(_songs(tmp_path / "first", range(2))).added}
    batch = [str(p) for p in _songs(tmp_path / "batch", range(2, 6))]
    command = cli(library.root, "library", "add", *batch)
    duration = timed(command)
    rng = random.Random(6)
    for _ in range(LIBRARY_KILLS):
        _reset(library, kept)
        run_and_kill(command, rng.uniform(0.2, duration))
        assert_library_intact(library, kept)
    # Everything can still be added afterwards; a crash left at most harmless leftovers.
    subprocess.run(command, check=True, env=child_env(), capture_output=True)
    assert len(library.songs()) == 6
    assert_library_intact(library, kept)
    assert not library.repair().changed


def test_kill_library_compact_at_random_points(tmp_path: Path) -> None:
    """Re-storing an earlier version's .npy songs as Ogg: a kill anywhere leaves every song
    readable (its .npy, or its complete .ogg) and the next run finishes the job."""
    from musicid_core.storage import atomic_save_npy

    library = Library(tmp_path / "data")
    songs = library.add_songs(_songs(tmp_path, range(6))).added
    pcm = {s.id: library.song_audio(s).astype(np.float16) for s in songs}

    def as_earlier_version() -> None:
        for song in songs:
            ogg = library.root / "songs" / f"{song.id}.ogg"
            atomic_save_npy(ogg.with_suffix(".npy"), pcm[song.id])
            ogg.unlink(missing_ok=True)

    command = cli(library.root, "library", "compact")
    as_earlier_version()
    duration = timed(command)
    assert library.legacy_songs() == []
    rng = random.Random(8)
    for _ in range(COMPACT_KILLS):
        as_earlier_version()
        run_and_kill(command, rng.uniform(0.2, duration))
        assert_library_intact(library, set(pcm))
    subprocess.run(command, check=True, env=child_env(), capture_output=True)
    assert library.legacy_songs() == [] and not list((library.root / "songs").glob("*.npy"))
    assert_library_intact(library, set(pcm))
    assert not library.repair().changed


def _reset(library: Library, kept: set[str]) -> None:
    for song in library.songs():
        if song.id not in kept:
            library.remove_song(song.id)


def test_kill_noise_add_at_random_points(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    library.add_noise([synth.write(tmp_path / "room.wav", synth.noise(0, seconds=2.0))], pack="room")
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(1, 6):
            z.write(synth.write(tmp_path / f"n{i}.wav", synth.noise(i, seconds=2.0)), f"clips/n{i}.wav")
    command = cli(library.root, "noise", "add", str(archive), "--pack", "pub")
    duration = timed(command)
    rng = random.Random(7)
    for _ in range(NOISE_KILLS):
        if "pub" in library.noise_packs():
            library.remove_noise_pack("pub")
        run_and_kill(command, rng.uniform(0.2, duration))
        assert_library_intact(library)
        assert [c.name for c in library.noise_clips("room")] == ["room.wav"]
    subprocess.run(command, check=True, env=child_env(), capture_output=True)
    assert len(library.noise_clips("pub")) == 5


CATALOGUE_DAMAGES = ["bytes", "page", "random-file", "edit", "schema", "truncate", "delete", "entry-escape",
                     "bad-duration", "other-sqlite"]


@pytest.mark.parametrize("damage", CATALOGUE_DAMAGES)
def test_damaged_catalogue_is_reported_then_set_aside_and_rebuilt(damage: str, tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    songs = library.add_songs(_songs(tmp_path, range(3))).added
    library.add_noise([synth.write(tmp_path / "hum.wav", synth.noise(3, seconds=2.0))], pack="room")
    path = library.catalogue_path
    damage_catalogue(path, damage, random.Random(damage))
    count("catalogue damages injected")
    damaged_bytes = path.read_bytes() if path.exists() else None
    with pytest.raises(LibraryError, match="library repair"):
        library.songs()
    # Nothing was wiped by reading, nor by a refused change.
    with pytest.raises(LibraryError):
        library.add_songs([synth.write(tmp_path / "new.wav", synth.song(9, seconds=6.0))]).failed and library.songs()
    assert (path.read_bytes() if path.exists() else None) == damaged_bytes
    report = library.repair()
    assert report.songs == 3 and report.noise == 1, report
    if damaged_bytes is not None:
        assert report.quarantined is not None and report.quarantined.read_bytes() == damaged_bytes
    assert "rebuilt" in report.summary()
    assert {s.id for s in library.songs()} == {s.id for s in songs}
    assert {s.title for s in library.songs()} == {s.title for s in songs}  # from the per-song records
    assert_library_intact(library, {s.id for s in songs})


def damage_catalogue(path: Path, damage: str, rng: random.Random) -> None:
    """Damage the SQLite catalogue at ``path`` in one of ``CATALOGUE_DAMAGES``' ways."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("VACUUM")  # no stale copies of rows in free space: a flipped byte lands in a live row
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        songs_page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'songs'").fetchone()[0]
    original = path.read_bytes()
    if damage == "bytes":  # a flipped bit inside a song's title or file name: only the row checksum sees it
        data = bytearray(original)
        data[original.index(b"song 1") + 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif damage == "page":  # random bytes over the songs table's page header
        data = bytearray(original)
        start = (songs_page - 1) * page_size
        data[start : start + 12] = bytes(rng.randrange(256) for _ in range(12))
        path.write_bytes(bytes(data))
    elif damage == "random-file":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(len(original))))
    elif damage == "truncate":
        path.write_bytes(original[: len(original) // 3])
    elif damage == "delete":
        path.unlink()
    elif damage == "other-sqlite":  # a database of another program under our name
        path.unlink()
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE songs (id TEXT)")
    else:
        with closing(sqlite3.connect(path)) as db, db:
            if damage == "edit":  # by hand, without knowing about the row checksum
                db.execute("UPDATE songs SET title = 'edited by hand' WHERE seq = 1")
            elif damage == "schema":
                db.execute("UPDATE schema_version SET version = 99")
            else:  # a row with bad values, and a valid checksum over them: only validation stands in the way
                row = db.execute("SELECT id, title, source, duration, sha256, added, artist FROM songs").fetchone()
                bad = dataclasses.replace(Song(*row), **({"id": "../../../etc/passwd"} if damage == "entry-escape"
                                                        else {"duration": -1.0}))
                db.execute("UPDATE songs SET id = ?, duration = ?, checksum = ? WHERE id = ?",
                           (bad.id, bad.duration, row_checksum(bad), row[0]))


def test_repair_without_records_and_with_damaged_audio(tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    songs = library.add_songs(_songs(tmp_path, range(3))).added
    library.song_path(songs[0]).with_suffix(".json").unlink()  # record lost: minimal entry
    library.song_path(songs[1]).write_bytes(b"not an ogg file")  # audio damaged: dropped, reported
    library.catalogue_path.write_bytes(b"{")
    report = library.repair()
    assert report.songs == 2 and len(report.dropped) == 1 and songs[1].id in report.dropped[0]
    titles = {s.id: s.title for s in library.songs()}
    assert songs[0].id in titles[songs[0].id] and titles[songs[2].id] == songs[2].title
    # Re-adding the song whose record was lost is recognised as already present.
    assert library.add_songs([tmp_path / "song 0.wav"]).duplicates
    # A healthy catalogue with a missing audio file: repair drops just that entry.
    library.song_path(songs[2]).unlink()
    report = library.repair()
    assert report.quarantined is None and len(report.dropped) == 1 and len(library.songs()) == 1
    count("catalogue damages injected", 3)


def _fake_bundle(models_dir: Path, n_labels: int = 2) -> Path:
    """A bundle whose model file is arbitrary bytes: enough for everything that needs no TensorFlow."""

    class FakeModel:
        def save(self, path: Path) -> None:
            Path(path).write_bytes(np.random.default_rng().bytes(256))

    labels = [store.SongLabel(f"{i:012x}", f"Song {i}", f"s{i}.wav") for i in range(n_labels)]
    meta = store.BundleMeta(arch="tiny", features=store.DEFAULT_FEATURES)
    rng = np.random.default_rng()
    index = FingerprintIndex(
        rng.integers(0, 2**21, 500).astype(np.uint32), rng.integers(0, n_labels, 500), rng.integers(0, 9000, 500), n_labels
    )
    return store.save_bundle(models_dir, FakeModel(), labels, meta, fingerprints=index)


@pytest.mark.parametrize(
    "damage", ["model-bytes", "labels-edit", "meta-edit", "meta-missing", "pointer", "fingerprints-bytes", "fingerprints-missing"]
)
def test_damaged_current_bundle_is_reported_and_falls_back(damage: str, tmp_path: Path) -> None:
    models = tmp_path / "models"
    previous = _fake_bundle(models)
    current = _fake_bundle(models)
    third_party = _fake_bundle(models)  # keeps KEEP_BUNDLES: the oldest one is pruned
    assert not previous.exists() and store.bundles(models) == [third_party, current]
    previous, current = current, third_party
    if damage == "model-bytes":
        with (current / "model.keras").open("r+b") as f:
            f.seek(100)
            f.write(b"\x00\x01")
    elif damage == "labels-edit":
        (current / "labels.json").write_text('[{"id": "x", "title": "evil", "source": "y"}]')
    elif damage == "meta-edit":
        meta = json.loads((current / "meta.json").read_text())
        meta["payload"]["threshold"] = 0.0
        (current / "meta.json").write_text(json.dumps(meta))
    elif damage == "meta-missing":
        (current / "meta.json").unlink()
    elif damage == "fingerprints-bytes":
        with (current / INDEX_FILE).open("r+b") as f:
            f.seek(60)
            f.write(b"\x00\x01")
    elif damage == "fingerprints-missing":
        (current / INDEX_FILE).unlink()
    else:
        (models / store.CURRENT).write_text('{"bundle": "../../etc"}')
    count("model bundle damages injected")
    with pytest.raises(ModelError, match="model fallback"):
        store.load_current(models)
    report = store.fall_back(models)
    expected = current if damage == "pointer" else previous  # a bad pointer: the newest intact bundle
    assert report.current == expected and store.current_bundle_path(models) == expected
    assert damage == "pointer" or (report.damaged is not None and report.damaged.is_dir())
    store.verify_bundle(expected)
    with pytest.raises(ModelError, match="intact"):
        store.fall_back(models)  # never falls back from a good model


def test_no_fallback_without_a_good_previous_bundle(tmp_path: Path) -> None:
    models = tmp_path / "models"
    only = _fake_bundle(models)
    (only / "labels.json").write_text("[]")
    count("model bundle damages injected")
    with pytest.raises(ModelError, match="checksum") as info:
        store.load_current(models)
    assert "fallback" not in str(info.value)
    with pytest.raises(ModelError, match="no previous model"):
        store.fall_back(models)
    assert only.is_dir() and store.current_bundle_path(models) == only  # nothing moved or wiped


# ----- training: kill at random progress points, then resume from the last checkpoint
def _train_library(tmp_path: Path) -> tuple[Library, Path]:
    library = Library(tmp_path / "data")
    library.add_songs(_songs(tmp_path / "songs", range(2)))
    library.add_noise([synth.write(tmp_path / "n.wav", synth.noise(0, seconds=3.0))], pack="room")
    negatives = tmp_path / "negatives"
    for i in (20, 21):
        synth.write(negatives / f"other{i}.wav", synth.song(i, seconds=6.0))
    return library, negatives


def _driver(library: Library, negatives: Path, epochs: int, *flags: str) -> list[str]:
    return [sys.executable, str(Path(__file__).with_name("train_driver.py")), str(library.root), str(negatives),
            str(epochs), *flags]


def _run_until(command: list[str], stop_when: Callable[[list[str]], bool], extra_delay: float) -> list[str]:
    """Run the driver; SIGKILL it ``extra_delay`` s after its output satisfies ``stop_when``."""
    import signal
    import time

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=child_env(),
                            cwd=REPO)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.strip())
        if stop_when(lines):
            time.sleep(extra_delay)
            proc.send_signal(signal.SIGKILL)
            count("SIGKILL injected")
            break
    proc.wait()
    return lines


def test_kill_training_at_random_points_then_resume(tmp_path: Path) -> None:
    """Kill 1 lands anywhere in the first dozen progress lines (dataset, first batches); kill 2 up
    to 0.3 s after the end of epoch 2 (during epoch 3, or while the checkpoint is written). The
    model in use must stay the last good one, and ``--resume`` must continue after the last
    complete epoch without repeating one."""
    from training.checkpoint import FOLDER, describe

    library, negatives = _train_library(tmp_path)
    good = _fake_bundle(library.models_dir)  # stands for the last good model; never loaded here
    epochs = 4
    rng = random.Random(8)
    plans = [(lambda lines, n=rng.randint(1, 12): len(lines) >= n),
             (lambda lines: sum("validation accuracy" in line for line in lines) >= 2)][:TRAIN_KILLS]
    for stop_when in plans:
        _run_until(_driver(library, negatives, epochs), stop_when, rng.uniform(0, 0.3))
        assert_library_intact(library)
        assert store.current_bundle_path(library.models_dir) == good
        store.verify_bundle(good)
        assert not (describe(library.models_dir / FOLDER) or "").startswith("damaged")
    saved = describe(library.models_dir / FOLDER)
    assert saved is not None and ("epoch 2" in saved or "epoch 3" in saved), saved
    resumed = _run_until(_driver(library, negatives, epochs, "--resume"), lambda lines: False, 0)
    assert any("Resuming after epoch" in line for line in resumed), resumed[:5]
    first_epoch = int(next(line for line in resumed if "Resuming" in line).split("|")[1])
    trained_epochs = {int(line.split("|")[1]) for line in resumed if line.startswith("training|")}
    assert min(trained_epochs - {first_epoch}) == first_epoch + 1  # no epoch repeated
    done = resumed[-1].split("|")
    assert done[0] == "DONE" and int(done[2]) == epochs, resumed[-3:]  # the history covers all epochs
    new = store.current_bundle_path(library.models_dir)
    assert new != good and store.verify_bundle(new)[0].epochs == epochs
    assert good.is_dir()  # kept as the fallback (KEEP_BUNDLES = 2)
    assert not (library.models_dir / FOLDER).exists()  # the finished run cleared its checkpoint
