"""The API's HTTP connections: idle and slow clients are closed, so they cannot shut others out.

uvicorn counts every open connection against `limit_concurrency` and never times out one that
has not sent a complete request, so 64 idle TCP connections (a port scanner, a browser's
speculative pre-connects, a slowloris) answered everything else with 503, /healthz included.
`GuardedH11Protocol` (uvicorn's h11 protocol, passed as `uvicorn.Config(http=...)`) instead:

- gives each connection REQUEST_TIMEOUT_S to deliver a request's headers, counted from when it
  connected or its previous response ended; data that trickles in does not extend it. A client
  that misses it is disconnected (a request in progress, or an event stream, is never cut);
- keeps at most MAX_CONNECTIONS open: a new connection beyond that closes the one that has been
  idle longest (no request in progress), so a prober always gets through; when every one is
  busy serving a request, the newcomer is closed instead.

The count replaces uvicorn's `limit_concurrency` (an h11 connection runs one request at a time).
Every connection also gets TCP_NODELAY (see `_no_delay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
"""Seconds a connection has to send complete request headers (after connecting or after its
previous response); a person's curl or browser needs milliseconds."""
MAX_CONNECTIONS = 64
"""Connections open at once (the edge box's file descriptors and memory are few)."""


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline and a bounded, idle-first-evicted count."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self.idle_since = time.monotonic()

    @property
    def busy(self) -> bool:
        """A request is being served (its response is not complete)."""
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _no_delay(transport)
        self._arm()
        if len(self.connections) > MAX_CONNECTIONS:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.busy:
            self._disarm()  # the headers are complete: the app owns the request now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.idle_since = time.monotonic()
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(REQUEST_TIMEOUT_S, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.busy and not self.transport.is_closing():
            log.debug(
                "API: closing %s: no complete request within %.0f s",
                _peer(self.client),
                REQUEST_TIMEOUT_S,
            )
            self.transport.close()

    def _make_room(self) -> None:
        idle = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol)
            and c is not self
            and not c.busy
            and not c.transport.is_closing()
        ]
        if idle:
            oldest = min(idle, key=lambda c: c.idle_since)
            log.debug("API: %d connections open: closing the idlest", len(self.connections))
            oldest.transport.close()
            oldest.connections.discard(oldest)
            return
        log.debug(
            "API: %d connections open and every one busy: refusing %s",
            len(self.connections),
            _peer(self.client),
        )
        self.transport.close()


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Send each response at once. asyncio sets TCP_NODELAY only on sockets whose `proto` is
    IPPROTO_TCP, and sockets accepted from our own listening socket (`server.bind`) have proto
    0: without it, a response written in two segments (headers, body) waited for the client's
    delayed ACK, 40 ms on Linux, on every keep-alive request but the first."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _peer(client: tuple[str, int] | None) -> str:
    return "%s:%d" % client if client else "a client"  # noqa: UP031 - a tuple of two
