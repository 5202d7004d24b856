"""Free space and failed writes, turned into sentences a person can act on.

Every long write (a song or noise import, the training examples, a model bundle, an upload)
first asks ``ensure_free_space(folder, needed_bytes, doing=...)``: the folder must still exist,
be writable and have the space, or a ``StorageError`` says what was being done, how much it
needs, how much is free, on which folder, and what to do. Estimates can be wrong (another
program fills the disk meanwhile, a drive is pulled out), so the writes themselves run inside
``translated(doing, folder)``, which turns ENOSPC/EDQUOT/EROFS/EIO (and a folder that vanished)
into the same kind of sentence at any point. ``reserve`` allocates a file's blocks before it is
memory-mapped, so a full disk is an error and never a SIGBUS.

No Qt, no audio: one job, reusable by the library, training, the model store and a server.
"""

from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from musicid_core.errors import MusicIdError

HEADROOM_BYTES = 1 << 20
"""Kept free beyond every estimate: catalogue rewrites, per-item records, filesystem overhead."""

FULL, READ_ONLY, DENIED, GONE, IO_ERROR = "full", "read-only", "denied", "gone", "io"
_KINDS = {
    errno.ENOSPC: FULL,
    errno.EDQUOT: FULL,
    errno.EROFS: READ_ONLY,
    errno.EACCES: DENIED,
    errno.EPERM: DENIED,
    errno.EIO: IO_ERROR,
    errno.ENXIO: GONE,
    errno.ENODEV: GONE,
    errno.ESTALE: GONE,
    errno.ENOENT: GONE,
}
_SQLITE_KINDS = (("SQLITE_FULL", FULL), ("SQLITE_READONLY", READ_ONLY), ("SQLITE_IOERR", IO_ERROR),
                 ("SQLITE_CANTOPEN", GONE))
"""SQLite's own error names (``sqlite3.Error.sqlite_errorname``) for the same failures."""
_ADVICE = {
    FULL: "free some space on that disk or choose another data folder",
    READ_ONLY: "make it writable again (remount the disk read-write) or choose another data folder",
    DENIED: "give yourself write permission on it or choose another data folder",
    GONE: "reconnect the drive that holds it or choose another data folder",
    IO_ERROR: "check the drive (it may be failing or was removed) or choose another data folder",
}


class StorageError(MusicIdError):
    """A write could not be done for lack of space, a read-only or vanished folder, or a disk error.

    ``kind`` is one of "full", "read-only", "denied", "gone", "io"; ``folder`` is where it
    happened; ``needed``/``free`` are bytes when known. ``data_folder`` is False when the folder is
    outside the data folder (e.g. the system's temporary folder), where choosing another data
    folder would not help."""

    def __init__(
        self, message: str, *, kind: str, folder: Path, doing: str,
        needed: Optional[int] = None, free: Optional[int] = None, data_folder: bool = True,
    ) -> None:
        super().__init__(message)
        self.kind, self.folder, self.doing = kind, Path(folder), doing
        self.needed, self.free, self.data_folder = needed, free, data_folder

    def noting(self, note: str) -> "StorageError":
        """The same error with ``note`` appended (e.g. what was kept before it happened)."""
        return StorageError(f"{self}. {note}", kind=self.kind, folder=self.folder, doing=self.doing,
                            needed=self.needed, free=self.free, data_folder=self.data_folder)


def format_bytes(n: int) -> str:
    """Sizes as people read them: 512 B, 3.94 MB, 46.2 MB, 1.25 GB (decimal units, like file
    managers; three significant digits, so "needs 1.24 MB, 1.18 MB free" never reads as equal)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if abs(n) >= size:
            value = n / size
            return f"{value:.{2 if value < 10 else 1 if value < 100 else 0}f} {unit}"
    return f"{n} B"


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on the disk holding ``folder`` (or its nearest
    existing parent)."""
    return int(shutil.disk_usage(_nearest_existing(Path(folder))).free)


def ensure_free_space(folder: Path | str, needed_bytes: int, doing: str) -> None:
    """Refuse early, with a sentence, unless ``folder`` exists, is writable and has
    ``needed_bytes`` (plus ``HEADROOM_BYTES``) free. ``doing`` names the work ("importing 12 songs")."""
    folder = Path(folder)
    problem = _folder_problem(folder)
    if problem is not None:
        raise _error(problem, folder, doing)
    free = free_bytes(folder)
    if free < needed_bytes + HEADROOM_BYTES:
        raise StorageError(
            f"{doing} needs about {format_bytes(needed_bytes + HEADROOM_BYTES)} in {folder}, but only "
            f"{format_bytes(free)} is free there; {_ADVICE[FULL]}",
            kind=FULL, folder=folder, doing=doing, needed=needed_bytes + HEADROOM_BYTES, free=free,
        )


def ensure_present(folder: Path | str, doing: str) -> None:
    """Refuse (kind "gone") when ``folder`` no longer exists: a vanished data folder must read as
    gone, never as an empty library (and must never be recreated empty by a write)."""
    if not Path(folder).is_dir():
        raise _error(GONE, Path(folder), doing)


def storage_error(
    exc: BaseException, doing: str, folder: Path | str, needed: Optional[int] = None
) -> Optional[StorageError]:
    """The ``StorageError`` that ``exc`` stands for, or None when it is no storage failure.

    ``folder`` is the data folder (or the folder being written): a missing file counts as a
    vanished folder only when ``folder`` itself is gone, and a short write without an error
    number (numpy's "N requested and M written") counts as a full disk only when it is nearly full."""
    if isinstance(exc, StorageError):
        return exc
    folder = Path(folder)
    if isinstance(getattr(exc, "sqlite_errorname", None), str):
        return _sqlite_error(exc, doing, folder)
    if not isinstance(exc, OSError):
        return None
    kind = _KINDS.get(exc.errno) if exc.errno is not None else None
    where = _where(exc, folder)
    if kind == GONE and folder.is_dir():
        return None  # a missing source file or similar: not our folder's problem
    if kind == DENIED and not _inside(where, folder):
        return None  # reading someone's unreadable song file is reported by the import itself
    if kind is None:
        if exc.errno is not None or not folder.is_dir() or free_bytes(folder) >= HEADROOM_BYTES:
            return None
        kind = FULL
    if kind == GONE:
        where = folder
    return _error(kind, where, doing, needed, data_folder=_inside(where, folder))


@contextmanager
def translated(
    doing: str, folder: Path | str, needed: Optional[int] = None, cleanup: Optional[Callable[[], None]] = None
) -> Iterator[None]:
    """Run a write; a storage failure becomes a ``StorageError`` (after ``cleanup``, which removes
    what the failed step made). Other exceptions pass unchanged (``cleanup`` still runs for
    storage failures only: the callers' own ``except`` blocks handle the rest)."""
    try:
        yield
    except OSError as exc:
        error = storage_error(exc, doing, folder, needed)
        if error is None:
            raise
        if cleanup is not None:
            _quietly(cleanup)
        raise error from None
    except StorageError:
        if cleanup is not None:
            _quietly(cleanup)
        raise


def reserve(path: Path, size: int, doing: str, folder: Path | str, start: int = 0) -> None:
    """Allocate the first ``size`` bytes of ``path`` on disk now (``posix_fallocate``, or writing
    zeros from ``start`` where that is missing, ``start`` being where a fresh file's holes begin),
    so a memory map of it can never meet a full disk (SIGBUS) later."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise storage_error(exc, doing, folder, size) or exc
    try:
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, size)
                return
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise
        _write_zeros(fd, start, size)
    except OSError as exc:
        raise storage_error(exc, doing, folder, size) or exc
    finally:
        os.close(fd)


# ----- internals
def _error(kind: str, folder: Path, doing: str, needed: Optional[int] = None, data_folder: bool = True) -> StorageError:
    advice = _ADVICE[kind] if data_folder else _ADVICE[kind].split(" or choose another data folder")[0]
    free = None
    if kind == FULL:
        free = free_bytes(folder)
        need = f", about {format_bytes(needed)} needed" if needed else ""
        text = f"{doing} stopped: the disk holding {folder} is full ({format_bytes(free)} free{need}); {advice}"
    elif kind == READ_ONLY:
        text = f"{doing} is not possible: {folder} is on a read-only disk; {advice}"
    elif kind == DENIED:
        text = f"{doing} is not possible: {folder} cannot be written (permission denied); {advice}"
    elif kind == GONE:
        text = f"{doing} stopped: the folder {folder} is gone (was its drive removed or unmounted?); {advice}"
    else:
        text = f"{doing} stopped: the disk holding {folder} reported an input/output error; {advice}"
    return StorageError(text, kind=kind, folder=folder, doing=doing, needed=needed, free=free, data_folder=data_folder)


def _sqlite_error(exc: BaseException, doing: str, folder: Path) -> Optional[StorageError]:
    """An SQLite error in ``folder`` (the catalogue's) as a ``StorageError``, or None (busy, damage)."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    kind = next((k for prefix, k in _SQLITE_KINDS if name.startswith(prefix)), None)
    if kind is None:
        return None
    if kind == GONE and folder.is_dir():  # "cannot open": on a read-only disk WAL mode cannot start
        kind = _folder_problem(folder)
        if kind not in (READ_ONLY, DENIED):
            return None
    if kind == READ_ONLY:  # a read-only disk, or only the file or folder is not writable
        kind = _folder_problem(folder) or DENIED
    if kind == IO_ERROR and folder.is_dir() and free_bytes(folder) < HEADROOM_BYTES:
        kind = FULL  # SQLite reports a full tmpfs as an I/O error (its WAL index cannot grow)
    return _error(kind, folder, doing)


def _folder_problem(folder: Path) -> Optional[str]:
    if not folder.is_dir():
        return GONE
    if hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY:  # POSIX; Windows says EROFS later
        return READ_ONLY
    if not os.access(folder, os.W_OK):
        return DENIED
    return None


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its nearest parent that exists (a folder about to be made is on its disk)."""
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            return candidate
    return Path(folder.anchor or os.sep)


def _where(exc: OSError, folder: Path) -> Path:
    """The existing folder nearest to the file the error names (the data folder when it names none)."""
    if not exc.filename:
        return folder
    path = Path(os.fsdecode(exc.filename)).parent
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
    except ValueError:
        return False
    return True


def _write_zeros(fd: int, start: int, size: int, block: int = 1 << 20) -> None:
    """Write zeros over ``start..size`` of a fresh file (all holes), so every block is allocated."""
    zeros = bytes(block)
    position = start
    while position < size:
        position += os.pwrite(fd, zeros[: min(block, size - position)], position)
    os.fsync(fd)


def _quietly(cleanup: Callable[[], None]) -> None:
    try:
        cleanup()
    except Exception:  # noqa: BLE001 - never hide the failure being reported behind a clean-up's
        pass  # the disk that just failed may refuse the clean-up too; the next command retries
