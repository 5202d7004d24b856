"""Free-space checks and the translation of failed writes into sentences (no root needed; the
real full and read-only disks are in tests/reliability/test_rel_disk_full.py)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from musicid_core import diskspace
from musicid_core.diskspace import StorageError, ensure_free_space, storage_error, translated


def test_sizes_read_like_a_file_manager() -> None:
    sizes = (512, 3_940_000, 46_200_000, 250_000_000, 1_250_000_000)
    assert [diskspace.format_bytes(n) for n in sizes] == ["512 B", "3.94 MB", "46.2 MB", "250 MB", "1.25 GB"]


def test_refusal_says_what_how_much_where_and_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 38_000_000)
    with pytest.raises(StorageError) as info:
        ensure_free_space(tmp_path, 45_000_000, doing="importing 12 songs")
    text = str(info.value)
    assert text.startswith("importing 12 songs needs about 46.0 MB in ")  # 45 MB and the headroom
    assert str(tmp_path) in text and "only 38.0 MB is free" in text and "choose another data folder" in text
    assert (info.value.kind, info.value.needed, info.value.free) == ("full", 45_000_000 + diskspace.HEADROOM_BYTES,
                                                                   38_000_000)
    ensure_free_space(tmp_path, 30_000_000, doing="importing 3 songs")  # fits: no error


def test_a_missing_folder_is_gone_not_created(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="is gone") as info:
        ensure_free_space(tmp_path / "usb" / "musicid", 0, doing="importing a song")
    assert info.value.kind == "gone" and not (tmp_path / "usb").exists()


@pytest.mark.parametrize(
    "code, kind", [(errno.ENOSPC, "full"), (errno.EDQUOT, "full"), (errno.EROFS, "read-only"), (errno.EIO, "io")]
)
def test_storage_errnos_become_sentences(code: int, kind: str, tmp_path: Path) -> None:
    failure = OSError(code, os.strerror(code), str(tmp_path / "songs" / "x.npy"))
    error = storage_error(failure, "saving the model", tmp_path)
    assert error is not None and error.kind == kind and error.data_folder
    assert str(error).startswith("saving the model ") and str(tmp_path) in str(error) and "Errno" not in str(error)


def test_what_is_not_the_data_folders_problem_passes_unchanged(tmp_path: Path) -> None:
    missing_source = FileNotFoundError(errno.ENOENT, "No such file", "/somewhere/song.wav")
    assert storage_error(missing_source, "importing", tmp_path) is None  # the folder is still there
    unreadable_source = PermissionError(errno.EACCES, "Permission denied", "/elsewhere/song.wav")
    assert storage_error(unreadable_source, "importing", tmp_path) is None
    assert storage_error(OSError("3882807 requested and 2613184 written"), "importing", tmp_path) is None  # room left
    assert storage_error(ValueError("bad"), "importing", tmp_path) is None


def test_a_short_write_on_a_full_disk_counts_as_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 0)
    error = storage_error(OSError("3882807 requested and 2613184 written"), "importing song5.wav", tmp_path)
    assert error is not None and error.kind == "full" and "is full (0 B free)" in str(error)


def test_a_full_temporary_folder_does_not_blame_the_data_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "system-tmp"
    elsewhere.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    error = storage_error(OSError(errno.ENOSPC, "No space", str(elsewhere / "x")), "decoding", data)
    assert error is not None and not error.data_folder and "data folder" not in str(error)


def test_translated_cleans_up_only_after_storage_failures(tmp_path: Path) -> None:
    cleaned: list[str] = []
    with pytest.raises(StorageError, match="read-only"):
        with translated("writing", tmp_path, cleanup=lambda: cleaned.append("x")):
            raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "a"))
    with pytest.raises(KeyError):
        with translated("writing", tmp_path, cleanup=lambda: cleaned.append("y")):
            raise KeyError("not a disk problem")
    assert cleaned == ["x"]


def test_noting_keeps_the_details() -> None:
    error = StorageError("importing stopped", kind="full", folder=Path("/d"), doing="importing", needed=5, free=1)
    noted = error.noting("2 songs were kept")
    assert str(noted) == "importing stopped. 2 songs were kept"
    assert (noted.kind, noted.needed, noted.free) == ("full", 5, 1)


@pytest.mark.parametrize("fallocate", [True, False], ids=["posix_fallocate", "zeros"])
def test_reserve_allocates_every_block_of_a_memory_mapped_file(
    fallocate: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not fallocate:
        monkeypatch.delattr(os, "posix_fallocate", raising=False)
    path = tmp_path / "windows.npy"
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(64, 128, 256))
    assert path.stat().st_blocks * 512 < array.nbytes // 2  # sparse: a full disk would meet the map
    diskspace.reserve(path, array.offset + array.nbytes, "building", tmp_path, start=array.offset)
    assert path.stat().st_blocks * 512 >= array.nbytes
    assert not np.any(array) and np.load(path, mmap_mode="r").shape == (64, 128, 256)


def test_sqlite_errors_in_the_catalogue_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def failure(name: str) -> sqlite3.OperationalError:
        exc = sqlite3.OperationalError(name.lower())
        exc.sqlite_errorname = name  # type: ignore[attr-defined]
        return exc

    assert storage_error(failure("SQLITE_BUSY"), "changing", tmp_path) is None  # busy is no disk problem
    assert storage_error(failure("SQLITE_CORRUPT"), "changing", tmp_path) is None  # damage: repair's business
    full = storage_error(failure("SQLITE_FULL"), "changing the library catalogue", tmp_path)
    assert full is not None and full.kind == "full"
    denied = storage_error(failure("SQLITE_READONLY"), "changing", tmp_path)  # the disk itself is writable
    assert denied is not None and denied.kind in ("denied", "read-only")
    assert storage_error(failure("SQLITE_CANTOPEN"), "changing", tmp_path) is None  # the folder is there
    gone = storage_error(failure("SQLITE_CANTOPEN"), "changing", tmp_path / "unplugged")
    assert gone is not None and gone.kind == "gone"
    io = storage_error(failure("SQLITE_IOERR_WRITE"), "changing", tmp_path)
    assert io is not None and io.kind == "io"
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 4096)
    io_on_full = storage_error(failure("SQLITE_IOERR_SHMSIZE"), "changing", tmp_path)
    assert io_on_full is not None and io_on_full.kind == "full"
