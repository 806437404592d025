"""The pipeline: carries each device scan's batch from an adapter to every sink.

Pollers call `publish` and `state_changed` (the `gateway.adapter.Publisher` interface:
synchronous, never blocking). `publish` records the latest sample of every signal on the
`DeviceBoard`, applies the device's deadband, and hands the batch to each sink's `submit`,
which only encodes it into the sink's own store-and-forward outbox and returns. A slow or
dead sink therefore never stalls a device, and a dead device never stalls a sink.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from gateway.board import DeviceBoard
from gateway.config.models import SignalBase
from gateway.deadband import DeadbandFilter
from gateway.model import Batch, Report, StateChange
from gateway.sinks.base import Sink

log = logging.getLogger(__name__)


class Observer(Protocol):
    """Computes something at the edge from what passes (alarms, OEE): sees every scan before the
    deadband, and every device state change. Must be cheap per scan and never raise."""

    def observe(self, batch: Batch) -> None:
        """One device scan, as read (before the deadband)."""

    def device_state(self, change: StateChange) -> None:
        """A device went online, offline or into error."""


class Pipeline:
    """Fans batches and device state changes out to the sinks, after deadband filtering."""

    def __init__(self, sinks: Iterable[Sink] = (), board: DeviceBoard | None = None) -> None:
        self.sinks: list[Sink] = list(sinks)
        self.board = board if board is not None else DeviceBoard()
        self._filters: dict[str, DeadbandFilter] = {}
        self.observers: list[Observer] = []
        """Edge computations (alarms, OEE) that see every scan; they answer with `report`."""

    def add_device(self, device_id: str, signals: Iterable[SignalBase]) -> None:
        """Prepare the deadband filter of a device (its board entry is the service's)."""
        self._filters[device_id] = DeadbandFilter(signals)

    def remove_device(self, device_id: str) -> None:
        """Forget a device that was removed from the config."""
        self._filters.pop(device_id, None)

    def publish(self, batch: Batch) -> None:
        """Deliver one device scan to every sink (non-blocking)."""
        entry = self.board.get(batch.device)
        if entry is not None:
            latest = entry.latest
            for sample in batch.samples:
                latest[sample.signal] = sample
        for observer in self.observers:
            observer.observe(batch)
        flt = self._filters.get(batch.device)
        if flt is not None and flt.active:
            kept = flt.apply(batch.samples)
            if not kept:
                return
            if len(kept) != len(batch.samples):
                batch = Batch(batch.device, batch.ts, kept, batch.source_ts)
        for sink in self.sinks:
            sink.submit(batch)

    def state_changed(self, change: StateChange) -> None:
        """Deliver a device's new connection state to every sink (non-blocking)."""
        entry = self.board.get(change.device)
        if entry is not None:
            entry.state = change
        for observer in self.observers:
            observer.device_state(change)
        for sink in self.sinks:
            sink.state_changed(change)

    def report(self, report: Report) -> None:
        """Deliver a figure computed at the edge (an alarm change, OEE) to every sink."""
        for sink in self.sinks:
            sink.report(report)
