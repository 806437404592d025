"""What the S7 and MC adapter tests share: a validated device entry, and a harness that runs the
real adapter's pollers (made through the wiring table `gateway.protocols`) into a pipeline with
a collecting sink, stopped as the gateway stops them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gateway.adapter import AdapterContext
from gateway.config.models import Config, Device
from gateway.model import BAD, GOOD
from gateway.pipeline import Pipeline
from gateway.protocols import Adapters
from gateway.service import cancel_and_wait
from gateway.status import DeviceStatus
from tests.support.collect import CollectingSink


def plc_device(
    protocol: str, device_id: str, port: int, signals: list[dict[str, Any]], **extra: Any
) -> Device:
    """A validated `protocol` device on 127.0.0.1:`port`, polled every 50 ms (timeout 500 ms)."""
    config = Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "gw"},
            "mqtt": {"enabled": False},
            "devices": [
                {
                    "id": device_id,
                    "protocol": protocol,
                    "host": "127.0.0.1",
                    "port": port,
                    "interval": "50ms",
                    "timeout": "500ms",
                    "signals": signals,
                    **extra,
                }
            ],
        }
    )
    return config.devices[0]


class PlcHarness:
    """Runs pollers of the real `protocol` adapter into a pipeline with a collecting sink; the
    read helpers look at the last batch of `device` (default: the device started last)."""

    def __init__(self, state_dir: Path, protocol: str) -> None:
        self.protocol = protocol
        self.adapters = Adapters(AdapterContext(state_dir=state_dir))
        self.sink = CollectingSink()
        self.pipeline = Pipeline([self.sink])
        self.tasks: list[asyncio.Task[None]] = []
        self.device_id = ""

    def start(self, device: Device) -> DeviceStatus:
        status = self.pipeline.board.add(device.id, device.protocol).status
        poller = self.adapters.get(self.protocol).poller(device, self.pipeline, status)
        self.tasks.append(asyncio.create_task(poller.run(), name=f"poll {device.id}"))
        self.device_id = device.id
        return status

    def batches(self, device: str | None = None) -> int:
        return len(self.sink.batches_of(device or self.device_id))

    def values(self, device: str | None = None) -> dict[str, Any]:
        batch = self.sink.batches_of(device or self.device_id)[-1]
        return {s.signal: s.value for s in batch.samples if s.quality is GOOD}

    def errors(self, device: str | None = None) -> dict[str, str | None]:
        batch = self.sink.batches_of(device or self.device_id)[-1]
        return {s.signal: s.error for s in batch.samples if s.quality is BAD}


@asynccontextmanager
async def plc_harness(state_dir: Path, protocol: str) -> AsyncIterator[PlcHarness]:
    h = PlcHarness(state_dir, protocol)
    try:
        yield h
    finally:
        # As the gateway stops its pollers: cancel again a task whose library lost the first
        # cancellation (Python 3.11's wait_for does, as the awaited call fails).
        await cancel_and_wait(h.tasks, 10)
        h.adapters.close()
