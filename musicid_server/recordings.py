"""A request body becomes audio: sniff the format from its first bytes, write it to a private
temporary file whose name the server chooses, decode it with the library's decoder.

Nothing the client says (file name, content type) becomes a path: the suffix comes from the
sniffed format, which is also what picks the decoder. What cannot be a recording is refused
with 415 before decoding; what decodes badly gets the decoder's reason (422).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from musicid_core.audio.decode import load_audio
from musicid_core.errors import AudioError


class UnsupportedMedia(Exception):
    """415: not a recording in a format MusicID reads."""


def sniff_suffix(head: bytes) -> str:
    """The file suffix for these first bytes, or raise ``UnsupportedMedia`` saying what it is."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: webm / matroska (Chrome's MediaRecorder)
        return ".webm"
    if head[4:8] == b"ftyp":  # ISO base media: mp4 / m4a (Safari's MediaRecorder)
        return ".m4a"
    if head[:4] in (b"FORM",) and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return ".mp3"
    if head[:2] == b"\xff\xf1" or head[:2] == b"\xff\xf9":
        return ".aac"
    raise UnsupportedMedia(_what_it_is(head))


def decode_recording(
    body: bytes, *, scratch: Optional[Path] = None, max_seconds: float, timeout_s: float, label: str = "the recording"
) -> np.ndarray:
    """Mono float32 audio at the feature rate, or ``AudioError``/``UnsupportedMedia`` saying why."""
    if not body:
        raise AudioError(label, "the request body is empty; send the recording as the body or as the 'audio' field")
    suffix = sniff_suffix(body[:64])
    with tempfile.TemporaryDirectory(prefix="musicid-upload-", dir=scratch) as folder:
        path = Path(folder) / f"recording{suffix}"
        path.write_bytes(body)
        try:
            return load_audio(path, max_seconds=max_seconds, allow_silence=True, timeout_s=timeout_s)
        except AudioError as exc:
            raise AudioError(label, exc.reason) from None


def _what_it_is(head: bytes) -> str:
    if head[:4] == b"PK\x03\x04":
        return "this is a zip archive, not a recording; send one audio file"
    if head[:5] == b"%PDF-":
        return "this is a PDF document, not a recording"
    if head[:4] in (b"\x89PNG", b"GIF8") or head[:3] == b"\xff\xd8\xff":
        return "this is an image, not a recording"
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"[", b"<"):
        return "this is text (JSON, HTML or XML), not a recording"
    return ("this is not a recording in a format MusicID reads "
            "(wav, flac, ogg/opus, webm/opus, mp4/m4a AAC, mp3, aiff)")
