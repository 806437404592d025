"""One clear log line, instead of a traceback, when a protocol library chokes on a peer's bytes.

asyncio catches what a protocol's `data_received` raises, closes the connection, and logs
"Fatal error: protocol.data_received() call failed." with the whole traceback at error level.
pymodbus raises there when a device sends a malformed frame (a byte count that does not fit
the packet, say), so a misbehaving device filled the log with tracebacks at every poll. The
connection is closed either way and the poller reports the device's failure once; this handler
says what happened in one line per peer and minute, and leaves every other error to asyncio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

QUIET_S = 60.0
"""One line per peer in this many seconds."""


def _peer(context: dict[str, Any]) -> str:
    transport = context.get("transport")
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "a peer")


def quiet_protocol_errors(
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """An event-loop exception handler (see the module docstring)."""
    said: dict[str, float] = {}

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        exc = context.get("exception")
        if not message.startswith("Fatal error: protocol.data_received()") or exc is None:
            loop.default_exception_handler(context)
            return
        peer = _peer(context)
        now = clock()
        if now - said.get(peer, -QUIET_S) >= QUIET_S:
            said[peer] = now
            log.warning("%s sent data that could not be decoded (%s); connection closed", peer, exc)

    return handler


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Use `quiet_protocol_errors` on `loop`."""
    loop.set_exception_handler(quiet_protocol_errors())
