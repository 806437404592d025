"""Modbus TCP and RTU devices and their signals: tables, types, word order, read planning."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    model_validator,
)

from .base import DeviceBase, SignalBase
from .rules import SERIAL_DEFAULTS, Loc, rule_error
from .types import (
    number_text,
)

RegisterTable = Literal["holding", "input"]
Table = Literal["coil", "discrete", "holding", "input"]
ModbusType = Literal[
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"
]
Order = Literal["big", "little"]

REGISTER_COUNT: dict[str, int] = {
    "bool": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
    "float64": 4,
}
"""Registers each type occupies (strings: their `length`)."""

_READ_ONLY = {"discrete": "a discrete input", "input": "an input register"}


class ModbusSignal(SignalBase):
    """One value in a Modbus device's tables, and how to decode it."""

    table: Table
    address: int = Field(ge=0, le=65535)
    type: ModbusType | None = None
    """Defaults to bool for coil/discrete and uint16 for holding/input."""
    byte_order: Order = "big"
    word_order: Order = "big"
    bit: int | None = Field(None, ge=0, le=15)
    length: int | None = Field(None, ge=1, le=125)
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> ModbusSignal:
        bit_table = self.table in ("coil", "discrete")
        if self.type is None:
            # Not an assignment: that would validate the model again from inside its validator.
            self.__dict__["type"] = "bool" if bit_table else "uint16"
        issues: list[tuple[Loc, str]] = []
        if bit_table and self.type != "bool":
            issues.append(
                (("type",), f"a {self.table} holds one bit: type must be bool, not {self.type}")
            )
        if self.bit is not None:
            if bit_table:
                issues.append(
                    (("bit",), f"bit picks a bit of a register; a {self.table} is one bit already")
                )
            elif self.type != "bool":
                issues.append(
                    (("bit",), f"bit needs type bool (the bit is read as a bool), not {self.type}")
                )
        if self.type == "string" and self.length is None:
            issues.append((("length",), "a string needs length: the number of registers it spans"))
        elif self.type != "string" and self.length is not None:
            issues.append((("length",), f"length is only for type string, not {self.type}"))
        if self.type in ("bool", "string"):
            for field, neutral in (("scale", 1.0), ("offset", 0.0)):
                if getattr(self, field) != neutral:
                    issues.append(((field,), f"{field} applies to numbers, not to a {self.type}"))
            if self.deadband is not None:
                issues.append((("deadband",), f"deadband applies to numbers, not to a {self.type}"))
            if self.decimals is not None:
                issues.append((("decimals",), f"decimals applies to numbers, not to a {self.type}"))
        if self.writable and self.table in ("discrete", "input"):
            issues.append(
                (
                    ("writable",),
                    f"{_READ_ONLY[self.table]} is read-only in Modbus: only coil and holding "
                    "signals can be written",
                )
            )
        numeric = self.type not in ("bool", "string")
        issues.extend(self._limit_issues(None if numeric else self.type))
        if self.address + self.size - 1 > 65535:
            issues.append(
                (
                    ("address",),
                    f"{self.type} at address {self.address} spans {self.size} registers, "
                    "past the last address 65535",
                )
            )
        if issues:
            raise rule_error(issues)
        return self

    @property
    def size(self) -> int:
        """Registers (or bits) this signal occupies."""
        if self.table in ("coil", "discrete"):
            return 1
        if self.type == "string":
            return self.length or 1
        return REGISTER_COUNT[self.type or "uint16"]


class ModbusDeviceBase(DeviceBase):
    """Modbus options common to TCP and RTU: unit id and read planning."""

    unit: int = Field(1, ge=0, le=255)
    max_registers: int = Field(125, ge=1, le=125)
    max_gap: int = Field(10, ge=0, le=124)
    write_multiple: bool = False
    """Write with functions 15 and 16 only (for devices without 5 and 6)."""
    signals: list[ModbusSignal] = Field(default_factory=list)


class ModbusTcpDevice(ModbusDeviceBase):
    """A Modbus TCP device, or a unit behind a TCP-to-RTU converter."""

    protocol: Literal["modbus-tcp"]
    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)

    @property
    def link(self) -> str:
        """The connection this device shares with every device on the same host and port."""
        return f"tcp://{self.host}:{self.port}"


class ModbusRtuDevice(ModbusDeviceBase):
    """A Modbus RTU device on a serial port (RS-485 or RS-232)."""

    protocol: Literal["modbus-rtu"]
    serial_port: str = Field(min_length=1)
    baudrate: int = Field(SERIAL_DEFAULTS["baudrate"], ge=300, le=4_000_000)
    parity: Literal["N", "E", "O"] = SERIAL_DEFAULTS["parity"]
    stopbits: Annotated[Literal[1, 2], BeforeValidator(number_text)] = SERIAL_DEFAULTS["stopbits"]
    bytesize: Annotated[Literal[7, 8], BeforeValidator(number_text)] = SERIAL_DEFAULTS["bytesize"]

    @property
    def link(self) -> str:
        """The serial bus this device shares with every device on the same port."""
        return f"rtu://{self.serial_port}"


ModbusDevice = ModbusTcpDevice | ModbusRtuDevice
