"""Read audio members of a user-supplied .zip without trusting it.

Member names never become paths on disk as given: names that are absolute, contain ``..``,
are links, or are not audio are skipped with a reason, and sizes are checked before anything is
decompressed so a zip bomb is refused instead of filling the disk or memory.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterator

from musicid_core.errors import AudioError

MAX_MEMBER_BYTES = 512 << 20
MAX_TOTAL_BYTES = 2 << 30
MAX_RATIO = 200
MAX_MEMBERS = 5000
_ZIP_FAILURES = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError, OSError)
"""What a damaged, encrypted or exotic zip can raise while being read (CRC errors are BadZipFile)."""


@dataclass(frozen=True)
class ZipMember:
    name: str
    info: zipfile.ZipInfo


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a member must not be used, or ``None`` if it is fine."""
    name = info.filename
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "absolute path in zip"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "path escapes the pack folder ('..')"
    mode = (info.external_attr >> 16) & 0xFFFF
    if stat.S_ISLNK(mode):
        return "symbolic link in zip"
    if info.file_size > MAX_MEMBER_BYTES:
        return f"member is {info.file_size >> 20} MiB uncompressed (limit {MAX_MEMBER_BYTES >> 20} MiB)"
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        return "member compresses suspiciously well (zip bomb?)"
    return None


def audio_members(zip_path: Path, extensions: frozenset[str]) -> Iterator[tuple[ZipMember, str | None]]:
    """Yield each non-folder member with ``None`` or the reason it is skipped."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except _ZIP_FAILURES as exc:
        raise AudioError(zip_path, f"not a readable zip file ({str(exc)[:120]})") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise AudioError(zip_path, f"the zip holds {len(infos)} files; at most {MAX_MEMBERS} are accepted")
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            raise AudioError(zip_path, f"the zip unpacks to {total >> 20} MiB; the limit is {MAX_TOTAL_BYTES >> 20} MiB")
        for info in infos:
            reason = unsafe_reason(info)
            if reason is None and PurePosixPath(info.filename).suffix.lower() not in extensions:
                reason = "not an audio file"
            yield ZipMember(info.filename, info), reason


def extract_member(zip_path: Path, member: ZipMember, target: Path) -> None:
    """Copy one checked member to ``target`` (a name we chose), stopping at the declared size."""
    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open(member.info) as src, target.open("wb") as dst:
            written = 0
            for block in iter(lambda: src.read(1 << 20), b""):
                written += len(block)
                if written > member.info.file_size or written > MAX_MEMBER_BYTES:
                    raise AudioError(zip_path, f"{member.name}: member is larger than its header says")
                dst.write(block)
    except _ZIP_FAILURES as exc:
        raise AudioError(zip_path, f"{member.name}: cannot be unpacked ({str(exc)[:120]})") from None
