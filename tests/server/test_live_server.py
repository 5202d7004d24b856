"""Against a real uvicorn over HTTPS on 127.0.0.1: ``musicid serve`` itself (first line, clean
stop), slow-loris clients and hostile bodies while the server keeps answering a normal client."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from tests_server_helpers import count_hostile, library_recording, library_snapshot, make_context, wav_bytes

from musicid_server.certificate import ensure_certificate
from musicid_server.server import BackgroundServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(trained_library, shared_model, tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    """(base URL, token, context) of a running server on the trained library, read-only."""
    library, _ = trained_library
    before = library_snapshot(library)
    context = make_context(library, tmp_path, shared_model, port=free_port(), body_timeout_s=2.0, header_timeout_s=2.0,
                           rate_per_second=50.0, rate_burst=200)
    server = BackgroundServer(context, ensure_certificate(tmp_path / "server"))
    server.start()
    try:
        yield f"https://127.0.0.1:{context.config.port}", context.pairing.token, context
    finally:
        server.stop()
    assert library_snapshot(library) == before


def _tls_socket(port: int) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    return tls.wrap_socket(raw, server_hostname="127.0.0.1")


def test_slow_loris_and_hostile_bodies_while_others_are_answered(live) -> None:  # type: ignore[no-untyped-def]
    import httpx

    base, token, context = live
    port = context.config.port
    auth = {"Authorization": f"Bearer {token}"}
    stop = threading.Event()
    outcomes: dict[str, list[str]] = {"headers": [], "body": []}

    def slow_headers(n: int) -> None:
        """Sends a request line and then one header byte every 0.3 s, never finishing."""
        try:
            sock = _tls_socket(port)
            sock.sendall(b"GET /api/v1/model HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not stop.is_set():
                sock.sendall(b"X")
                time.sleep(0.3)
            sock.close()
            outcomes["headers"].append("still open")
        except OSError as exc:
            outcomes["headers"].append(f"closed by the server ({type(exc).__name__})")

    def slow_body(n: int) -> None:
        """Complete headers with the token, a 1 MB Content-Length, then a few bytes and silence."""
        try:
            sock = _tls_socket(port)
            sock.sendall(f"POST /api/v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                         f"Content-Length: 1000000\r\n\r\nRIFF".encode())
            sock.settimeout(20)
            answer = sock.recv(4096).decode("latin-1")
            outcomes["body"].append(answer.split("\r\n", 1)[0])
            sock.close()
        except OSError as exc:
            outcomes["body"].append(f"error {exc}")

    threads = [threading.Thread(target=slow_headers, args=(i,)) for i in range(12)]
    threads += [threading.Thread(target=slow_body, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    count_hostile("slow-loris clients (12 dribbling headers, 6 stalling bodies)", 18)
    with httpx.Client(base_url=base, verify=False, timeout=60, headers=auth) as client:
        answered = []
        recording = wav_bytes(library_recording(0, seed=11))
        for _ in range(4):
            answered.append(client.get("/api/v1/model").status_code)
            response = client.post("/api/v1/identify", content=recording)
            answered.append(response.status_code)
            assert response.json()["matches"][0]["title"] == "song0"
            # hostile bodies on the real server, between the normal requests
            hostile = [
                client.post("/api/v1/identify", content=iter([b"RIFF" + bytes(1 << 20)] * 10)),  # chunked, 10 MB
                client.post("/api/v1/identify", content=b"PK\x03\x04" + bytes(100)),
                client.post("/api/v1/identify", headers={"Authorization": "Bearer nope"}, content=recording),
            ]
            assert [r.status_code for r in hostile] == [413, 415, 401]
            count_hostile("hostile bodies on the live server (chunked 10 MB, zip, wrong token)", 3)
        assert answered == [200] * 8
        time.sleep(3)  # past the 2-s body timeout
        stop.set()
        for t in threads:
            t.join(30)
        assert client.get("/api/v1/model").status_code == 200  # still answering after them all
    assert outcomes["body"] and all(line.startswith("HTTP/1.1 408") for line in outcomes["body"]), outcomes
    assert len(outcomes["headers"]) == 12 and all(o.startswith("closed by the server") for o in outcomes["headers"]), \
        outcomes["headers"]


def test_a_three_hour_recording_is_refused_quickly(live, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Three hours of 6 kb/s opus (7.7 MB, under the byte cap): refused from its header, not decoded;
    three hours of wav (476 MB) streamed: cut at the byte cap."""
    import httpx

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    base, token, context = live
    ten = tmp_path / "ten.ogg"
    tone = "sine=frequency=440:sample_rate=8000:duration=10"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", tone, "-ac", "1", "-c:a", "libopus",
                    "-b:a", "6k", "-application", "voip", str(ten)], check=True)
    three_hours = tmp_path / "three-hours.ogg"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "1079", "-i", str(ten), "-c", "copy",
                    str(three_hours)], check=True)
    body = three_hours.read_bytes()
    assert len(body) < context.config.max_recording_bytes
    with httpx.Client(base_url=base, verify=False, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.post("/api/v1/identify", content=body)
        assert response.status_code == 422 and "180 minutes" in response.json()["error"]["message"], response.text
        header = wav_bytes(np.zeros(16, np.float32))[:44]

        def three_hours_of_wav() -> Iterator[bytes]:
            yield header
            block = bytes(1 << 20)
            for _ in range(476):
                yield block
        response = client.post("/api/v1/identify", content=three_hours_of_wav())
        assert response.status_code == 413
    count_hostile("3-hour recordings (opus under the cap, wav over it)", 2)


def test_musicid_serve_prints_the_url_first_and_stops_cleanly(trained_library, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    library, _ = trained_library
    data = tmp_path / "data"
    shutil.copytree(library.root, data, ignore=shutil.ignore_patterns(".lock", "cache", "tmp"))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    command = [sys.executable, "-m", "musicid_cli", "serve", "--port", str(port), "--data-dir", str(data)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert first.startswith(f"https://127.0.0.1:{port}/?token="), first
        token = first.split("token=")[1]
        assert (data / "server" / "token").read_text() == token
        deadline = time.monotonic() + 60
        with httpx.Client(verify=False, timeout=10) as client:
            while True:
                try:
                    response = client.get(f"https://127.0.0.1:{port}/api/v1/model",
                                          headers={"Authorization": f"Bearer {token}"})
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
                    time.sleep(0.3)
            assert response.status_code == 200 and response.json()["ready"] is True
            assert client.get(f"https://127.0.0.1:{port}/api/v1/model").status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "server stopped" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
