"""Turns on a shared Modbus link: one request at a time, writes before the waiting scan reads.

An RS-485 bus (and most TCP-to-RTU converters) takes one request at a time, so every request
on a link waits its turn. With several devices polled at 100 ms, a plain FIFO lock would put a
technician's setpoint behind every read already queued; a `Turns` gives the next turn to the
most urgent waiter instead (lower `priority` first: `WRITE` before `READ`), and among equals to
the one that came first, so writes are never reordered and reads keep their order too. The
holder is never interrupted: a write waits at most for the one request on the wire.

Cancellation-safe: a waiter cancelled before its turn leaves the queue; one cancelled just as
its turn came passes the turn on.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator

WRITE = 0
"""The priority of a write (and its read-back): ahead of every queued read."""
READ = 1
"""The priority of a scan's read."""
PROBE = 2
"""The priority of a read of a unit that stopped answering: after every live unit's read."""


class Turns:
    """A lock whose waiters are served by priority, then in arrival order."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def idle(self) -> bool:
        """Nobody holds the link or waits for it."""
        return not self._held and not any(not f.done() for _, _, f in self._waiters)

    @property
    def waiting(self) -> int:
        """Requests waiting for their turn now."""
        return sum(1 for _, _, future in self._waiters if not future.done())

    @contextlib.asynccontextmanager
    async def turn(self, priority: int = READ) -> AsyncIterator[None]:
        """Hold the link for one request (or one write and its read-back)."""
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if not self._held and not self._waiters:
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the turn came as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the turn passes directly: _held stays True
                return
        self._held = False
