"""A real pymodbus server whose registers a test sets directly, for exact-value tests.

Every table covers addresses 0..size-1 on the wire, but only addresses the test has set answer;
any other address answers exception 02 (illegal data address), as a real device does. The same
bank can serve several unit ids (a TCP-to-RTU converter) and can be served over TCP or over a
serial line (a pty pair made by socat).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

_FC_TABLE = {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 3: "holding", 6: "holding"}
_FC_TABLE |= {16: "holding", 4: "input", 22: "holding", 23: "holding"}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RegisterBank:
    """The values of one unit: `tables[table][address] = value` (ints, or bools for bits)."""

    tables: dict[str, dict[int, int | bool]] = field(
        default_factory=lambda: {"coil": {}, "discrete": {}, "holding": {}, "input": {}}
    )
    silent: bool = False
    """When True the unit does not answer at all (a dead device)."""
    reads: int = 0

    def set(self, table: str, address: int, values: list[int] | list[bool]) -> None:
        """Set consecutive values from `address`."""
        for offset, value in enumerate(values):
            self.tables[table][address + offset] = value

    def unmap(self, table: str, address: int) -> None:
        """Make an address answer exception 02."""
        self.tables[table].pop(address, None)


class BankServer:
    """A pymodbus server (TCP or RTU) backed by one RegisterBank per unit id."""

    SIZE = 2000

    def __init__(self, banks: dict[int, RegisterBank]) -> None:
        self.banks = banks
        self.server: ModbusTcpServer | ModbusSerialServer | None = None
        self.port = 0

    def _device(self, unit: int) -> SimDevice:
        bits = [SimData(0, values=[False] * self.SIZE, datatype=DataType.BITS)]
        regs = [SimData(0, count=self.SIZE, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(
            id=unit,
            simdata=(list(bits), list(bits), list(regs), list(regs)),
            use_bit_addressing=True,
            action=self._action(unit),
        )

    def _action(self, unit: int):
        async def action(fc, start, address, count, registers, set_values):
            bank = self.banks[unit]
            if bank.silent:
                await asyncio.sleep(3600)
            table = _FC_TABLE[fc]
            values = bank.tables[table]
            if set_values is not None:
                for i in range(len(set_values)):
                    if address + i not in values:
                        return ExcCodes.ILLEGAL_ADDRESS
                bank.set(table, address, list(set_values))
                return None
            bank.reads += 1
            if table in ("coil", "discrete"):
                # Bits are packed 16 to a register here, and `count` counts registers: fill the
                # whole words; bits never set read as False (no exception for bits).
                first = (address // 16) * 16
                for i in range(count * 16):
                    if values.get(first + i):
                        word = (first + i) // 16 - start
                        registers[word] |= 1 << ((first + i) % 16)
                    else:
                        registers[(first + i) // 16 - start] &= ~(1 << ((first + i) % 16)) & 0xFFFF
                return None
            for i in range(count):
                value = values.get(address + i)
                if value is None:
                    return ExcCodes.ILLEGAL_ADDRESS
                registers[address - start + i] = int(value)
            return None

        return action

    async def start_tcp(self, port: int | None = None) -> None:
        """Listen on 127.0.0.1:`port` (a free one by default)."""
        self.port = port or self.port or free_port()
        devices = [self._device(unit) for unit in self.banks]
        self.server = ModbusTcpServer(devices, address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def start_rtu(self, serial_port: str, baudrate: int = 19200) -> None:
        """Serve RTU frames on `serial_port` (one end of a pty pair)."""
        devices = [self._device(unit) for unit in self.banks]
        self.server = ModbusSerialServer(
            devices, framer=FramerType.RTU, port=serial_port, baudrate=baudrate
        )
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        """Stop serving and drop every client connection."""
        if self.server is not None:
            await self.server.shutdown()
            self.server = None


@contextlib.asynccontextmanager
async def bank_server(banks: dict[int, RegisterBank]) -> AsyncIterator[BankServer]:
    """A TCP BankServer on a free loopback port, stopped on exit."""
    server = BankServer(banks)
    await server.start_tcp()
    try:
        yield server
    finally:
        await server.stop()
