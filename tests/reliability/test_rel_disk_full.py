"""Issue 18: a full, read-only or vanished data folder at every write path (song import, noise
import, dataset building, the fingerprint index and the model bundle).

The data folder lives on a small tmpfs of its own (mounting needs root: CI runs as root, other
machines skip with the reason). A ballast file next to the data folder fills the disk to the
byte count each case needs. Every case checks the exit code and the sentence, that no partial
file is left, that the catalogue and the model in use are unchanged, and that the same command
succeeds once the space is freed (or the disk is writable again). Each write path is hit twice:
refused early by the free-space estimate, and with the estimate switched off
(``nospace_driver.py``) so that the write itself meets the full disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import synth
from musicid_core import diskspace
from musicid_core.diskspace import StorageError
from musicid_core.fingerprint import FingerprintIndex
from musicid_core.library import Library
from musicid_core.models import store
from reliability_helpers import REPO, assert_library_intact, child_env, cli, count

DISK_SIZE = "24M"
SONG_SECONDS = 6.0
NOISE_BYTES = int(SONG_SECONDS * synth.SR) * 2  # a noise clip: float16 on disk
SQLITE_ROOM = 64 * 1024
"""What one catalogue transaction needs on top of the items: its 32-kB shared-memory file and a
few WAL pages, created for the change and deleted after. Next to a song's ~20-kB Ogg copy it is
not negligible: without it the first song's commit, not the third song's copy, meets the full disk."""


@dataclass
class SmallDisk:
    """A tmpfs mounted for one test; ``data`` is the data folder on it."""

    mount: Path

    @property
    def data(self) -> Path:
        return self.mount / "data"

    @property
    def ballast(self) -> Path:
        return self.mount / "ballast"

    def fill(self, leave: int) -> None:
        """Grow (or shrink) the ballast so that exactly about ``leave`` bytes stay free."""
        current = self.ballast.stat().st_size if self.ballast.exists() else 0
        target = max(0, current + diskspace.free_bytes(self.mount) - leave)
        self.ballast.unlink(missing_ok=True)
        with self.ballast.open("wb") as f:
            if target:
                os.posix_fallocate(f.fileno(), 0, target)
        count("disk fills injected")

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.mount)], check=True, capture_output=True)
        if mode == "ro":
            count("read-only remounts injected")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if os.geteuid() != 0:
        pytest.skip("these tests mount a small tmpfs, which needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    try:
        yield SmallDisk(mount)
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)  # a straggling child


# ----- helpers
def _run(data: Path, *args: str, estimate: bool = True) -> subprocess.CompletedProcess[str]:
    command = cli(data, *args) if estimate else [
        sys.executable, str(Path(__file__).with_name("nospace_driver.py")), "--data-dir", str(data), *args]
    return subprocess.run(command, capture_output=True, text=True, env=child_env(), cwd=REPO, timeout=300)


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


def _leftovers(library: Library, before: dict[str, int]) -> list[str]:
    """Files that appeared since ``before`` and belong to no catalogued song or clip."""
    named = {f"songs/{s.id}{ext}" for s in library.songs() for ext in (".ogg", ".json")}
    named |= {f"index/{s.id}.npz" for s in library.songs()}  # the song index's entry (song_index)
    named |= {f"noise/{c.pack}/{c.id}{ext}" for c in library.noise_clips() for ext in (".npy", ".json")}
    return sorted(name for name in _files(library.root) if name not in before and name not in named
                  and not name.startswith("catalogue."))  # the catalogue itself (SQLite, its WAL)


def _fake_bundle(models_dir: Path) -> Path:
    """A bundle that verifies without TensorFlow: stands for the model in use."""

    class FakeModel:
        def save(self, path: Path) -> None:
            Path(path).write_bytes(np.random.default_rng(0).bytes(256))

    labels = [store.SongLabel(f"{i:012x}", f"Song {i}", f"s{i}.wav") for i in range(2)]
    meta = store.BundleMeta(arch="tiny", features=store.DEFAULT_FEATURES)
    return store.save_bundle(models_dir, FakeModel(), labels, meta)


@dataclass
class State:
    """What must not change when a write fails: the catalogue and the model in use."""

    catalogue: tuple[object, ...]
    pointer: bytes
    files: dict[str, int]

    @classmethod
    def of(cls, library: Library) -> "State":
        return cls(_entries(library), (library.models_dir / store.CURRENT).read_bytes(), _files(library.root))

    @classmethod
    def of_library(cls, library: Library) -> "State":
        """The same for a library without a model."""
        return cls(_entries(library), b"", _files(library.root))

    def assert_kept(self, library: Library, catalogue_may_grow: bool = False) -> None:
        if not catalogue_may_grow:
            assert _entries(library) == self.catalogue
        assert (library.models_dir / store.CURRENT).read_bytes() == self.pointer
        store.verify_bundle(store.current_bundle_path(library.models_dir))  # type: ignore[arg-type]
        assert_library_intact(library)
        assert _leftovers(library, self.files) == [], "partial files were left behind"


def _entries(library: Library) -> tuple[object, ...]:
    """What the catalogue says (its file's bytes are SQLite's business: a read may checkpoint it)."""
    return (*library.songs(), *library.noise_clips())


def _base_library(disk: SmallDisk, tmp_path: Path) -> Library:
    library = Library(disk.data)
    library.add_songs([synth.write(tmp_path / "old" / f"old{i}.wav", synth.song(10 + i, seconds=SONG_SECONDS))
                       for i in range(2)])
    _fake_bundle(library.models_dir)
    return library


def _import_args(kind: str, tmp_path: Path) -> tuple[list[str], int, int]:
    """The command that imports 4 new items, the bytes the import's estimate asks for, and the
    bytes they take once stored (songs: their Ogg Vorbis copies, less than the estimate)."""
    if kind == "songs":
        from musicid_core.audio.decode import load_audio
        from musicid_core.audio.stored import encode_vorbis
        from musicid_core.library import _estimated_import_bytes

        files = [synth.write(tmp_path / "new" / f"new{i}.wav", synth.song(i, seconds=SONG_SECONDS)) for i in range(4)]
        stored = sum(len(encode_vorbis(load_audio(f))) for f in files)
        return ["library", "add", *map(str, files)], _estimated_import_bytes(files, set()), stored
    archive = tmp_path / "pub.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(4):
            z.write(synth.write(tmp_path / f"n{i}.wav", synth.noise(i, seconds=SONG_SECONDS)), f"pub/n{i}.wav")
    return ["noise", "add", str(archive), "--pack", "pub"], 4 * NOISE_BYTES, 4 * NOISE_BYTES


def _added(library: Library, kind: str) -> int:
    return len(library.songs()) - 2 if kind == "songs" else len(library.noise_clips("pub"))


# ----- imports
@pytest.mark.parametrize("kind", ["songs", "noise"])
def test_import_refused_early_when_it_does_not_fit(kind: str, disk: SmallDisk, tmp_path: Path) -> None:
    library = _base_library(disk, tmp_path)
    args, needed, _ = _import_args(kind, tmp_path)
    disk.fill(leave=needed // 2 + diskspace.HEADROOM_BYTES)
    state = State.of(library)
    result = _run(disk.data, *args)
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "needs about" in message and "is free there" in message and str(disk.data) in message, message
    assert "choose another data folder" in message and "--data-dir" in message, message
    state.assert_kept(library)
    disk.free()
    again = _run(disk.data, *args)
    assert again.returncode == 0, again.stderr
    assert _added(library, kind) == 4
    assert_library_intact(library)


@pytest.mark.parametrize("kind", ["songs", "noise"])
def test_import_meets_a_full_disk_mid_write(kind: str, disk: SmallDisk, tmp_path: Path) -> None:
    library = _base_library(disk, tmp_path)
    args, _, stored = _import_args(kind, tmp_path)
    disk.fill(leave=int(stored * 0.6) + SQLITE_ROOM)
    state = State.of(library)
    result = _run(disk.data, *args, estimate=False)
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "stopped: the disk holding" in message and "is full" in message, message
    assert "requested and" not in message and "Errno" not in message, message
    # Songs' Ogg copies are small (~20 kB here), so the disk can end up with no byte free: too
    # little even for SQLite's 32-kB shared-memory file that reading the catalogue creates. The
    # files are what they are whether the ballast is there or not: free it, then look at them.
    disk.free()
    state.assert_kept(library, catalogue_may_grow=True)  # what went in before the disk filled stays
    kept = _added(library, kind)
    if kind == "songs":
        assert 0 < kept < 4 and f"{kept} songs imported before it were kept" in message, message
    again = _run(disk.data, *args, estimate=False)
    assert again.returncode == 0, again.stderr
    assert _added(library, kind) == 4
    assert_library_intact(library)
    assert not library.repair().changed


@pytest.mark.parametrize("kind", ["songs", "noise"])
@pytest.mark.parametrize("estimate", [True, False], ids=["estimated", "unchecked"])
def test_import_on_a_read_only_disk(kind: str, estimate: bool, disk: SmallDisk, tmp_path: Path) -> None:
    library = _base_library(disk, tmp_path)
    args, _, _ = _import_args(kind, tmp_path)
    state = State.of(library)
    disk.remount("ro")
    try:
        result = _run(disk.data, *args, estimate=estimate)
        listing = _run(disk.data, "library", "list") if kind == "songs" and estimate else None
    finally:
        disk.remount("rw")
    if listing is not None:  # SQLite cannot open its WAL on a read-only disk: say that, not "damaged"
        assert listing.returncode == 1 and "read-only disk" in listing.stderr, listing.stderr
        assert "repair" not in listing.stderr, listing.stderr
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "read-only disk" in message and "choose another data folder" in message, message
    state.assert_kept(library)
    again = _run(disk.data, *args, estimate=estimate)
    assert again.returncode == 0, again.stderr
    assert _added(library, kind) == 4


@pytest.mark.parametrize("kind", ["songs", "noise"])
def test_data_folder_vanishing_mid_import(kind: str, tmp_path: Path) -> None:
    """A removed USB drive: the folder is gone between two files. The import stops with a
    sentence, and never recreates an empty data folder in its place."""
    library = Library(tmp_path / "usb" / "musicid")
    library.add_songs([synth.write(tmp_path / "old.wav", synth.song(10, seconds=SONG_SECONDS))])
    _fake_bundle(library.models_dir)
    args, _, _ = _import_args(kind, tmp_path)
    sources = args[2:] if kind == "songs" else [args[2]]
    state = State.of(library)
    away = tmp_path / "usb" / "unplugged"
    calls = []

    def unplug_at_second_item(fraction: float, message: str) -> None:
        calls.append(message)
        if len(calls) == 2:
            library.root.rename(away)
            count("vanished data folders injected")

    with pytest.raises(StorageError) as info:
        if kind == "songs":
            library.add_songs(sources, progress=unplug_at_second_item)
        else:
            library.add_noise(sources, pack="pub", progress=unplug_at_second_item)
    assert info.value.kind == "gone" and "is gone" in str(info.value)
    assert "choose another data folder" in str(info.value)
    assert not library.root.exists(), "an empty data folder was created where the drive was"
    with pytest.raises(StorageError, match="reading the library stopped: the folder .* is gone"):
        library.songs()  # not an empty library
    away.rename(library.root)  # plugged in again
    if kind == "noise":
        # Known limit: zip members unpacked before the drive went stay in its tmp/ folder (they
        # could not be removed while it was gone); 'library repair' removes them after an hour.
        unpacked = [p for p in (library.root / "tmp").rglob("*") if p.is_file()]
        assert unpacked and all(p.suffix == ".wav" for p in unpacked)
        state.files.update({str(p.relative_to(library.root)): 0 for p in unpacked})
    state.assert_kept(library, catalogue_may_grow=True)
    report = library.add_songs(sources) if kind == "songs" else library.add_noise(sources, pack="pub")
    assert not report.failed and len(report.added) + len(report.duplicates) == 4
    assert not library.repair().changed


# ----- training: dataset building (memory-mapped), then the model bundle and its index
def _training_library(disk: SmallDisk, tmp_path: Path) -> Library:
    library = Library(disk.data)
    library.add_songs([synth.write(tmp_path / f"s{i}.wav", synth.song(i, seconds=SONG_SECONDS)) for i in range(2)])
    _fake_bundle(library.models_dir)
    return library


TRAIN = ("train", "--arch", "tiny", "--epochs", "1", "--examples-per-song", "4")
DATASET_BYTES = 2 * (4 * (2 + 2)) * 128 * 256 * 2  # train and validation: 16 windows each, float16


def _assert_no_dataset_left(library: Library) -> None:
    dataset = library.root / "cache" / "dataset"
    assert not dataset.exists() or not any(dataset.iterdir()), list(dataset.iterdir())


def test_training_dataset_on_a_full_disk(disk: SmallDisk, tmp_path: Path) -> None:
    library = _training_library(disk, tmp_path)
    state = State.of(library)
    # 1. refused before the first window is built
    disk.fill(leave=DATASET_BYTES // 2 + diskspace.HEADROOM_BYTES)
    result = _run(disk.data, *TRAIN)
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "building the training examples for 2 songs needs about" in message and str(disk.data) in message, message
    state.assert_kept(library)
    _assert_no_dataset_left(library)
    # 1b. room for the examples but not for the checkpoints and the model: refused before epoch 1
    disk.fill(leave=DATASET_BYTES + diskspace.HEADROOM_BYTES + (64 << 10))
    result = _run(disk.data, *TRAIN)
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "saving this training run's checkpoints and model needs about" in message, message
    assert not (library.models_dir / "checkpoint").exists()
    state.assert_kept(library)
    _assert_no_dataset_left(library)
    # 2. without the estimate, the memory map's reservation meets the full disk: an error, not SIGBUS
    disk.fill(leave=int(DATASET_BYTES * 0.7))
    result = _run(disk.data, *TRAIN, estimate=False)
    assert result.returncode == 1, f"exit {result.returncode} (135 is SIGBUS): {result.stderr[-500:]}"
    message = result.stderr.strip().splitlines()[-1]
    assert "building the validation examples stopped: the disk holding" in message and "is full" in message, message
    state.assert_kept(library)
    _assert_no_dataset_left(library)
    # 3. read-only
    disk.free()
    disk.remount("ro")
    try:
        result = _run(disk.data, *TRAIN)
    finally:
        disk.remount("rw")
    assert result.returncode == 1 and "read-only disk" in result.stderr, result.stderr
    state.assert_kept(library)
    # 4. with room again the same command trains and saves a model that becomes the one in use
    result = _run(disk.data, *TRAIN)
    assert result.returncode == 0, result.stderr
    new = store.current_bundle_path(library.models_dir)
    assert new is not None and (library.models_dir / store.CURRENT).read_bytes() != state.pointer
    store.verify_bundle(new)
    _assert_no_dataset_left(library)


@pytest.fixture(scope="module")
def tiny_model_and_index() -> tuple[object, FingerprintIndex]:
    """An untrained tiny network (its size is what matters here) and a real landmark index."""
    from musicid_core.models.architectures import build_model
    from musicid_core.tfquiet import load_tensorflow

    load_tensorflow()
    model = build_model("tiny", 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    index = FingerprintIndex.build(synth.song(i, seconds=60.0) for i in range(2))
    return model, index


@pytest.mark.parametrize("runs_out_at", ["model", "index"])
def test_model_bundle_and_index_on_a_full_disk(
    runs_out_at: str, disk: SmallDisk, tmp_path: Path, tiny_model_and_index: tuple[object, FingerprintIndex],
) -> None:
    """``save_bundle`` as training calls it: refused early, or (estimate off) failing while
    writing model.keras or while writing the landmark index; the model in use stays."""
    from musicid_core.fingerprint import INDEX_FILE

    model, index = tiny_model_and_index
    sizes = tmp_path / "sizes"
    sized = store.save_bundle(sizes, model, _labels(), store.BundleMeta(arch="tiny", features=store.DEFAULT_FEATURES),
                              fingerprints=index)
    model_bytes, index_bytes = (sized / "model.keras").stat().st_size, (sized / INDEX_FILE).stat().st_size
    assert index_bytes > 48 << 10, "the index is too small to run out of space on"
    library = Library(disk.data)
    _fake_bundle(library.models_dir)
    state = State.of(library)
    meta = lambda: store.BundleMeta(arch="tiny", features=store.DEFAULT_FEATURES)  # noqa: E731
    leave = model_bytes // 2 if runs_out_at == "model" else model_bytes + 16384 + index_bytes // 2
    disk.fill(leave=leave)
    with pytest.raises(StorageError, match="saving the new model needs about"):
        store.save_bundle(library.models_dir, model, _labels(), meta(), fingerprints=index)
    state.assert_kept(library)
    original, index_failed = diskspace.ensure_free_space, []
    diskspace.ensure_free_space = lambda *a, **k: None  # type: ignore[assignment]
    index_save = index.save

    def recording_save(path: Path) -> None:
        try:
            index_save(path)
        except OSError:
            index_failed.append(path)
            raise

    index.save = recording_save  # type: ignore[method-assign]
    try:
        with pytest.raises(StorageError, match="saving the new model stopped: the disk holding .* is full") as info:
            store.save_bundle(library.models_dir, model, _labels(), meta(), fingerprints=index)
    finally:
        diskspace.ensure_free_space = original  # type: ignore[assignment]
        index.save = index_save  # type: ignore[method-assign]
    assert info.value.kind == "full"
    assert bool(index_failed) == (runs_out_at == "index"), "the disk ran out at the wrong file"
    state.assert_kept(library)
    assert not list(library.models_dir.glob(".incoming-*")), "a staged bundle was left behind"
    disk.free()
    disk.remount("ro")
    try:
        with pytest.raises(StorageError, match="read-only disk"):
            store.save_bundle(library.models_dir, model, _labels(), meta(), fingerprints=index)
    finally:
        disk.remount("rw")
    state.assert_kept(library)
    saved = store.save_bundle(library.models_dir, model, _labels(), meta(), fingerprints=index)
    assert store.current_bundle_path(library.models_dir) == saved
    assert store.verify_bundle(saved)[0].fingerprints_sha256


def _labels() -> list[store.SongLabel]:
    return [store.SongLabel(f"{i:012x}", f"Song {i}", f"s{i}.wav") for i in range(2)]


def test_a_run_whose_model_could_not_be_saved_resumes_after_its_last_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills while the bundle is written at the very end: the sentence says the epochs
    are kept, and ``--resume`` (once there is room) saves the model without training again.
    The failure is injected into ``save_bundle`` (the real one is tested above), so no root needed."""
    import errno

    from training import train as training
    from training.train import TrainOptions

    library = Library(tmp_path / "data")
    library.add_songs([synth.write(tmp_path / f"s{i}.wav", synth.song(i, seconds=SONG_SECONDS)) for i in range(2)])
    _fake_bundle(library.models_dir)
    pointer = (library.models_dir / store.CURRENT).read_bytes()
    negatives = synth.write_negatives(tmp_path / "negatives")
    options = TrainOptions(arch="tiny", epochs=2, examples_per_song=8, batch_size=8, learning_rate=5e-3, seed=1,
                           negatives_dir=negatives)

    def full_disk(models_dir: Path, *args: object, **kwargs: object) -> Path:
        count("disk fills injected")
        raise diskspace.storage_error(OSError(errno.ENOSPC, "No space left on device", str(models_dir / "x")),
                                      "saving the new model", library.root) or AssertionError

    monkeypatch.setattr(training, "save_bundle", full_disk)
    with pytest.raises(StorageError, match=r"epochs are kept.*musicid train --resume"):
        training.train(library, options)
    assert (library.models_dir / store.CURRENT).read_bytes() == pointer
    _assert_no_dataset_left(library)
    monkeypatch.undo()
    messages: list[str] = []
    result = training.train(library, options, progress=lambda p: messages.append(p.message), resume=True)
    assert "Resuming after epoch 2 of 2" in messages, messages[:5]
    assert not any(m.startswith("Epoch ") for m in messages), "an epoch was trained again"
    assert result.epochs_run == 2 and store.current_bundle_path(library.models_dir) == result.bundle


@pytest.mark.parametrize("kind", ["songs", "noise"])
def test_a_catalogue_write_failing_on_a_full_disk_leaves_no_orphan_audio(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audio and the record fit but the catalogue's rewrite meets the full disk (injected:
    any disk would do): the item's files are removed again and the catalogue is unchanged."""
    import errno

    from musicid_core.catalogue import Catalogue

    library = Library(tmp_path / "data")
    library.add_songs([synth.write(tmp_path / "old.wav", synth.song(10, seconds=SONG_SECONDS))])
    state = State.of_library(library)
    args, _, _ = _import_args(kind, tmp_path)

    def full_at_catalogue(self: Catalogue, entry: object) -> bool:
        """What ``Catalogue`` raises when SQLite says SQLITE_FULL (tested in tests/test_catalogue.py)."""
        count("disk fills injected")
        failure = OSError(errno.ENOSPC, "No space left on device", str(self.path))
        raise diskspace.storage_error(failure, "changing the library catalogue", self.path.parent) or AssertionError

    monkeypatch.setattr(Catalogue, "add_song", full_at_catalogue)
    monkeypatch.setattr(Catalogue, "add_noise", full_at_catalogue)
    with pytest.raises(StorageError, match="is full") as info:
        if kind == "songs":
            library.add_songs(args[2:])
        else:
            library.add_noise([args[2]], pack="pub")
    if kind == "songs":
        assert "0 songs imported before it were kept" in str(info.value)
    monkeypatch.undo()
    assert _entries(library) == state.catalogue
    assert _leftovers(library, state.files) == [], "the audio of the failed item was left behind"
    report = library.add_songs(args[2:]) if kind == "songs" else library.add_noise([args[2]], pack="pub")
    assert len(report.added) == 4 and not library.repair().changed
