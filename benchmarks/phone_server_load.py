"""Load on the phone server: 16 concurrent clients x 25 requests of 10-s recordings.

    python -m benchmarks.phone_server_load [--clients 16] [--requests 25]

The demo library (8 songs and their shipped model) is installed into a temporary data folder and
served by ``musicid serve`` in a child process over HTTPS on 127.0.0.1. Each query is a 10-s
excerpt of a demo song at a seeded offset with a bundled room-noise clip at 5 dB SNR, encoded as
webm/opus 64 kbit/s 48 kHz (what Android Chrome sends). Every answer is checked: 200 with the
right song first, or 429/503 with a Retry-After header; anything else is counted as a failure.
Runs twice: with the default limits (one machine's clients share one address, so the per-client
limit of 2 requests/s decides), and with the rate limit lifted, so the one recognition worker and
its queue of 8 decide. Latency is per request, p50/p95 in ms; server RSS is read from
/proc/PID/status before the load (model loaded and warmed by one request) and after it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import ROOT, command_line, machine, write_result

SNR_DB = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _queries(library: Any, folder: Path, count: int) -> list[tuple[bytes, str]]:
    import soundfile as sf

    from musicid_core.audio.decode import load_audio
    from musicid_core.config import SAMPLE_RATE

    rng = np.random.default_rng(0)
    noises = [load_audio(p) for p in sorted((ROOT / "resources" / "noise").glob("*.ogg"))]
    songs = library.songs()
    out = []
    for i in range(count):
        song = songs[i % len(songs)]
        audio = np.asarray(library.song_audio(song), dtype=np.float32)
        n = 10 * SAMPLE_RATE
        start = int(rng.integers(0, max(1, audio.size - n)))
        music = audio[start:start + n]
        noise = noises[int(rng.integers(len(noises)))]
        noise = np.resize(noise, music.size)
        gain = np.sqrt(np.mean(music**2) / (np.mean(noise**2) + 1e-12) / 10 ** (SNR_DB / 10))
        mix = music + gain * noise
        mix = (0.8 * mix / np.max(np.abs(mix))).astype(np.float32)
        wav, webm = folder / f"q{i}.wav", folder / f"q{i}.webm"
        sf.write(str(wav), mix, SAMPLE_RATE)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-ar", "48000", "-c:a", "libopus", "-b:a", "64k",
                        str(webm)], check=True)
        out.append((webm.read_bytes(), song.title))
    return out


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve(data: Path, port: int, config: dict[str, Any]) -> tuple[subprocess.Popen, str]:
    code = ("import sys, json; from musicid_core.library import Library; from musicid_server.cli import serve; "
            "from musicid_server.config import ServerConfig; "
            f"sys.exit(serve(Library({str(data)!r}), ServerConfig(port={port}, **json.loads({json.dumps(config)!r}))))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3"))
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    return proc, url.split("token=")[1]


def run(data: Path, queries: list[tuple[bytes, str]], clients: int, requests: int, config: dict[str, Any]) -> dict:
    import httpx

    port = _free_port()
    proc, token = _serve(data, port, config)
    base = f"https://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "audio/webm"}
    try:
        with httpx.Client(base_url=base, verify=False, timeout=120, headers=headers) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    warm = client.post("/api/v1/identify", content=queries[0][0])
                    if warm.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not answer within 2 minutes")
                time.sleep(0.5)
        time.sleep(1.5)  # let the rate limiter's bucket refill after the warm-up
        rss_before = _rss_mb(proc.pid)
        records: list[dict[str, Any]] = []
        lock = threading.Lock()

        def client_loop(index: int) -> None:
            with httpx.Client(base_url=base, verify=False, timeout=120, headers=headers) as client:
                for r in range(requests):
                    body, title = queries[(index * requests + r) % len(queries)]
                    started = time.monotonic()
                    try:
                        response = client.post("/api/v1/identify", content=body)
                        status, answer = response.status_code, response.json()
                        retry = response.headers.get("retry-after")
                    except (httpx.TransportError, ValueError) as exc:
                        status, answer, retry = -1, {"error": str(exc)}, None
                    elapsed = time.monotonic() - started
                    if status == 200:
                        outcome = "right" if answer["matches"][0]["title"] == title else "wrong"
                    elif status in (429, 503) and retry is not None:
                        outcome = f"{status}+Retry-After"
                    else:
                        outcome = f"failure {status}"
                    with lock:
                        records.append({"outcome": outcome, "ms": elapsed * 1000,
                                        "verdict": answer.get("verdict") if status == 200 else None})

        load_before = os.getloadavg()[0]
        started = time.monotonic()
        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        rss_after = _rss_mb(proc.pid)
        load_after = os.getloadavg()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    all_ms = [r["ms"] for r in records]
    ok_ms = [r["ms"] for r in records if r["outcome"] in ("right", "wrong")]
    return {"config": config, "clients": clients, "requests_per_client": requests, "wall_s": round(wall, 1),
            "outcomes": outcomes, "matched_verdicts": sum(1 for r in records if r["verdict"] == "match"),
            "p50_ms_all": round(pct(all_ms, 50), 1), "p95_ms_all": round(pct(all_ms, 95), 1),
            "p50_ms_answered": round(pct(ok_ms, 50), 1), "p95_ms_answered": round(pct(ok_ms, 95), 1),
            "median_ms_answered": round(statistics.median(ok_ms), 1) if ok_ms else None,
            "rss_mb_before": round(rss_before, 1), "rss_mb_after": round(rss_after, 1),
            "load_average_1min_before": round(load_before, 2), "load_average_1min_after": round(load_after, 2),
            "exit_code": proc.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=25)
    args = parser.parse_args()
    from musicid_core.demo import install_demo
    from musicid_core.library import Library

    with tempfile.TemporaryDirectory(prefix="musicid-phone-bench-") as folder:
        data = Path(folder) / "data"
        library = Library(data)
        result = install_demo(library)
        if not result.installed:
            raise SystemExit(result.message)
        queries = _queries(library, Path(folder), 40)
        runs = [run(data, queries, args.clients, args.requests, {}),
                run(data, queries, args.clients, args.requests, {"rate_per_second": 1000.0, "rate_burst": 1000})]
    report = {"kind": "phone_server_load", "command": command_line(), "machine": machine(),
              "load_average": [runs[-1]["load_average_1min_after"]],
              "songs": 8, "query": f"10 s, webm/opus 64 kbit/s, room noise at {SNR_DB:.0f} dB SNR", "runs": runs}
    path = write_result("phone_server_load", report)
    print(json.dumps(report, indent=1))
    print("wrote", path)
    failures = sum(n for run_ in runs for k, n in run_["outcomes"].items() if k.startswith("failure"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
