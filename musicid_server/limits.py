"""Limits enforced on the raw ASGI stream, before FastAPI parses anything.

``BodyLimit`` counts the bytes of every body as they arrive (a declared Content-Length over the
cap is refused before reading; a chunked body is cut the moment it passes the cap) and answers
408 when a client stalls mid-body. ``RateLimit`` gives each client address a token bucket.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

from musicid_server.responses import send_error


class BodyTooLarge(Exception):
    pass


class BodyTooSlow(Exception):
    pass


class BodyLimit:
    """``cap_for(path)`` gives the byte cap for a request path (song uploads may be larger)."""

    def __init__(self, app: Any, cap_for: Callable[[str], int], timeout_s: float) -> None:
        self.app = app
        self.cap_for = cap_for
        self.timeout_s = timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope["path"])
        too_large = f"the request is larger than this server accepts ({_size(cap)})"
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await send_error(send, 413, too_large)
            return
        received = 0
        started = False
        body_done = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, body_done
            if body_done:  # after the body, receive() only waits for a disconnect: no time limit
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=self.timeout_s)
            except asyncio.TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_error(send, 413, too_large)
        except BodyTooSlow:
            if not started:
                await send_error(send, 408, f"the request body stalled for {self.timeout_s:.0f} s and was dropped")


class RateLimit:
    """A token bucket per client address: ``burst`` requests at once, ``rate`` per second after."""

    def __init__(self, app: Any, rate: float, burst: int) -> None:
        self.app = app
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wait = self.take(_client(scope))
        if wait > 0:
            await send_error(send, 429, f"too many requests from this device; wait {max(1, round(wait))} s", wait)
            return
        await self.app(scope, receive, send)

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until one may."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > 10_000:  # forget idle clients so the table stays small
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return (1.0 - tokens) / self.rate


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _content_length(scope: dict[str, Any]) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MB"
