"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers (slow-loris clients).

uvicorn times out idle keep-alive connections but not a client that dribbles its headers a byte
at a time, which holds a connection slot forever; enough of them and the server refuses everyone
(``limit_concurrency``). Here a connection that has not completed its headers within
``header_timeout_s`` of connecting (or of its previous response) is closed. Slow *bodies* are
dealt with by ``limits.BodyLimit`` (408).
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from uvicorn.protocols.http.h11_impl import H11Protocol


def guarded_protocol(header_timeout_s: float) -> type:
    class GuardedH11Protocol(H11Protocol):
        _header_deadline: Optional[asyncio.TimerHandle] = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the headers arrived; the request is being served

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request's headers get the same deadline

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_deadline = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_too_slow(self) -> None:
            self._header_deadline = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

    return GuardedH11Protocol
