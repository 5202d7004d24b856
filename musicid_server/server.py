"""Serving over HTTPS with uvicorn: in the foreground (``musicid serve``) or on a background
thread (the app's Phone panel). Both build the same ``ServerContext`` and app."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Optional

from musicid_core.library import Library
from musicid_server.app import create_app
from musicid_server.certificate import Certificate, ensure_certificate, local_addresses
from musicid_server.config import LOCAL_HOST, ServerConfig
from musicid_server.context import ServerContext
from musicid_server.pairing import Pairing

log = logging.getLogger(__name__)
SERVER_FOLDER = "server"
"""Inside the data folder: token, cert.pem, key.pem."""


def server_folder(library: Library) -> Path:
    folder = library.root / SERVER_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pairing_url(config: ServerConfig, token: str) -> str:
    host = config.host
    if host in ("0.0.0.0", "", "::"):
        addresses = local_addresses()
        host = addresses[0] if addresses else LOCAL_HOST
    return f"https://{host}:{config.port}/?token={token}"


def uvicorn_server(context: ServerContext, certificate: Certificate) -> Any:
    import uvicorn

    from musicid_server.protocol import guarded_protocol

    config = context.config
    return uvicorn.Server(uvicorn.Config(
        create_app(context), host=config.host, port=config.port, log_level="warning",
        http=guarded_protocol(config.header_timeout_s),
        ssl_certfile=str(certificate.cert_path), ssl_keyfile=str(certificate.key_path),
        limit_concurrency=config.max_connections, timeout_keep_alive=5, proxy_headers=False,
        server_header=False, h11_max_incomplete_event_size=16 * 1024,
    ))


class BackgroundServer:
    """uvicorn on its own thread; ``stop`` asks it to finish and waits (briefly)."""

    def __init__(self, context: ServerContext, certificate: Certificate) -> None:
        self.context = context
        self.certificate = certificate
        self._server = uvicorn_server(context, certificate)
        self._thread = threading.Thread(target=self._run, name="musicid-phone-server", daemon=True)
        self.error: Optional[BaseException] = None

    def start(self, timeout: float = 15.0) -> None:
        """Start and wait until the socket listens; raise OSError when it cannot (port taken)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            self.stop()
            raise OSError(f"the phone server could not listen on {self.context.config.host}:{self.context.config.port}"
                          f"{f' ({self.error})' if self.error else ' (is the port in use?)'}")

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and bool(self._server.started)

    def _run(self) -> None:
        try:
            self._server.run()
        except BaseException as exc:  # noqa: BLE001 - reported by start(); uvicorn exits via SystemExit on bind failure
            self.error = exc
            log.error("phone server stopped: %r", exc)


def prepare(library: Library) -> tuple[Pairing, Certificate]:
    """The token and certificate for this data folder (made on first use)."""
    folder = server_folder(library)
    return Pairing(folder), ensure_certificate(folder)
