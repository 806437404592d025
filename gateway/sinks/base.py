"""The contract between the pipeline and a sink, and the status every sink reports.

A sink must never stall the pipeline: `submit` only encodes the batch and puts it in the sink's
own store-and-forward outbox (`gateway.buffer.Outbox`), and returns at once; the sink's `run`
task drains that outbox at its own pace and acknowledges each item only once its peer confirmed
it. When a sink falls so far behind that the buffer is full, the oldest data is dropped and
counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.buffer import OutboxStatus
from gateway.model import Batch, StateChange


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
