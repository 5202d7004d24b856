"""The pairing token: a random secret in the QR code's URL, kept in the data folder.

The page exchanges it for an HttpOnly, Secure, SameSite=Strict cookie holding the same secret;
scripts send ``Authorization: Bearer TOKEN``. Rotating writes a new token, so every cookie and
script holding the old one gets 401 from then on. Comparisons are constant-time.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import Optional

from musicid_core.storage import atomic_write_bytes

TOKEN_FILE = "token"
COOKIE_NAME = "musicid_session"
_TOKEN_BYTES = 32


class Pairing:
    """Owns ``<folder>/token`` (mode 0600): made on first use, replaced by ``rotate``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._token = self._load() or self._write_new()

    @property
    def token(self) -> str:
        with self._lock:
            return self._token

    def rotate(self) -> str:
        """A new token; every paired phone and script must pair again."""
        with self._lock:
            self._token = self._write_new()
            return self._token

    def is_valid(self, candidate: Optional[str]) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self.token.encode("ascii"))

    def _load(self) -> Optional[str]:
        try:
            text = (self.folder / TOKEN_FILE).read_text("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text if len(text) >= 32 and text.replace("-", "").replace("_", "").isalnum() else None

    def _write_new(self) -> str:
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        path = self.folder / TOKEN_FILE
        atomic_write_bytes(path, token.encode("ascii"))
        os.chmod(path, 0o600)
        return token
