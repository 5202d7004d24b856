"""``musicid serve``: the phone server in the foreground until SIGINT/SIGTERM.

The first line of standard output is the pairing URL (with its token), so a script can read it;
the certificate's fingerprint and hints follow on standard error.
"""

from __future__ import annotations

import signal
import sys

from musicid_core.library import Library
from musicid_server.config import ServerConfig
from musicid_server.context import ServerContext
from musicid_core.models.current import CurrentRecognizer
from musicid_server.server import pairing_url, prepare, uvicorn_server
from musicid_server.training_jobs import BackgroundTraining
from training.enrolment import recalibrate_if_outdated


def serve(library: Library, config: ServerConfig, rotate_token: bool = False) -> int:
    pairing, certificate = prepare(library)
    if rotate_token:
        pairing.rotate()
    context = ServerContext(library=library, pairing=pairing, recognizer=CurrentRecognizer(library, recalibrate_if_outdated),
                            training=BackgroundTraining(library), config=config,
                            fingerprint=certificate.fingerprint)
    server = uvicorn_server(context, certificate)
    print(pairing_url(config, pairing.token), flush=True)
    print(f"certificate SHA-256 fingerprint: {certificate.fingerprint}", file=sys.stderr)
    if config.host == "127.0.0.1":
        print("listening on this computer only; use --host 0.0.0.0 to allow phones on this network",
              file=sys.stderr)
    print("open the URL on the phone (or scan the QR code in the app's Phone panel); Ctrl+C stops",
          file=sys.stderr, flush=True)
    # uvicorn catches SIGINT/SIGTERM, finishes open requests, then re-sends the signal to the handler
    # that was in place before it; this one notes it, so the process ends through the normal path.
    stopped_by: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: stopped_by.append(number))
    server.run()
    if not server.started:
        print(f"musicid: error: could not listen on {config.host}:{config.port} (is the port in use?)",
              file=sys.stderr)
        return 1
    print("musicid: server stopped", file=sys.stderr)
    return 0
