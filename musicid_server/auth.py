"""Every request needs the pairing token, or it gets 401 and nothing else.

Accepted: ``Authorization: Bearer TOKEN`` (scripts, an iOS Shortcut), the session cookie (the
page), or ``GET /?token=TOKEN`` once (the QR code), which serves the page and sets the cookie.
The check runs before anything reads the body.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any, Optional
from urllib.parse import parse_qs

from musicid_server.pairing import COOKIE_NAME, Pairing
from musicid_server.responses import SECURITY_HEADERS, send_error

UNAUTHORISED = ("this MusicID server needs its pairing code: scan the QR code in the MusicID app's Phone panel, "
                "or send 'Authorization: Bearer TOKEN'")


class TokenAuth:
    def __init__(self, app: Any, pairing: Pairing) -> None:
        self.app = app
        self.pairing = pairing

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/" and scope["method"] in ("GET", "HEAD"):
            offered = _query_token(scope)
            if offered is not None:
                if self.pairing.is_valid(offered):
                    await self.app({**scope, "query_string": b""}, receive, _with_cookie(send, offered))
                else:
                    await send_error(send, 401, "this pairing code is not valid (it may have been replaced); "
                                                "scan the QR code in the MusicID app again")
                return
        if not (self.pairing.is_valid(_bearer(scope)) or self.pairing.is_valid(_cookie(scope))):
            await send_error(send, 401, UNAUTHORISED)
            return

        async def with_security_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in SECURITY_HEADERS if k not in present)]
            await send(message)

        await self.app(scope, receive, with_security_headers)


def _with_cookie(send: Any, token: str) -> Any:
    """Serve the page itself with the cookie set. Not a redirect: a SameSite=Strict cookie is not
    sent on a redirect that follows a link from another site (a chat app), so the page would
    load without it; the page removes the token from the address bar (``history.replaceState``),
    and Referrer-Policy: no-referrer keeps it out of every request."""
    cookie = f"{COOKIE_NAME}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=31536000"

    async def send_with_cookie(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("ascii")),
                                  *SECURITY_HEADERS]
        await send(message)

    return send_with_cookie


def _headers(scope: dict[str, Any], name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", []) if k == name]


def _bearer(scope: dict[str, Any]) -> Optional[str]:
    for value in _headers(scope, b"authorization"):
        kind, _, credential = value.partition(" ")
        if kind.lower() == "bearer":
            return credential.strip()
    return None


def _cookie(scope: dict[str, Any]) -> Optional[str]:
    for value in _headers(scope, b"cookie"):
        try:
            jar = SimpleCookie(value)
        except CookieError:
            continue
        if COOKIE_NAME in jar:
            return jar[COOKIE_NAME].value
    return None


def _query_token(scope: dict[str, Any]) -> Optional[str]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("token")
    return values[0] if values else None
