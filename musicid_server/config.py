"""What one server run is allowed: where it listens and the limits that keep it safe."""

from __future__ import annotations

from dataclasses import dataclass

LOCAL_HOST = "127.0.0.1"
NETWORK_HOST = "0.0.0.0"
DEFAULT_PORT = 8765


@dataclass(frozen=True)
class ServerConfig:
    host: str = LOCAL_HOST
    """127.0.0.1 unless the person allows phones on this network (then 0.0.0.0)."""
    port: int = DEFAULT_PORT
    max_recording_bytes: int = 8 << 20
    """A 30-s phone recording is 0.2-0.5 MB (opus/AAC) or 2.6 MB (48 kHz 16-bit wav)."""
    max_song_bytes: int = 200 << 20
    """Song uploads: a 30-minute flac fits."""
    max_recording_seconds: float = 120.0
    """Longer recordings are refused before decoding (the verdict uses the middle 20 s anyway)."""
    decode_timeout_s: float = 15.0
    header_timeout_s: float = 10.0
    """A connection must complete its request headers this soon (slow-loris headers)."""
    body_timeout_s: float = 30.0
    """A client that sends nothing for this long mid-body gets 408 (slow-loris bodies)."""
    rate_per_second: float = 2.0
    """Per-client sustained requests per second (a phone sends one every 2 s)."""
    rate_burst: int = 10
    queue_size: int = 8
    """Recognition requests waiting for the one worker; more get 503 with Retry-After."""
    max_connections: int = 64
    """uvicorn answers 503 beyond this many simultaneous connections."""
