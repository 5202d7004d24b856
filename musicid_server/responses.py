"""JSON error answers with a human sentence, sent from plain ASGI code (middleware) or routes."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Optional

Send = Callable[[dict[str, Any]], Awaitable[None]]

SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the pairing token must never leak in a Referer
    (b"x-frame-options", b"DENY"),
]


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


async def send_error(send: Send, status: int, message: str, retry_after: Optional[float] = None) -> None:
    body = json.dumps(error_body(status, message)).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, int(round(retry_after)))).encode()))
    if status in (408, 413):
        headers.append((b"connection", b"close"))  # the rest of the body is never read
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
