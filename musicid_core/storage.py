"""Atomic file writes and checksummed JSON documents.

A write goes to a temporary file in the same folder, is flushed and fsynced, then renamed over
the target with ``os.replace`` (atomic on POSIX and Windows). A crash leaves either the old file
or the new one, never half of one. JSON documents carry a schema number and a SHA-256 of their
payload so that a hand-edited or damaged file is detected instead of silently used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from musicid_core.errors import LibraryError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """Save an array as .npy atomically (``np.save`` to a temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def payload_checksum(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_checked_json(path: Path, schema: int, payload: Any) -> None:
    document = {"schema": schema, "sha256": payload_checksum(payload), "payload": payload}
    atomic_write_bytes(path, json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8"))


def read_checked_json(path: Path, schema: int) -> Any:
    """Read a document written by ``write_checked_json``; raise ``LibraryError`` if it is damaged."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad UTF-8, bad JSON, an absurdly long number
        raise LibraryError(f"{path} is unreadable or not valid JSON ({str(exc)[:120]})") from None
    except RecursionError:
        raise LibraryError(f"{path} is nested too deeply to be a MusicID document") from None
    if not isinstance(document, dict) or "payload" not in document:
        raise LibraryError(f"{path} is not a MusicID document")
    if document.get("schema") != schema:
        raise LibraryError(f"{path} has schema {str(document.get('schema'))[:20]!r}; this version reads schema {schema}")
    try:
        actual = payload_checksum(document["payload"])
    except (RecursionError, ValueError):
        raise LibraryError(f"{path} holds a payload that cannot be checked") from None
    if document.get("sha256") != actual:
        raise LibraryError(f"{path} fails its checksum: it was edited or damaged")
    return document["payload"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` survive a power cut (POSIX; a no-op elsewhere)."""
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
