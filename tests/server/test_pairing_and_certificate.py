"""The pairing token and the certificate: made once, kept private, reused, replaced on request;
and the small pure helpers that keep client strings away from paths."""

from __future__ import annotations

import hashlib
import ipaddress
import stat
from pathlib import Path

import pytest

from musicid_server.certificate import ensure_certificate
from musicid_server.pairing import TOKEN_FILE, Pairing
from musicid_server.recordings import UnsupportedMedia, sniff_suffix
from musicid_server.routes import safe_stem


def test_the_token_is_kept_private_reused_and_rotated(tmp_path: Path) -> None:
    first = Pairing(tmp_path)
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.token) >= 43 and Pairing(tmp_path).token == first.token
    old = first.token
    new = first.rotate()
    assert new != old and Pairing(tmp_path).token == new
    assert first.is_valid(new) and not first.is_valid(old) and not first.is_valid("") and not first.is_valid(None)
    path.write_text("short")  # a damaged token file is replaced, never trusted
    assert Pairing(tmp_path).token != "short"


def test_the_certificate_is_made_once_and_names_this_machine(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    made = ensure_certificate(tmp_path)
    assert stat.S_IMODE(made.key_path.stat().st_mode) == 0o600
    again = ensure_certificate(tmp_path)
    assert again.fingerprint == made.fingerprint
    cert = x509.load_pem_x509_certificate(made.cert_path.read_bytes())
    der = cert.public_bytes(Encoding.DER)
    assert made.fingerprint == ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    made.cert_path.write_text("damaged")
    assert ensure_certificate(tmp_path).fingerprint != made.fingerprint


@pytest.mark.parametrize(("head", "suffix"), [
    (b"RIFF\0\0\0\0WAVEfmt ", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"\x1a\x45\xdf\xa3", ".webm"),
    (b"\0\0\0\x20ftypM4A ", ".m4a"), (b"ID3\x04", ".mp3"), (b"\xff\xfb\x90\x00", ".mp3"),
])
def test_formats_are_told_from_their_first_bytes(head: bytes, suffix: str) -> None:
    assert sniff_suffix(head + bytes(32)) == suffix


@pytest.mark.parametrize(("head", "words"), [(b"PK\x03\x04", "zip"), (b"%PDF-1.7", "PDF"), (b"<html>", "text"),
                                             (b"\x89PNG\r\n", "image"), (b"\0" * 16, "not a recording")])
def test_what_is_no_recording_is_named(head: bytes, words: str) -> None:
    with pytest.raises(UnsupportedMedia, match=words):
        sniff_suffix(head + bytes(32))


@pytest.mark.parametrize(("name", "stem"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\x\\My Song.flac", "My Song"), (".hidden.wav", "hidden"),
    ("a/b/..", "uploaded song"), ("song<script>.mp3", "songscript"), ("", "uploaded song"),
    ("x" * 300 + ".wav", "x" * 80),
    ("Mötley Crüe – Kickstart.m4a", "Mötley Crüe  Kickstart"),
])
def test_client_file_names_become_harmless_stems(name: str, stem: str) -> None:
    assert safe_stem(name) == stem
    assert "/" not in safe_stem(name) and "\\" not in safe_stem(name) and not safe_stem(name).startswith(".")
