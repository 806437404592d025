"""The MC adapter behind the core's interface (`gateway.adapter.Adapter`): `protocol: mc`.

One instance per gateway owns the links, so that every device on one host:port (several CPUs
behind one Ethernet module, reached by their route) shares one serialized connection, pollers,
test reads and writes alike.
"""

from __future__ import annotations

import asyncio

from adapters.blockpoller import Discard, LinkRegistry
from gateway.adapter import AdapterContext, Publisher, WriteOutcome
from gateway.config.models import McDevice
from gateway.model import Sample, Value
from gateway.status import DeviceStatus

from .errors import NoResponse
from .link import McLink
from .poller import McPoller
from .writer import write_signal


class McAdapter:
    """Mitsubishi MELSEC devices over MC protocol / SLMP (`protocol: mc`)."""

    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self.links: LinkRegistry[McLink] = LinkRegistry(McLink)

    def poller(self, device: McDevice, publisher: Publisher, status: DeviceStatus) -> McPoller:
        """A poller on the shared link of `device`'s host and port."""
        return McPoller(device, self.links.acquire(device), publisher, status)

    def release(self, poller: McPoller) -> None:
        """Give the poller's link back; the last device on it closes it."""
        self.links.release(poller.link)

    async def test_read(self, device: McDevice) -> list[Sample]:
        """One scan through the shared link (serialized with the running devices' reads)."""
        link = self.links.acquire(device)
        try:
            poller = McPoller(device, link, Discard(), DeviceStatus(device.id, device.protocol))
            budget = device.timeout * (poller.status.requests_per_scan + 1) + 1.0
            try:
                async with asyncio.timeout(budget):
                    return await poller.scan()
            except TimeoutError:
                raise NoResponse(
                    f"device {device.id}: no complete answer within {budget:.1f} s"
                ) from None
        finally:
            self.links.release(link)

    async def write(self, device: McDevice, signal: str, value: Value) -> WriteOutcome:
        """Write one signal through the PLC's shared link and read it back
        (`gateway.adapter.Writer`)."""
        link = self.links.acquire(device)
        try:
            return await write_signal(link, device, signal, value)
        finally:
            self.links.release(link)

    def close(self) -> None:
        """Close every link (the gateway stops)."""
        self.links.close_all()
