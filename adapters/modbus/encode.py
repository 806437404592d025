"""Encoding a value to write into Modbus registers or a coil: the exact inverse of `codec.py`.

Pure functions, no network. A write must put on the wire exactly what the technician asked
for, or nothing at all, so every conversion that could lose something is refused with a
sentence instead of being rounded away:

- scale and offset are undone exactly: 145.3 with `scale: 0.1` is raw 1453 (the division gives
  1452.9999999999998, which is rounded), but 145.35 is refused: the register cannot hold it;
- an integer type refuses a value outside its range (a uint16 takes 0..65535) and a fraction;
- a float32 refuses a value outside its range; a string refuses non-ASCII text and text longer
  than its registers;
- a bool signal takes only true or false (never 0/1 or "on").

Which request carries the value (`WritePlan.function`): a coil is function 5, one register
function 6, a value over several registers function 16 (one request, never one per register,
so the device sees the value change at once). A device with `write_multiple: true` (some
implement only the "multiple" functions) gets 15 for a coil and 16 for one register. A `bit`
of a register is read, changed and written back (`merge_bit`): the other 15 bits must not
change.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from decimal import Decimal

from gateway.adapter import WriteRefused
from gateway.config.models import ModbusSignal
from gateway.model import Value

_INTEGERS: dict[str, tuple[str, int, int]] = {
    "int16": (">h", -(2**15), 2**15 - 1),
    "uint16": (">H", 0, 2**16 - 1),
    "int32": (">i", -(2**31), 2**31 - 1),
    "uint32": (">I", 0, 2**32 - 1),
    "int64": (">q", -(2**63), 2**63 - 1),
    "uint64": (">Q", 0, 2**64 - 1),
}
_FLOATS: dict[str, str] = {"float32": ">f", "float64": ">d"}
_FLOAT32_MAX = 3.4028234663852886e38

FC_WRITE_COIL = 5
FC_WRITE_REGISTER = 6
FC_WRITE_COILS = 15
FC_WRITE_REGISTERS = 16


class EncodeError(WriteRefused, ValueError):
    """The value cannot be written to this signal as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class WritePlan:
    """One Modbus write request for one signal's value."""

    function: int
    """5 (one coil), 6 (one register), 15 (coils) or 16 (registers, one request)."""
    address: int
    registers: tuple[int, ...] = ()
    """The words to write (functions 6 and 16); empty for a coil or a bit of a register."""
    bit: bool | None = None
    """The coil's state (function 5), or the bit to set in a register (read-modify-write)."""

    @property
    def read_modify_write(self) -> bool:
        """Whether the register must be read first (a bool in one bit of a holding register)."""
        return self.function in (FC_WRITE_REGISTER, FC_WRITE_REGISTERS) and not self.registers

    @property
    def coil(self) -> bool:
        """Whether this writes a coil (functions 5 and 15)."""
        return self.function in (FC_WRITE_COIL, FC_WRITE_COILS)


def decimals_of(number: float) -> int:
    """The decimals a person writes `number` with (0.1 -> 1, 0.25 -> 2, 10 -> 0)."""
    exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def shown(signal: ModbusSignal, value: Value) -> Value:
    """A decoded value as a person writes it: a scaled number to the decimals of its scale and
    offset (1453 x 0.1 is 145.3), a float32 as the shortest decimal that is the same float32."""
    if not isinstance(value, float):
        return value
    if signal.scale != 1.0 or signal.offset != 0.0:
        return round(value, max(decimals_of(signal.scale), decimals_of(signal.offset)))
    if signal.type == "float32" and math.isfinite(value):
        exact = struct.pack(">f", value)
        for digits in range(1, 10):
            short = float(f"{value:.{digits}g}")
            if struct.pack(">f", short) == exact:
                return short
    return value


def check_value(signal: ModbusSignal, value: object) -> Value:
    """`value` as the signal's kind of value (bool, number or text), or EncodeError."""
    if signal.type == "bool":
        if not isinstance(value, bool):
            raise EncodeError(f"{signal.name} is a bool: write true or false, not {value!r}")
        return value
    if signal.type == "string":
        if not isinstance(value, str):
            raise EncodeError(f"{signal.name} is a string: write text, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EncodeError(f"{signal.name} is a {signal.type}: write a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise EncodeError(f"{signal.name}: {value} is not a finite number")
    return value


def raw_number(signal: ModbusSignal, value: float) -> int | float:
    """The raw register number for `value`: scale and offset undone exactly, or EncodeError."""
    kind = signal.type or "uint16"
    scaled = signal.scale != 1.0 or signal.offset != 0.0
    raw: float = (value - signal.offset) / signal.scale if scaled else value
    if kind in _FLOATS:
        if kind == "float32" and abs(raw) > _FLOAT32_MAX:
            raise EncodeError(f"{signal.name}: {value} is beyond what a float32 holds")
        return raw
    nearest = round(raw)
    if not math.isclose(raw, nearest, rel_tol=1e-9, abs_tol=1e-9):
        if scaled:
            raise EncodeError(
                f"{signal.name}: {value} cannot be written exactly with scale {signal.scale:g}"
                + (f" and offset {signal.offset:g}" if signal.offset else "")
                + f" (raw {raw:.6g} is not a whole number); the register holds steps of "
                f"{signal.scale:g}"
            )
        raise EncodeError(f"{signal.name} is a {kind}: write a whole number, not {value}")
    _fmt, low, high = _INTEGERS[kind]
    if not low <= nearest <= high:
        shown = f"{value}" if not scaled else f"{value} (raw {nearest})"
        raise EncodeError(f"{signal.name}: {shown} is outside what a {kind} holds ({low}..{high})")
    return nearest


def registers_of(signal: ModbusSignal, value: Value) -> list[int]:
    """The registers that hold `value` (a checked value: see `check_value`), honouring byte
    and word order, as the device will hold them."""
    if signal.type == "string":
        size = 2 * (signal.length or 1)
        assert isinstance(value, str)
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError:
            raise EncodeError(f"{signal.name}: {value!r} is not ASCII text") from None
        if len(raw) > size:
            raise EncodeError(
                f"{signal.name}: {len(raw)} characters do not fit its {signal.length} "
                f"registers ({size} characters at most)"
            )
        raw = raw.ljust(size, b"\0")
        words = list(struct.unpack(f">{size // 2}H", raw))
        return _swap_bytes(words) if signal.byte_order == "little" else words
    assert isinstance(value, int | float) and not isinstance(value, bool)
    kind = signal.type or "uint16"
    number = raw_number(signal, value)
    fmt = _FLOATS[kind] if kind in _FLOATS else _INTEGERS[kind][0]
    packed = struct.pack(fmt, number)
    words = list(struct.unpack(f">{len(packed) // 2}H", packed))
    if signal.word_order == "little":
        words.reverse()
    if signal.byte_order == "little":
        words = _swap_bytes(words)
    return words


def plan_write(signal: ModbusSignal, value: object, multiple: bool = False) -> WritePlan:
    """The request that writes `value` to `signal`, or EncodeError (nothing may be written).

    `multiple`: use functions 15 and 16 even for one coil or one register.
    """
    checked = check_value(signal, value)
    single = FC_WRITE_REGISTERS if multiple else FC_WRITE_REGISTER
    if signal.table == "coil":
        assert isinstance(checked, bool)
        return WritePlan(FC_WRITE_COILS if multiple else FC_WRITE_COIL, signal.address, bit=checked)
    if signal.table != "holding":
        raise EncodeError(f"{signal.name}: a {signal.table} signal cannot be written")
    if signal.type == "bool":
        assert isinstance(checked, bool)
        if signal.bit is not None:
            return WritePlan(single, signal.address, bit=checked)
        word = 1 if checked else 0
        word = _swap_bytes([word])[0] if signal.byte_order == "little" else word
        return WritePlan(single, signal.address, (word,))
    words = registers_of(signal, checked)
    function = single if len(words) == 1 else FC_WRITE_REGISTERS
    return WritePlan(function, signal.address, tuple(words))


def merge_bit(signal: ModbusSignal, word: int, value: bool) -> int:
    """The register `word` (as read) with the signal's bit set to `value`, the others kept."""
    assert signal.bit is not None
    if signal.byte_order == "little":
        word = _swap_bytes([word])[0]
    mask = 1 << signal.bit
    word = (word | mask) if value else (word & ~mask & 0xFFFF)
    return _swap_bytes([word])[0] if signal.byte_order == "little" else word


def _swap_bytes(words: list[int]) -> list[int]:
    return [((w & 0xFF) << 8) | (w >> 8) for w in words]
