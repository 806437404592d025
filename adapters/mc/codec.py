"""Decoding MC word blocks into samples, and encoding values into the words a PLC holds.

A batch read in word units answers each word little-endian, and MELSEC keeps 32- and 64-bit
values low word first: so the response bytes of a block are one little-endian byte string in
which an int32 at word `w` is simply `<i` at byte `2 w`, and a string's characters lie in order
(the first in the low byte of its first word). One precompiled `struct.Struct` per signal
unpacks it at its offset; a `BlockDecoder` is compiled once per planned read.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.mc.address import McLocation
from adapters.plcnumbers import CompiledBlock, Decode, encode_number, number_decoder
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


class BlockDecoder(CompiledBlock):
    """Decodes the data of one word-unit batch read into the samples of the signals it covers."""

    __slots__ = ("points", "word")

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
        super().__init__(2 * points, f"for {points} words", decoders)


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
    fmt = _FORMATS[loc.type]
    packed = encode_number(fmt, loc.type, field.name, value, field.scale, field.offset)
    return list(struct.unpack(f"<{len(packed) // 2}H", packed))
