"""Everything the routes share, handed to ``create_app`` by whoever starts the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from musicid_core.library import Library
from musicid_server.config import ServerConfig
from musicid_server.pairing import Pairing
from musicid_server.recognition import RecognizerProvider
from musicid_server.training_jobs import TrainingControl


@dataclass
class ServerContext:
    library: Library
    pairing: Pairing
    recognizer: RecognizerProvider
    """Called on the recognition worker thread; raises ``ModelError`` when there is no model."""
    training: TrainingControl
    config: ServerConfig = field(default_factory=ServerConfig)
    fingerprint: str = ""
    """The certificate's SHA-256 fingerprint, shown on the page."""
    on_library_changed: Callable[[], None] = lambda: None
    """Called (on a server thread) after a song is added or removed through the API."""
