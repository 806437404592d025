"""A `BankServer` that also logs every request's function code, and can ignore writes.

For the write tests: a test asserts which Modbus function carried a write (5, 6, 15 or 16)
and how many requests reached the unit, and a unit with `ignore_writes` answers every write
as done while keeping its old values (a register the PLC program overwrites).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tests.support.modbus_server import BankServer, RegisterBank

WRITE_FUNCTIONS = frozenset({5, 6, 15, 16})


@dataclass
class WriteBank(RegisterBank):
    """A unit's values plus the function code of every request it answered, in order."""

    functions: list[int] = field(default_factory=list)
    ignore_writes: bool = False

    @property
    def writes(self) -> list[int]:
        """The function codes of the write requests, in order."""
        return [fc for fc in self.functions if fc in WRITE_FUNCTIONS]


class LoggingBankServer(BankServer):
    """Serves WriteBanks; see the module docstring."""

    def _action(self, unit: int) -> Any:
        inner = super()._action(unit)

        async def action(fc, start, address, count, registers, set_values):  # type: ignore[no-untyped-def]
            bank = self.banks[unit]
            assert isinstance(bank, WriteBank)
            # pymodbus asks single writes (5, 6) twice: first with no values (a look at the
            # address), then with them; only the second is the request on the wire.
            if fc not in WRITE_FUNCTIONS or set_values is not None:
                bank.functions.append(fc)
            if set_values is not None and bank.ignore_writes and not bank.silent:
                return None
            return await inner(fc, start, address, count, registers, set_values)

        return action


@contextlib.asynccontextmanager
async def write_server(banks: dict[int, WriteBank]) -> AsyncIterator[LoggingBankServer]:
    """A TCP LoggingBankServer on a free loopback port, stopped on exit."""
    server = LoggingBankServer(banks)  # type: ignore[arg-type]
    await server.start_tcp()
    try:
        yield server
    finally:
        await server.stop()


def writable_furnace(port: int) -> dict[str, Any]:
    """A furnace entry with a writable float32 setpoint (min 20, max 1600), a read-only
    temperature and a writable counter-reset coil, on 127.0.0.1:`port`."""
    return {
        "id": "furnace-1",
        "protocol": "modbus-tcp",
        "host": "127.0.0.1",
        "port": port,
        "interval": "200ms",
        "timeout": "300ms",
        "signals": [
            {
                "name": "temp_setpoint",
                "table": "holding",
                "address": 50,
                "type": "float32",
                "writable": True,
                "min": 20,
                "max": 1600,
            },
            {"name": "melt_temp", "table": "holding", "address": 60, "type": "float32"},
            {"name": "counter_reset", "table": "coil", "address": 7, "writable": True},
        ],
    }
