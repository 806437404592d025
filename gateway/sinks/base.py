"""The contract between the pipeline and a sink, and the bounded queue in front of each sink.

A sink must never stall the pipeline: `submit` only appends to the sink's own bounded queue and
returns at once; the sink's `run` task drains that queue at its own pace. When a sink falls so
far behind that its queue is full, the oldest batches are dropped and counted (until the
store-and-forward buffer holds them on disk instead).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from gateway.model import Batch, StateChange

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class SinkStatus:
    """What `/api/v1/status` shows for one sink (SPEC: connected, backlog, delivered, dropped)."""

    name: str
    connected: bool = False
    backlog: int = 0
    delivered: int = 0
    dropped: int = 0
    last_error: str | None = None


class Sink(Protocol):
    """A destination for batches. Implementations: `gateway.sinks.mqtt.MqttSink`, ..."""

    name: str

    def submit(self, batch: Batch) -> None:
        """Queue one device scan for delivery; never blocks, never raises."""

    def state_changed(self, change: StateChange) -> None:
        """Queue a device's new connection state for delivery; never blocks, never raises."""

    async def run(self) -> None:
        """Deliver queued items until cancelled; reconnects by itself."""

    def status(self) -> SinkStatus:
        """A snapshot of the sink's health for status and metrics."""


class BoundedQueue(Generic[T]):
    """A FIFO with a fixed capacity that drops the oldest item when full, and counts the drops.

    Waiting is event-based (`wait`), so an idle sink costs no CPU. Logs once per overflow
    episode, not per dropped item.
    """

    def __init__(self, capacity: int, name: str) -> None:
        self._items: deque[T] = deque()
        self._capacity = capacity
        self._name = name
        self._event = asyncio.Event()
        self.dropped = 0
        self._overflowing = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        """Append an item, dropping the oldest when full."""
        if len(self._items) >= self._capacity:
            self._items.popleft()
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "%s: queue full (%d items), dropping the oldest until it drains",
                    self._name,
                    self._capacity,
                )
        elif self._overflowing and len(self._items) < self._capacity // 2:
            self._overflowing = False
            log.info(
                "%s: queue drained below half, %d items dropped so far", self._name, self.dropped
            )
        self._items.append(item)
        self._event.set()

    def put_front(self, items: list[T]) -> None:
        """Return items that could not be delivered to the front, in order (capacity permitting)."""
        room = self._capacity - len(self._items)
        if room < len(items):
            self.dropped += len(items) - max(room, 0)
            items = items[len(items) - max(room, 0) :]
        self._items.extendleft(reversed(items))
        if self._items:
            self._event.set()

    def take(self, limit: int) -> list[T]:
        """Remove and return up to `limit` items from the front."""
        items = self._items
        n = min(limit, len(items))
        taken = [items.popleft() for _ in range(n)]
        if not items:
            self._event.clear()
        return taken

    async def wait(self) -> None:
        """Return when at least one item is queued."""
        while not self._items:
            self._event.clear()
            await self._event.wait()
