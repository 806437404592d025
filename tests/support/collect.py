"""An in-process sink that records what the pipeline hands it, for adapter tests.

It implements the real Sink protocol (it is a sink, not a stand-in for a broker): tests of an
adapter assert on exactly the batches and state changes the sinks would receive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.model import Batch, Report, StateChange
from gateway.sinks.base import SinkStatus


class CollectingSink:
    """Keeps every batch and state change; `wait_for` awaits a condition with a deadline."""

    name = "collect"

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.states: list[StateChange] = []
        self.reports: list[Report] = []
        self._changed = asyncio.Event()

    def submit(self, batch: Batch) -> None:
        self.batches.append(batch)
        self._changed.set()

    def state_changed(self, change: StateChange) -> None:
        self.states.append(change)
        self._changed.set()

    def report(self, report: Report) -> None:
        self.reports.append(report)
        self._changed.set()

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def close(self, deadline: float = 5.0) -> None:
        """Nothing to deliver: everything was kept on `submit`."""

    def status(self) -> SinkStatus:
        return SinkStatus(self.name, connected=True, delivered=len(self.batches))

    def batches_of(self, device: str) -> list[Batch]:
        """The batches of one device, in order."""
        return [b for b in self.batches if b.device == device]

    def last_state(self, device: str) -> StateChange | None:
        """The latest state change of one device."""
        return next((s for s in reversed(self.states) if s.device == device), None)

    async def wait_for(self, condition: Callable[[], object], timeout: float = 10.0) -> None:
        """Return once `condition()` is truthy; fail the test after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()
