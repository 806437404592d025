"""Decoding Modbus register and bit blocks into samples, fast enough for the hot path.

A device scan reads a few blocks; each block is decoded by a `BlockDecoder` compiled once from
the device config. The block's registers are packed into bytes once per read, and each signal
is unpacked at its byte offset with a precompiled `struct.Struct` (0.03 µs per value, against
1.8 µs for pymodbus's `convert_from_registers`).

Byte and word order, with the value 0x0A0B0C0D as an example (SPEC `byte_order`, `word_order`):

    byte_order  word_order  name  registers on the wire
    big         big         ABCD  0x0A0B 0x0C0D   (the Modbus default)
    big         little      CDAB  0x0C0D 0x0A0B   ("word swap", common on PLCs)
    little      big         BADC  0x0B0A 0x0D0C   ("byte swap")
    little      little      DCBA  0x0D0C 0x0B0A

All four are unpacked without moving bytes one by one: ABCD reads the packed registers
big-endian and DCBA reads them little-endian; CDAB and BADC do the same on a second packing with
the bytes of each register swapped (made only when a block has such a signal).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence

from gateway.config.models import ModbusSignal
from gateway.model import BAD, GOOD, Sample, Value
from gateway.numbers import exact_scaling, rounder

_FORMATS = {
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}
_FLOATS = frozenset({"float32", "float64"})

Decode = Callable[[bytes, bytes, int], Sample]
"""Decodes one signal from (registers packed big-endian, the same byte-swapped, ts)."""


def _layout(signal: ModbusSignal) -> tuple[bool, str]:
    """(read the byte-swapped packing?, struct endianness) for the signal's byte/word order."""
    swapped = signal.byte_order != signal.word_order
    endian = "<" if signal.word_order == "little" else ">"
    if signal.type in ("int16", "uint16", "bool", "string"):
        # One register at a time: only the byte order matters.
        return signal.byte_order == "little", ">"
    return swapped, endian


def _number_decoder(signal: ModbusSignal, offset: int) -> tuple[bool, Decode]:
    swapped, endian = _layout(signal)
    unpack = struct.Struct(endian + _FORMATS[signal.type or "uint16"]).unpack_from
    name, unit = signal.name, signal.unit
    scale, shift = signal.scale, signal.offset
    is_float = signal.type in _FLOATS
    identity = scale == 1.0 and shift == 0.0
    # How the value is written (gateway.numbers), chosen here once: None costs nothing a value.
    fix = rounder(signal.type, scale, shift, signal.decimals)

    if is_float:
        if fix is not None:
            # The last raw value and what it became: a value that holds still (a setpoint, an
            # idle temperature) is written once, not worked out again every scan.
            memo: list[float] = [math.nan, math.nan]

            def decode_float_fixed(buf: bytes, swp: bytes, ts: int) -> Sample:
                raw = unpack(swp if swapped else buf, offset)[0]
                if raw != memo[0]:  # NaN is never equal: always checked below
                    if not math.isfinite(raw):
                        return Sample(name, None, BAD, ts, unit, f"not a finite number: {raw}")
                    memo[0] = raw
                    memo[1] = fix(raw if identity else raw * scale + shift)
                return Sample(name, memo[1], GOOD, ts, unit)

            return swapped, decode_float_fixed

        def decode_float(buf: bytes, swp: bytes, ts: int) -> Sample:
            raw = unpack(swp if swapped else buf, offset)[0]
            if not math.isfinite(raw):
                return Sample(name, None, BAD, ts, unit, f"not a finite number: {raw}")
            return Sample(name, raw if identity else raw * scale + shift, GOOD, ts, unit)

        return swapped, decode_float
    if identity:

        def decode_int(buf: bytes, swp: bytes, ts: int) -> Sample:
            return Sample(name, unpack(swp if swapped else buf, offset)[0], GOOD, ts, unit)

        return swapped, decode_int
    exact = exact_scaling(signal.type, scale, shift, signal.decimals)
    if exact is not None:
        times, plus, per = exact

        def decode_scaled_exact(buf: bytes, swp: bytes, ts: int) -> Sample:
            raw = unpack(swp if swapped else buf, offset)[0]
            return Sample(name, (raw * times + plus) / per, GOOD, ts, unit)

        return swapped, decode_scaled_exact
    if fix is not None:

        def decode_scaled_fixed(buf: bytes, swp: bytes, ts: int) -> Sample:
            raw = unpack(swp if swapped else buf, offset)[0]
            return Sample(name, fix(raw * scale + shift), GOOD, ts, unit)

        return swapped, decode_scaled_fixed

    def decode_scaled(buf: bytes, swp: bytes, ts: int) -> Sample:
        return Sample(
            name, unpack(swp if swapped else buf, offset)[0] * scale + shift, GOOD, ts, unit
        )

    return swapped, decode_scaled


def _register_bool_decoder(signal: ModbusSignal, offset: int) -> tuple[bool, Decode]:
    swapped = signal.byte_order == "little"
    unpack = struct.Struct(">H").unpack_from
    name, unit = signal.name, signal.unit
    mask = 1 << signal.bit if signal.bit is not None else 0xFFFF

    def decode_bool(buf: bytes, swp: bytes, ts: int) -> Sample:
        return Sample(name, bool(unpack(swp if swapped else buf, offset)[0] & mask), GOOD, ts, unit)

    return swapped, decode_bool


def _string_decoder(signal: ModbusSignal, offset: int) -> tuple[bool, Decode]:
    swapped = signal.byte_order == "little"
    end = offset + 2 * (signal.length or 1)
    name, unit = signal.name, signal.unit

    def decode_string(buf: bytes, swp: bytes, ts: int) -> Sample:
        raw = (swp if swapped else buf)[offset:end]
        text = raw.decode("ascii", errors="replace").rstrip("\x00 ")
        return Sample(name, text, GOOD, ts, unit)

    return swapped, decode_string


class BlockDecoder:
    """Decodes one read block (registers or bits) into the samples of the signals it covers."""

    __slots__ = (
        "_bit_members",
        "_bits",
        "_members",
        "_pack",
        "_pack_swapped",
        "count",
        "start",
        "table",
    )

    def __init__(
        self, table: str, start: int, count: int, members: Sequence[tuple[int, ModbusSignal]]
    ) -> None:
        self.table = table
        self.start = start
        self.count = count
        self._bits = table in ("coil", "discrete")
        self._pack = struct.Struct(f">{count}H").pack
        self._pack_swapped: Callable[..., bytes] | None = None
        decoders: list[tuple[int, Decode]] = []
        bit_members: list[tuple[int, tuple[int, str, str | None]]] = []
        """(signal index, (bit offset in the block, name, unit)) of a bit block."""
        needs_swap = False
        for index, signal in members:
            rel = signal.address - start
            if rel < 0 or rel + signal.size > count:
                raise ValueError(f"signal {signal.name} lies outside block {table} {start}+{count}")
            if self._bits:
                bit_members.append((index, (rel, signal.name, signal.unit)))
                continue
            offset = rel * 2
            if signal.type == "string":
                swapped, fn = _string_decoder(signal, offset)
            elif signal.type == "bool":
                swapped, fn = _register_bool_decoder(signal, offset)
            else:
                swapped, fn = _number_decoder(signal, offset)
            needs_swap |= swapped
            decoders.append((index, fn))
        if needs_swap:
            self._pack_swapped = struct.Struct(f"<{count}H").pack
        self._members = decoders
        self._bit_members = bit_members

    def decode(
        self, values: Sequence[int] | Sequence[bool], ts: int, out: list[Sample | None]
    ) -> None:
        """Write each covered signal's sample into `out[signal_index]`."""
        if self._bits:
            for index, (rel, name, unit) in self._bit_members:
                out[index] = Sample(name, bool(values[rel]), GOOD, ts, unit)
            return
        buf = self._pack(*values)
        swp = self._pack_swapped(*values) if self._pack_swapped is not None else buf
        for index, fn in self._members:
            out[index] = fn(buf, swp, ts)


def compile_block(
    table: str, start: int, count: int, members: Sequence[tuple[int, ModbusSignal]]
) -> BlockDecoder:
    """A decoder for a block of `count` registers or bits of `table` starting at `start`."""
    return BlockDecoder(table, start, count, members)


def encode_value(signal: ModbusSignal, value: Value) -> list[int]:
    """The registers (or `[0|1]` for a bit) a device holds for `value`: the inverse of decoding.

    Used by tests and the simulators, and later for writes. Scale and offset are undone and the
    raw value rounded for integer types.
    """
    if signal.table in ("coil", "discrete"):
        return [1 if value else 0]
    if signal.type == "string":
        raw = str(value).encode("ascii", errors="replace")[: 2 * (signal.length or 1)]
        raw = raw.ljust(2 * (signal.length or 1), b"\0")
        words = list(struct.unpack(f">{len(raw) // 2}H", raw))
        return _swap_bytes(words) if signal.byte_order == "little" else words
    if signal.type == "bool":
        word = (1 << signal.bit) if (value and signal.bit is not None) else (1 if value else 0)
        return _swap_bytes([word]) if signal.byte_order == "little" else [word]
    fmt = _FORMATS[signal.type or "uint16"]
    if isinstance(value, str) or value is None:
        raise TypeError(f"signal {signal.name}: a {signal.type} needs a number, not {value!r}")
    raw_value: float = value
    if signal.scale != 1.0 or signal.offset != 0.0:
        raw_value = (float(value) - signal.offset) / signal.scale
    if signal.type not in _FLOATS:
        raw_value = round(raw_value)
    words = list(struct.unpack(f">{struct.calcsize(fmt) // 2}H", struct.pack(">" + fmt, raw_value)))
    if signal.word_order == "little":
        words.reverse()
    if signal.byte_order == "little":
        words = _swap_bytes(words)
    return words


def _swap_bytes(words: list[int]) -> list[int]:
    return [((w & 0xFF) << 8) | (w >> 8) for w in words]
