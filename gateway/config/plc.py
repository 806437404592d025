"""Siemens S7 and Mitsubishi MC (SLMP) devices and their signals, addressed as the makers'
tools write them (SPEC "More PLC families")."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from .alarms import signal_alarm_issues
from .base import DeviceBase, SignalBase
from .modbus import ModbusType
from .rules import Loc, rule_error

S7Type = Literal[
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
]
McType = ModbusType


def _plc_issues(signal: S7Signal | McSignal, default_type: str) -> list[tuple[Loc, str]]:
    """The rules S7 and MC signals share: the address parses and fits the type (checked by the
    adapter's pure parser), and scale, offset and deadband are for numbers only."""
    issues: list[tuple[Loc, str]] = []
    if signal.type is None:
        signal.__dict__["type"] = default_type  # not an assignment: no re-validation
        # The alarms were checked before the type was known (SignalBase): check them again.
        if signal.alarms:
            issues += signal_alarm_issues(signal, signal.alarms)
    numeric = signal.type not in ("bool", "string")
    issues += signal._limit_issues(None if numeric else signal.type)
    if signal.type in ("bool", "string"):
        for field, neutral in (("scale", 1.0), ("offset", 0.0)):
            if getattr(signal, field) != neutral:
                issues.append(((field,), f"{field} applies to numbers, not to a {signal.type}"))
        if signal.deadband is not None:
            issues.append((("deadband",), f"deadband applies to numbers, not to a {signal.type}"))
        if signal.decimals is not None:
            issues.append((("decimals",), f"decimals applies to numbers, not to a {signal.type}"))
    return issues


class S7Signal(SignalBase):
    """One value in a Siemens S7 PLC, at an address as STEP 7 / TIA Portal write it
    (`DB1.DBD0`, `MW20`, `I0.3`); the size letter must agree with `type`."""

    address: str = Field(min_length=1, max_length=64)
    type: S7Type | None = None
    """Defaults to bool (X), uint8 (B) and uint16 (W); a D address needs its type."""
    length: int | None = Field(None, ge=1, le=254)
    """A string's STRING[n] size in characters (it spans n + 2 bytes)."""
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> S7Signal:
        # Imported here, not at the top: the core imports no adapter package until a config
        # names one (the parsers are pure, but the boundary is kept by import, not by trust).
        from adapters.s7.address import locate

        try:
            location = locate(self.address, self.type, self.length)
        except ValueError as exc:
            raise rule_error([(("address",), str(exc))]) from None
        issues = _plc_issues(self, location.type)
        if issues:
            raise rule_error(issues)
        return self


class McSignal(SignalBase):
    """One value in a Mitsubishi MELSEC PLC, at a device address as GX Works writes it
    (`D100`, `M10`, `X1A`, `D100.F`); 32-bit values take two words, low word first."""

    address: str = Field(min_length=1, max_length=64)
    type: McType | None = None
    """Defaults to bool on bit devices (and `D100.F`), int16 on word devices."""
    length: int | None = Field(None, ge=1, le=480)
    """A string's size in words (two characters a word)."""
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> McSignal:
        from adapters.mc.address import locate  # see S7Signal: no adapter import at start-up

        try:
            location = locate(self.address, self.type, self.length)
        except ValueError as exc:
            raise rule_error([(("address",), str(exc))]) from None
        issues = _plc_issues(self, location.type)
        if issues:
            raise rule_error(issues)
        return self


class S7Device(DeviceBase):
    """A Siemens S7 PLC (S7-300/400/1200/1500) over ISO-on-TCP (SPEC "More PLC families")."""

    protocol: Literal["s7"]
    host: str = Field(min_length=1)
    port: int = Field(102, ge=1, le=65535)
    rack: int = Field(0, ge=0, le=7)
    slot: int = Field(1, ge=0, le=31)
    """S7-300: 2; S7-1200/1500: 1 (or 0); S7-400: the CPU's slot."""
    connection_type: Literal["pg", "op", "basic"] = "pg"
    """The connection resource the PLC gives the gateway: PG (programming device, the usual),
    OP (operator panel) or S7 basic; use op or basic when the PLC's PG connections run out."""
    pdu_size: int = Field(480, ge=240, le=960)
    """The PDU size asked for; the PLC may grant less, and reads are planned within what it
    grants (240 on most S7-300 and S7-1200, 480 or 960 on S7-400 and S7-1500)."""
    max_gap: int = Field(20, ge=0, le=942)
    """Unused bytes worth reading through to save a request."""
    signals: list[S7Signal] = Field(default_factory=list)

    @property
    def link(self) -> str:
        """The connection this device shares with devices on the same PLC and CPU slot."""
        return f"s7://{self.host}:{self.port}/{self.rack}/{self.slot}/{self.connection_type}"


class McDevice(DeviceBase):
    """A Mitsubishi MELSEC PLC (Q, L, iQ-R, iQ-F) over MC protocol / SLMP, 3E binary frames."""

    protocol: Literal["mc"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    """The port set for MC protocol / SLMP in the PLC's Ethernet settings (no standard one)."""
    network: int = Field(0, ge=0, le=255)
    """Network number: 0, the station connected to."""
    station: int = Field(0xFF, ge=0, le=255)
    """Station (PC) number: 255 (0xFF), the CPU of the station connected to."""
    module_io: int = Field(0x03FF, ge=0, le=0xFFFF)
    """Request destination module I/O number: 0x03FF, the own CPU (0x03E0-0x03E3 multi-CPU)."""
    multidrop: int = Field(0, ge=0, le=255)
    """Request destination multidrop station number: 0."""
    max_words: int = Field(960, ge=1, le=960)
    """Word points in one batch read (960 is the protocol's limit)."""
    max_gap: int = Field(10, ge=0, le=959)
    """Unused words worth reading through to save a request."""
    signals: list[McSignal] = Field(default_factory=list)

    @property
    def link(self) -> str:
        """The connection this device shares with devices on the same host and port."""
        return f"mc://{self.host}:{self.port}"
