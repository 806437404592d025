"""The Modbus adapter behind the core's interface (`gateway.adapter.Adapter`): TCP and RTU.

One instance per gateway owns the `LinkRegistry`, so that every device on one TCP host:port or
one serial port shares one serialized connection, pollers, test reads and writes alike.
"""

from __future__ import annotations

import asyncio

from gateway.adapter import AdapterContext, Publisher, WriteOutcome
from gateway.config.models import ModbusDevice
from gateway.model import Sample, Value
from gateway.status import DeviceStatus

from .errors import NoResponse
from .link import LinkRegistry
from .poller import ModbusPoller
from .writer import write_signal


class _Discard:
    """The publisher of a test read: nothing it reads is published."""

    def publish(self, batch: object) -> None:
        pass

    def state_changed(self, change: object) -> None:
        pass


class ModbusAdapter:
    """Modbus TCP and RTU devices (`protocol: modbus-tcp | modbus-rtu`)."""

    def __init__(self, context: AdapterContext) -> None:
        self.context = context
        self.links = LinkRegistry()

    def poller(
        self, device: ModbusDevice, publisher: Publisher, status: DeviceStatus
    ) -> ModbusPoller:
        """A poller on the shared link of `device`'s connection."""
        return ModbusPoller(device, self.links.acquire(device, device.timeout), publisher, status)

    def release(self, poller: ModbusPoller) -> None:
        """Give the poller's link back; the last device on it closes it."""
        self.links.release(poller.link)

    async def test_read(self, device: ModbusDevice) -> list[Sample]:
        """One scan through the shared link (serialized with the running devices' requests)."""
        link = self.links.acquire(device, device.timeout)
        try:
            poller = ModbusPoller(
                device, link, _Discard(), DeviceStatus(device.id, device.protocol)
            )
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

    async def write(self, device: ModbusDevice, signal: str, value: Value) -> WriteOutcome:
        """Write one signal through the device's shared link, ahead of queued scan reads, and
        read it back (`gateway.adapter.Writer`)."""
        link = self.links.acquire(device, device.timeout)
        try:
            return await write_signal(link, device, signal, value)
        finally:
            self.links.release(link)

    def close(self) -> None:
        """Close every link (the gateway stops)."""
        self.links.close_all()
