"""What the S7 and MC adapters share behind the core's interface (`gateway.adapter.Adapter`,
`Writer`): one link registry per gateway, so that every device on one PLC connection shares
one serialized link, pollers, test reads and writes alike; a test read is one bounded scan.

A family's adapter names its poller, its link, the error a test read that runs out of time
raises, how many requests beyond the plan a scan may need (a connect handshake), and its
`write_signal`.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from adapters.blockpoller import Discard, LinkRegistry
from gateway.adapter import AdapterContext, AdapterError, Publisher, WriteOutcome
from gateway.model import Sample, Value
from gateway.status import DeviceStatus


class BlockAdapter:
    """The adapter of a PLC family read in planned blocks (see the module docstring)."""

    poller_class: ClassVar[Any]
    link_class: ClassVar[Any]
    no_response: ClassVar[type[AdapterError]]
    extra_requests: ClassVar[int] = 1
    """Requests a test read may need beyond the read plan (a connect, a negotiation)."""
    write_signal: ClassVar[Any]
    """`async (link, device, signal, value) -> WriteOutcome`: the family's write and read-back."""

    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self.links: LinkRegistry[Any] = LinkRegistry(self.link_class)

    def poller(self, device: Any, publisher: Publisher, status: DeviceStatus) -> Any:
        """A poller on the shared link of `device`'s PLC."""
        return self.poller_class(device, self.links.acquire(device), publisher, status)

    def release(self, poller: Any) -> None:
        """Give the poller's link back; the last device on it closes it."""
        self.links.release(poller.link)

    async def test_read(self, device: Any) -> list[Sample]:
        """One scan through the shared link (serialized with the running devices' reads)."""
        link = self.links.acquire(device)
        try:
            poller = self.poller_class(
                device, link, Discard(), DeviceStatus(device.id, device.protocol)
            )
            budget = device.timeout * (poller.status.requests_per_scan + self.extra_requests) + 1
            try:
                async with asyncio.timeout(budget):
                    samples: list[Sample] = await poller.scan()
                    return samples
            except TimeoutError:
                raise self.no_response(
                    f"device {device.id}: no complete answer within {budget:.1f} s"
                ) from None
        finally:
            self.links.release(link)

    async def write(self, device: Any, signal: str, value: Value) -> WriteOutcome:
        """Write one signal through the PLC's shared link and read it back
        (`gateway.adapter.Writer`)."""
        link = self.links.acquire(device)
        try:
            return await type(self).write_signal(link, device, signal, value)
        finally:
            self.links.release(link)

    def close(self) -> None:
        """Close every link (the gateway stops)."""
        self.links.close_all()
