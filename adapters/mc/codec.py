"""Decoding MC word blocks into samples, and encoding values into the words a PLC holds.

A batch read in word units answers each word little-endian, and MELSEC keeps 32- and 64-bit
values low word first: so the response bytes of a block are one little-endian byte string in
which an int32 at word `w` is simply `<i` at byte `2 w`, and a string's characters lie in order
(the first in the low byte of its first word). One precompiled `struct.Struct` per signal
unpacks it at its offset; a `BlockDecoder` is compiled once per planned read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapters.mc.address import McLocation
from adapters.plcnumbers import number_decoder
from gateway.model import GOOD, Sample, Value

_FORMATS: dict[str, str] = {
    "int16": "<h",
    "uint16": "<H",
    "int32": "<i",
    "uint32": "<I",
    "int64": "<q",
    "uint64": "<Q",
    "float32": "<f",
    "float64": "<d",
}
_FLOATS = frozenset({"float32", "float64"})

Decode = Callable[[bytes, int], Sample]


@dataclass(frozen=True, slots=True)
class McField:
    """One signal as the codec needs it; value = raw × `scale` + `offset`."""

    name: str
    location: McLocation
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    decimals: int | None = None
    """Decimals to publish (`gateway.numbers`); None: those of the scale, shortest float32."""


def _decoder(field: McField, at: int) -> Decode:
    loc, name, unit = field.location, field.name, field.unit
    if loc.type == "bool":
        mask = 0xFFFF if loc.bit is None else 1 << loc.bit
        unpack_word = struct.Struct("<H").unpack_from

        def decode_bool(buf: bytes, ts: int) -> Sample:
            return Sample(name, bool(unpack_word(buf, at)[0] & mask), GOOD, ts, unit)

        return decode_bool
    if loc.type == "string":
        end = at + 2 * loc.words

        def decode_string(buf: bytes, ts: int) -> Sample:
            text = buf[at:end].decode("ascii", errors="replace").rstrip("\x00 ")
            return Sample(name, text, GOOD, ts, unit)

        return decode_string
    return number_decoder(
        name, unit, loc.type, _FORMATS[loc.type], at, field.scale, field.offset, field.decimals
    )


class BlockDecoder:
    """Decodes the data of one word-unit batch read into the samples of the signals it covers."""

    __slots__ = ("_members", "points", "word")

    def __init__(self, word: int, points: int, members: Sequence[tuple[int, McField]]) -> None:
        self.word = word
        self.points = points
        decoders: list[tuple[int, Decode]] = []
        for index, field in members:
            loc = field.location
            rel = loc.word - word
            if rel < 0 or rel + loc.words > points:
                raise ValueError(f"{field.name} ({loc.address}) lies outside words {word}+{points}")
            decoders.append((index, _decoder(field, 2 * rel)))
        self._members = decoders

    def decode(self, data: bytes, ts: int, out: list[Sample | None]) -> None:
        """Write each covered signal's sample into `out[signal_index]`."""
        if len(data) < 2 * self.points:
            raise ValueError(f"the PLC answered {len(data)} bytes for {self.points} words")
        for index, fn in self._members:
            out[index] = fn(data, ts)


def encode_value(field: McField, value: Value) -> list[int]:
    """The 16-bit words the PLC holds for `value` (low word first): the inverse of decoding.

    A bool gives the word with its bit set (a bit device's bit is written in bit units by the
    shell); scale and offset are undone and integers rounded.
    """
    loc = field.location
    if loc.type == "bool":
        return [(1 << loc.bit if loc.bit is not None else 1) if value else 0]
    if loc.type == "string":
        raw = str(value).encode("ascii", errors="replace")[: 2 * loc.words]
        return list(struct.unpack(f"<{loc.words}H", raw.ljust(2 * loc.words, b"\0")))
    if isinstance(value, str) or value is None:
        raise TypeError(f"field {field.name}: a {loc.type} needs a number, not {value!r}")
    number: float = value
    if field.scale != 1.0 or field.offset != 0.0:
        number = (float(value) - field.offset) / field.scale
    if loc.type not in _FLOATS:
        number = round(number)
    packed = struct.pack(_FORMATS[loc.type], number)
    return list(struct.unpack(f"<{len(packed) // 2}H", packed))
