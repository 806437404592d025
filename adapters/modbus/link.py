"""One Modbus connection shared by every device on it: a TCP host:port or a serial port.

SPEC: devices that share one serial port, or one TCP host:port, share one connection and their
requests are serialized, as an RS-485 bus and most TCP-to-RTU converters require. A `ModbusLink`
owns one pymodbus client, opens it on demand, and maps pymodbus's errors to ours. Reconnection
is driven by the pollers' own backoff (pymodbus's automatic reconnect is turned off) so that a
dead unit on a shared bus is retried at its own backed-off rate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from gateway.config.models import ModbusDevice, ModbusRtuDevice, ModbusSignal

from .encode import FC_WRITE_COIL, FC_WRITE_REGISTER, WritePlan, merge_bit
from .errors import ExceptionResponse, LinkDown, NoResponse
from .turns import PROBE, READ, WRITE, Turns

log = logging.getLogger(__name__)

_READERS = {
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
    "holding": "read_holding_registers",
    "input": "read_input_registers",
}

# pymodbus closes a TCP connection after this many consecutive unanswered requests; on a
# converter with one dead unit that would cut off the live ones, so we decide ourselves.
_NO_RESPONSE_LIMIT = 1_000_000


class ModbusLink:
    """A shared, serialized Modbus connection; `read` is the only I/O the pollers do."""

    def __init__(
        self,
        key: str,
        client: AsyncModbusTcpClient | AsyncModbusSerialClient,
        timeout: float = 1.0,
    ) -> None:
        self.key = key
        self.timeout = timeout
        """How long a request waits for its answer (the first device's `timeout` on the link:
        pymodbus has one per connection)."""
        self._client = client
        self._client.set_max_no_responses(_NO_RESPONSE_LIMIT)
        self._turns = Turns()
        self.users = 0
        """Devices using this link; the registry closes it when the last one leaves."""
        self._due: dict[str, float] = {}
        """When each live device on the link scans next (event-loop time)."""

    @classmethod
    def for_device(cls, device: ModbusDevice, timeout: float) -> ModbusLink:
        """A new link for the connection `device` is on."""
        client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if isinstance(device, ModbusRtuDevice):
            client = AsyncModbusSerialClient(
                device.serial_port,
                framer=FramerType.RTU,
                baudrate=device.baudrate,
                bytesize=device.bytesize,
                parity=device.parity,
                stopbits=device.stopbits,
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
            )
        else:
            client = AsyncModbusTcpClient(
                device.host, port=device.port, timeout=timeout, retries=0, reconnect_delay=0
            )
        return cls(device.link, client, timeout)

    @property
    def connected(self) -> bool:
        """Whether the connection is open now."""
        return self._client.connected

    async def read(
        self, table: str, address: int, count: int, unit: int, probe: bool = False
    ) -> Sequence[int] | Sequence[bool]:
        """Read `count` registers or bits of `table` from `unit`, opening the link if needed.

        `probe`: the unit stopped answering; its read waits behind every live unit's.
        Raises LinkDown, NoResponse or ExceptionResponse.
        """
        async with self._turns.turn(PROBE if probe else READ):
            return await self._read(table, address, count, unit)

    # -- where a dead unit's probe fits (SPEC: one bad thing breaks one thing) --------------

    def next_scan(self, device_id: str, at: float | None) -> None:
        """A live device's next scan is due at `at` (loop time); None: it is not live now."""
        if at is None:
            self._due.pop(device_id, None)
        else:
            self._due[device_id] = at

    async def wait_for_slack(self, device_id: str, needed: float, max_wait: float) -> None:
        """Wait until the link is idle with `needed` s before any other live device's next
        scan, or `max_wait` s at most: a probe of a unit that does not answer takes its whole
        timeout, and put there it delays no live unit's scan."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + max_wait
        while True:
            now = loop.time()
            others = [at for device, at in self._due.items() if device != device_id]
            if not others or now >= give_up:
                return
            gap = min(others) - now
            if gap >= needed and self._turns.idle:
                return
            # Let the next live scan go first (its due time moves on once it is done).
            await asyncio.sleep(min(max(gap, 0.0) + 0.01, give_up - now))

    async def _connect(self) -> None:
        if not self._client.connected and not await self._client.connect():
            raise LinkDown(f"cannot connect to {self.key}")

    async def _request(self, unit: int, call: Any) -> Any:
        """Await one pymodbus request, its errors mapped to ours."""
        try:
            return await call
        except ModbusIOException as exc:
            raise NoResponse(f"no answer from unit {unit} on {self.key}") from exc
        except ConnectionException as exc:
            raise LinkDown(f"connection to {self.key} lost") from exc
        except ModbusException as exc:
            raise NoResponse(f"bad answer from unit {unit} on {self.key}: {exc}") from exc

    async def _read(
        self, table: str, address: int, count: int, unit: int
    ) -> Sequence[int] | Sequence[bool]:
        await self._connect()
        reader = getattr(self._client, _READERS[table])
        response = await self._request(unit, reader(address, count=count, device_id=unit))
        if response.isError():
            raise ExceptionResponse(response.exception_code, table, address, count, unit)
        if table in ("holding", "input"):
            registers = response.registers
            if len(registers) != count:
                raise NoResponse(
                    f"unit {unit} on {self.key} answered {len(registers)} registers "
                    f"where {count} were asked for"
                )
            return registers
        return response.bits[:count]

    async def write(
        self, plan: WritePlan, signal: ModbusSignal, unit: int
    ) -> Sequence[int] | Sequence[bool]:
        """Carry out `plan` on `unit` and read the signal back, in one turn ahead of queued reads.

        Returns what the read-back found (the signal's registers, or `[bit]` for a coil).
        Raises LinkDown, NoResponse or ExceptionResponse (naming the write or the read-back).
        """
        client = self._client
        table = "coil" if plan.coil else "holding"
        async with self._turns.turn(WRITE):
            await self._connect()
            if plan.coil:
                assert plan.bit is not None
                if plan.function == FC_WRITE_COIL:
                    call = client.write_coil(plan.address, plan.bit, device_id=unit)
                else:
                    call = client.write_coils(plan.address, [plan.bit], device_id=unit)
                count = 1
            else:
                words = list(plan.registers)
                if plan.read_modify_write:
                    assert plan.bit is not None
                    (word,) = await self._read("holding", plan.address, 1, unit)
                    words = [merge_bit(signal, int(word), plan.bit)]
                count = len(words)
                if plan.function == FC_WRITE_REGISTER:
                    call = client.write_register(plan.address, words[0], device_id=unit)
                else:
                    call = client.write_registers(plan.address, words, device_id=unit)
            response = await self._request(unit, call)
            if response.isError():
                raise ExceptionResponse(
                    response.exception_code, table, plan.address, count, unit, "writing"
                )
            return await self._read(table, signal.address, signal.size, unit)

    def close(self) -> None:
        """Close the connection (it reopens on the next read)."""
        self._client.close()


class LinkRegistry:
    """Hands out one `ModbusLink` per connection key, shared by the devices on it."""

    def __init__(self) -> None:
        self._links: dict[str, ModbusLink] = {}

    def acquire(self, device: ModbusDevice, timeout: float) -> ModbusLink:
        """The link for `device`, created on first use."""
        link = self._links.get(device.link)
        if link is None:
            link = self._links[device.link] = ModbusLink.for_device(device, timeout)
        link.users += 1
        return link

    def release(self, link: ModbusLink) -> None:
        """A device stopped using `link`; the last one closes it."""
        link.users -= 1
        if link.users <= 0:
            link.close()
            self._links.pop(link.key, None)

    def keys(self) -> list[str]:
        """The connections open or opening now (`tcp://host:port`, `rtu:///dev/ttyUSB0`)."""
        return list(self._links)

    def close_all(self) -> None:
        """Close every link (shutdown)."""
        for link in self._links.values():
            link.close()
        self._links.clear()
