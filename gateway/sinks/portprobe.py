"""Waiting for a server's TCP port to come back, cheaply: a sink whose server went away retries
its full connect with a long backoff, so as not to hammer it, and meanwhile checks the port
with bare TCP connects (closed at once, nothing sent) to reconnect as soon as it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 1.0
"""Seconds one bare TCP connect may take."""


async def until_port_returns(
    host: str,
    port: int,
    delay: float,
    interval: float,
    stopping: asyncio.Event,
    probe: Callable[[str, int, float], Awaitable[bool]] | None = None,
) -> None:
    """Wait `delay` s, or less: return as soon as `host`:`port` goes from not answering to
    answering (checked every `interval` s with `probe`, `port_answers` by default) or
    `stopping` is set. A port that answers at the first check already is left alone: the
    whole delay is waited (the failure was not that nothing listened)."""
    probe = probe or port_answers
    loop = asyncio.get_running_loop()
    end = loop.time() + delay
    dead = False
    while not stopping.is_set():
        if await probe(host, port, PROBE_TIMEOUT):
            if dead:
                log.debug("%s:%d answers again", host, port)
                return
            await _wait(stopping, end - loop.time())  # it answers (a refusal, a blip)
            return
        dead = True
        remaining = end - loop.time()
        if remaining <= 0:
            return
        await _wait(stopping, min(interval, remaining))


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, timeout)):
            await event.wait()


async def port_answers(host: str, port: int, timeout: float) -> bool:
    """True when something accepts a TCP connection on `host`:`port` within `timeout` s."""
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
