"""The server's self-signed certificate, made on first use and kept in the data folder.

Browsers give the microphone only to secure pages, so the phone page must be HTTPS even on a
home network. There is no authority to sign a certificate for a laptop's LAN address, so the
person accepts this one once on each phone, checking its SHA-256 fingerprint against the one the
app (and ``musicid serve``) shows. The key never leaves the folder (mode 0600).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from musicid_core.storage import atomic_write_bytes

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALID_DAYS = 3650


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path
    fingerprint: str
    """SHA-256 of the DER certificate, as colon-separated hex (what browsers show)."""


def ensure_certificate(folder: Path) -> Certificate:
    """The certificate in ``folder``, made first when it is missing or unreadable."""
    from cryptography import x509

    folder = Path(folder)
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if not key_path.is_file():
            raise ValueError("key missing")
    except (OSError, ValueError):
        cert = _make(cert_path, key_path)
    return Certificate(cert_path, key_path, _fingerprint(cert))


def local_addresses() -> list[str]:
    """This machine's IPv4 addresses a phone on the LAN might reach (best effort, no traffic sent)."""
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))
    except OSError:
        pass
    try:  # the address of the default route's interface; UDP connect sends nothing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            found.add(probe.getsockname()[0])
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127."))


def _make(cert_path: Path, key_path: Path):  # type: ignore[no-untyped-def]
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"MusicID on {socket.gethostname()}"[:64])])
    addresses = ["127.0.0.1", *local_addresses()]
    alt_names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname() or "localhost")]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    atomic_write_bytes(key_path, key_bytes)
    os.chmod(key_path, 0o600)
    atomic_write_bytes(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert


def _fingerprint(cert) -> str:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import hashes

    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))
