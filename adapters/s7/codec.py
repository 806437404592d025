"""Decoding S7 read blocks into samples, and encoding values into the bytes a PLC holds.

S7 is big-endian throughout (a REAL at DB1.DBD0 is bytes 0-3, most significant first), so one
precompiled `struct.Struct` per signal unpacks it straight from the response bytes at its offset;
a `BlockDecoder` is compiled once per planned read, as the Modbus codec does, and no per-value
work is left on the hot path beyond the unpack and the scale.

    type      S7 type         bytes  layout
    bool      BOOL            1      one bit (0 = least significant) of the byte
    int8      SINT            1      two's complement
    uint8     USINT, BYTE     1
    int16     INT             2      big-endian
    uint16    UINT, WORD      2
    int32     DINT            4
    uint32    UDINT, DWORD    4
    float32   REAL            4      IEEE 754 single, big-endian
    int64     LINT            8
    uint64    ULINT, LWORD    8
    float64   LREAL           8      IEEE 754 double, big-endian
    string    STRING[n]       n + 2  max length n, actual length, then the characters

S7 STRING characters are single bytes (the PLC's code page, Windows-1252 in TIA Portal): they
are decoded as Latin-1, which maps every byte and never fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.plcnumbers import CompiledBlock, Decode, encode_number, number_decoder
from adapters.s7.address import S7Location
from gateway.model import GOOD, Sample, Value

_FORMATS: dict[str, str] = {
    "int8": ">b",
    "uint8": ">B",
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "int64": ">q",
    "uint64": ">Q",
    "float32": ">f",
    "float64": ">d",
}


@dataclass(frozen=True, slots=True)
class S7Field:
    """One signal as the codec needs it: name, where it lies, scale, offset and unit.

    The poller builds these from the validated config; value = raw × `scale` + `offset`.
    """

    name: str
    location: S7Location
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    decimals: int | None = None
    """Decimals to publish (`gateway.numbers`); None: those of the scale, shortest float32."""


def _number(field: S7Field, at: int) -> Decode:
    kind = field.location.type
    return number_decoder(
        field.name, field.unit, kind, _FORMATS[kind], at, field.scale, field.offset, field.decimals
    )


def _bool(field: S7Field, at: int) -> Decode:
    mask = 1 << (field.location.address.bit or 0)
    name, unit = field.name, field.unit

    def decode_bool(buf: bytes, ts: int) -> Sample:
        return Sample(name, bool(buf[at] & mask), GOOD, ts, unit)

    return decode_bool


def _string(field: S7Field, at: int) -> Decode:
    capacity = field.location.length or 0
    name, unit = field.name, field.unit

    def decode_string(buf: bytes, ts: int) -> Sample:
        # The max-length byte is the PLC's declaration; a byte array read as a string (or a
        # string never written) can hold anything there, so the config's length bounds it too.
        declared = buf[at] or capacity
        actual = min(buf[at + 1], declared, capacity)
        return Sample(name, buf[at + 2 : at + 2 + actual].decode("latin-1"), GOOD, ts, unit)

    return decode_string


class BlockDecoder(CompiledBlock):
    """Decodes the bytes of one read item into the samples of the signals it covers."""

    __slots__ = ("size", "start")

    def __init__(self, start: int, size: int, members: Sequence[tuple[int, S7Field]]) -> None:
        self.start = start
        self.size = size
        decoders: list[tuple[int, Decode]] = []
        for index, field in members:
            loc = field.location
            at = loc.start - start
            if at < 0 or at + loc.size > size:
                raise ValueError(f"{field.name} ({loc.address}) lies outside bytes {start}+{size}")
            if loc.type == "bool":
                decoders.append((index, _bool(field, at)))
            elif loc.type == "string":
                decoders.append((index, _string(field, at)))
            else:
                decoders.append((index, _number(field, at)))
        super().__init__(size, f"of {size}", decoders)


def encode_value(field: S7Field, value: Value) -> bytes:
    """The bytes the PLC holds at the field's address for `value`: the inverse of decoding.

    Scale and offset are undone and the raw value rounded for integer types. A bool gives one
    byte with its bit set (the write itself is a bit write); a string gives its full STRING[n]
    (max length, actual length, characters padded with NULs).
    """
    loc = field.location
    if loc.type == "bool":
        return bytes([1 << (loc.address.bit or 0) if value else 0])
    if loc.type == "string":
        capacity = loc.length or 0
        chars = str(value).encode("latin-1", errors="replace")[:capacity]
        return bytes([capacity, len(chars)]) + chars.ljust(capacity, b"\0")
    fmt = _FORMATS[loc.type]
    return encode_number(fmt, loc.type, field.name, value, field.scale, field.offset)
