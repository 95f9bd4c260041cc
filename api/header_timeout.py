"""uvicorn's HTTP/1.1 protocol with a deadline for the request line and headers.

uvicorn closes a keep-alive connection that stays silent, but not a new connection that sends
nothing, nor one that trickles its headers a byte at a time: each such connection would stay
open for ever. Here a connection whose next request's headers are not complete within
`seconds` is closed.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """An H11Protocol class for uvicorn's `http=` setting, with a `seconds` header deadline."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _waiting_since_cycle: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not self._waiting_since_cycle:  # a new request's headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            # Armed before uvicorn looks at pipelined data, which may already hold the next headers.
            self._arm()
            super().on_response_complete()

        def _arm(self) -> None:
            self._disarm()
            self._waiting_since_cycle = self.cycle
            self._header_timer = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
