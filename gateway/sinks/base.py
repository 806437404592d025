"""The contract between the pipeline and a sink, and the status every sink reports.

A sink must never stall the pipeline: `submit` only encodes the batch and puts it in the sink's
own store-and-forward outbox (`gateway.buffer.Outbox`), and returns at once; the sink's `run`
task drains that outbox at its own pace and acknowledges each item only once its peer confirmed
it. When a sink falls so far behind that the buffer is full, the oldest data is dropped and
counted.

`SinkBase` is what the sinks share (status, the outbox's flush task, retry waits, outage logs,
the goodbye); `first_of` waits for the first of several events without leaving tasks behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from gateway.backoff import Backoff
from gateway.buffer import Outbox, OutboxStatus
from gateway.model import Batch, StateChange
from gateway.outage import Outage

CLOSE_FLUSH_SHARE = 0.7
"""Share of `close()`'s deadline a sink spends delivering its backlog (the rest: goodbye,
disconnect, persisting what is left)."""


@dataclass(slots=True)
class SinkStatus:
    """What `/api/v1/status` shows for one sink (SPEC: connected, backlog, delivered, dropped,
    last error), plus the buffer's size on disk and any damage found in it."""

    name: str
    connected: bool = False
    backlog: int = 0
    """Samples waiting for delivery (in memory and on disk)."""
    backlog_bytes: int = 0
    delivered: int = 0
    """Samples the peer acknowledged."""
    dropped: int = 0
    """Samples dropped because the buffer was full."""
    rejected: int = 0
    """Samples the peer refused for good (InfluxDB: a bad point); logged with the reason."""
    last_error: str | None = None
    buffer_errors: list[str] | None = None
    """Damaged buffer data set aside, or a buffer that cannot be written."""


def buffer_errors(box: OutboxStatus) -> list[str] | None:
    """The buffer's problems worth showing in a sink's status."""
    errors = [*(box.damaged or []), *([box.disk_error] if box.disk_error else [])]
    return errors or None


class Sink(Protocol):
    """A destination for batches: `sinks.mqtt.MqttSink`, `sinks.influx.InfluxSink`."""

    name: str

    def submit(self, batch: Batch) -> None:
        """Queue one device scan for delivery; never blocks, never raises."""

    def state_changed(self, change: StateChange) -> None:
        """Queue a device's new connection state for delivery; never blocks, never raises."""

    async def run(self) -> None:
        """Deliver queued items until cancelled; reconnects by itself."""

    async def close(self, deadline: float = 5.0) -> None:
        """Deliver what it can within `deadline` s, persist the rest to the buffer, disconnect."""

    def status(self) -> SinkStatus:
        """A snapshot of the sink's health for status and metrics."""


class SinkBase:
    """What the MQTT and InfluxDB sinks share, so each holds only its own protocol.

    It owns the outbox and the bookkeeping every sink reports (`delivered`, `rejected`, the
    outage and its `last_error`), runs the outbox's flush to disk beside the sink's own work
    (`run` starts it, always stops and awaits it), waits out retry delays so that `close()`
    cuts them short, logs failures by the `Outage` rule (one error, then debug) and says
    goodbye in the same words for every sink.

    A subclass sets `name` and `_log`, implements `connected`, `_serve` (its delivery loop,
    until `_closing`), `submit`, `state_changed` and `close` (which starts with
    `_begin_close()` and ends with `_finish_close()`), and may add `_extra_backlog` (items
    waiting outside the outbox) and `_release` (blocking clean-up after the loop).
    """

    name: str
    _log: ClassVar[logging.Logger]
    _failure_note: ClassVar[str] = ""
    """Appended to the error line of a failure (what happens next)."""

    def __init__(self, outbox: Outbox[Any], backoff: Backoff | None) -> None:
        self.outbox = outbox
        self._backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self._outage = Outage(repeat_changed=True)
        self._stopping = asyncio.Event()
        """Set by `close()`: cuts retry delays short."""
        self._closing = False
        self._idle = asyncio.Event()
        """Clear while the sink talks to its server; `close()` waits for it."""
        self._idle.set()
        self.delivered = 0
        """Samples the peer acknowledged."""
        self.rejected = 0
        """Samples the peer refused for good."""

    @property
    def connected(self) -> bool:
        """The sink can deliver right now."""
        raise NotImplementedError

    @property
    def last_error(self) -> str | None:
        """Why the sink cannot deliver, while it cannot; None once it delivers again."""
        return self._outage.error

    def status(self) -> SinkStatus:
        """Connected, backlog and counts in samples (see `SinkStatus`)."""
        box = self.outbox.status()
        return SinkStatus(
            self.name,
            connected=self.connected,
            backlog=box.backlog + self._extra_backlog(),
            backlog_bytes=box.backlog_bytes,
            delivered=self.delivered,
            dropped=box.dropped,
            rejected=self.rejected,
            last_error=self.last_error,
            buffer_errors=buffer_errors(box),
        )

    def _extra_backlog(self) -> int:
        """Items waiting outside the outbox (MQTT: device states)."""
        return 0

    async def run(self) -> None:
        """Deliver until closed or cancelled; the outbox flushes to disk beside it, as a task
        owned here and awaited on the way out."""
        flusher = asyncio.create_task(self.outbox.run(), name=f"{self.name} buffer flush")
        try:
            await self._serve()
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            await self._release()

    async def _serve(self) -> None:
        raise NotImplementedError

    async def _release(self) -> None:
        """Clean-up after the delivery loop ended (close HTTP pools...)."""

    async def _pause(self, delay: float) -> None:
        """Wait `delay` seconds before retrying, or less when `close()` is called."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._stopping.wait()

    def _failed(self, error: str) -> None:
        """Log a failure once; the same failure again only at debug (no log storm)."""
        if self._outage.failed(error):
            self._log.error("%s: %s%s", self.name, error, self._failure_note)
        else:
            self._log.debug("%s: still failing: %s", self.name, error)

    def _begin_close(self) -> bool:
        """Start closing: False when `close()` was called before (it is idempotent)."""
        if self._closing:
            return False
        self._closing = True
        self._stopping.set()
        return True

    def _finish_close(self) -> None:
        """Persist what is left to disk and say what became of the data."""
        self.outbox.close()
        left = self.status().backlog
        if left:
            self._log.warning(
                "%s: closed; %d samples kept in the buffer for the next start", self.name, left
            )
        else:
            self._log.info("%s: closed; %d samples delivered", self.name, self.delivered)


async def first_of(*waits: Awaitable[object], timeout: float | None = None) -> None:
    """Return when the first of `waits` is done (or after `timeout` s), having cancelled and
    awaited the others: no helper task outlives the call, even when the caller is cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
