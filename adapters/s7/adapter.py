"""The S7 adapter behind the core's interface (`gateway.adapter.Adapter`): `protocol: s7`.

One instance per gateway owns the links, so that every device on one PLC (host, port, rack,
slot, connection type) shares one serialized connection, pollers, test reads and writes alike.
"""

from __future__ import annotations

import asyncio

from adapters.blockpoller import Discard, LinkRegistry
from gateway.adapter import AdapterContext, Publisher, WriteOutcome
from gateway.config.models import S7Device
from gateway.model import Sample, Value
from gateway.status import DeviceStatus

from .errors import NoResponse
from .link import S7Link
from .poller import S7Poller
from .writer import write_signal


class S7Adapter:
    """Siemens S7 devices (`protocol: s7`)."""

    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self.links: LinkRegistry[S7Link] = LinkRegistry(S7Link)

    def poller(self, device: S7Device, publisher: Publisher, status: DeviceStatus) -> S7Poller:
        """A poller on the shared link of `device`'s PLC."""
        return S7Poller(device, self.links.acquire(device), publisher, status)

    def release(self, poller: S7Poller) -> None:
        """Give the poller's link back; the last device on it closes it."""
        self.links.release(poller.link)

    async def test_read(self, device: S7Device) -> list[Sample]:
        """One scan through the shared link (serialized with the running devices' reads)."""
        link = self.links.acquire(device)
        try:
            poller = S7Poller(device, link, Discard(), DeviceStatus(device.id, device.protocol))
            budget = device.timeout * (poller.status.requests_per_scan + 2) + 1.0
            try:
                async with asyncio.timeout(budget):
                    return await poller.scan()
            except TimeoutError:
                raise NoResponse(
                    f"device {device.id}: no complete answer within {budget:.1f} s"
                ) from None
        finally:
            self.links.release(link)

    async def write(self, device: S7Device, signal: str, value: Value) -> WriteOutcome:
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
