"""The Modbus adapter's exception tree, and Modbus exception codes rendered for humans.

    ModbusError (gateway.adapter.AdapterError)
     ├── LinkDown           the TCP connection or serial port cannot be opened, or was lost
     ├── NoResponse         the request timed out: the unit did not answer
     ├── ExceptionResponse  the unit answered with a Modbus exception (02 illegal address, ...)
     └── WriteMismatch      a write was answered, but reading the value back found another

pymodbus errors are mapped to these at the boundary (`link.py`), so the poller never sees a
pymodbus type and every message names the device's link, unit, table and address range.
"""

from __future__ import annotations

from gateway.adapter import AdapterError, DeviceUnreachable, ReadBackMismatch

EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusError(AdapterError):
    """Base of every error the Modbus adapter raises."""


class LinkDown(ModbusError, DeviceUnreachable):
    """The connection to the device (TCP host:port or serial port) is not open."""


class NoResponse(ModbusError, DeviceUnreachable):
    """The unit did not answer within the timeout."""


class ExceptionResponse(ModbusError):
    """The unit answered a read with a Modbus exception code."""

    def __init__(
        self, code: int, table: str, address: int, count: int, unit: int, action: str = "reading"
    ) -> None:
        self.code = code
        self.table = table
        self.address = address
        self.count = count
        self.unit = unit
        name = EXCEPTION_NAMES.get(code, "unknown exception")
        last = address + count - 1
        where = f"{table} {address}" if count == 1 else f"{table} {address}-{last}"
        super().__init__(f"{name} (exception {code:02d}) {action} {where} on unit {unit}")

    @property
    def is_address_problem(self) -> bool:
        """Whether the unit refused these addresses (02) or this request (01, 03)."""
        return self.code in (1, 2, 3)


class WriteMismatch(ModbusError, ReadBackMismatch):
    """The unit acknowledged a write, but the value read back is not the one written."""
