"""An OPC UA poller reading into a collecting pipeline, for the adapter tests.

`Reader` starts real `OpcUaPoller`s (device `roaster-1`) against a server's endpoint and keeps
what they deliver; both the asyncua-server and the node-opcua-server tests use it through the
`reader` fixture (tests/integration/conftest.py), which cancels its pollers at the end.
"""

from __future__ import annotations

import asyncio
from typing import Any

from adapters.opcua.poller import OpcUaPoller
from gateway.config.models import OpcUaDevice
from gateway.model import GOOD
from gateway.pipeline import Pipeline
from tests.support.collect import CollectingSink


class Reader:
    """An OpcUaPoller with a collecting pipeline, its task cancelled at the end."""

    def __init__(self) -> None:
        self.sink = CollectingSink()
        self.pipeline = Pipeline([self.sink])
        self.pollers: list[tuple[OpcUaPoller, asyncio.Task[None]]] = []

    def start(self, endpoint: str, signals: list[dict[str, Any]], **fields: Any) -> OpcUaPoller:
        trust_dir = fields.pop("trust_dir", None)
        device = OpcUaDevice.model_validate(
            {
                "id": "roaster-1",
                "protocol": "opcua",
                "endpoint": endpoint,
                "interval": "200ms",
                "timeout": "2s",
                "signals": signals,
                **fields,
            }
        )
        status = self.pipeline.board.add(device.id, device.protocol).status
        self.pipeline.add_device(device.id, device.signals)
        poller = OpcUaPoller(device, self.pipeline, status, trust_dir)
        poller._backoff.initial = 0.2  # quick reconnects in tests
        poller._backoff.maximum = 1.0
        self.pollers.append((poller, asyncio.create_task(poller.run())))
        return poller

    def latest(self) -> dict[str, Any]:
        return {name: s.value for name, s in self.pipeline.board.latest("roaster-1").items()}

    def good(self) -> dict[str, Any]:
        return {
            name: s.value
            for name, s in self.pipeline.board.latest("roaster-1").items()
            if s.quality is GOOD
        }

    async def close(self) -> None:
        for _, task in self.pollers:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
