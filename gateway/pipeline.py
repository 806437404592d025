"""The pipeline: carries each device scan's batch from an adapter to every sink.

Adapters call `publish` (synchronous, never blocks): it applies the device's deadband, records
the latest sample of every signal for the API, and hands the batch to each sink's own bounded
queue. A slow or dead sink therefore never stalls a device, and a dead device never stalls a
sink.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gateway.config.models import SignalBase
from gateway.deadband import DeadbandFilter
from gateway.model import Batch, Sample, StateChange
from gateway.sinks.base import Sink

log = logging.getLogger(__name__)


class Pipeline:
    """Fans batches and device state changes out to the sinks, after deadband filtering."""

    def __init__(self, sinks: Iterable[Sink] = ()) -> None:
        self.sinks: list[Sink] = list(sinks)
        self._filters: dict[str, DeadbandFilter] = {}
        self.latest: dict[str, dict[str, Sample]] = {}
        """The latest sample of every signal, by device then signal (before the deadband)."""
        self.states: dict[str, StateChange] = {}

    def add_device(self, device_id: str, signals: Iterable[SignalBase]) -> None:
        """Prepare the per-device state (deadband filter, latest values) for a device."""
        self._filters[device_id] = DeadbandFilter(signals)
        self.latest[device_id] = {}

    def remove_device(self, device_id: str) -> None:
        """Forget a device that was removed from the config."""
        self._filters.pop(device_id, None)
        self.latest.pop(device_id, None)
        self.states.pop(device_id, None)

    def publish(self, batch: Batch) -> None:
        """Deliver one device scan to every sink (non-blocking)."""
        latest = self.latest.get(batch.device)
        if latest is not None:
            for sample in batch.samples:
                latest[sample.signal] = sample
        flt = self._filters.get(batch.device)
        if flt is not None and flt.active:
            kept = flt.apply(batch.samples)
            if not kept:
                return
            if len(kept) != len(batch.samples):
                batch = Batch(batch.device, batch.ts, kept)
        for sink in self.sinks:
            sink.submit(batch)

    def state_changed(self, change: StateChange) -> None:
        """Deliver a device's new connection state to every sink (non-blocking)."""
        self.states[change.device] = change
        for sink in self.sinks:
            sink.state_changed(change)
