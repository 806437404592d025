"""What the S7 and MC codecs share: the number decoders (unpack, scale, and write as a person
would), and the compiled block that runs one decoder per signal over a read's bytes.

Why one module: both codecs unpack a number at a byte offset of a block with one precompiled
`struct` format (big-endian for S7, little-endian for MC), then do the same: refuse a NaN or an
infinity, apply scale and offset, and make the value the decimal SPEC "What a reading becomes"
asks for (`gateway.numbers`: the decimals of the scale, `decimals:`, the shortest float32).
The choice is made here once per signal, so a value costs the unpack and at most one call; a
float32 that holds still is worked out once (as the Modbus codec does).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

from gateway.model import BAD, GOOD, Sample, Value
from gateway.numbers import exact_scaling, rounder

Decode = Callable[[bytes, int], Sample]
"""Decodes one signal from (the block's bytes, ts)."""

FLOATS = frozenset({"float32", "float64"})


def number_decoder(
    name: str,
    unit: str | None,
    kind: str,
    fmt: str,
    at: int,
    scale: float = 1.0,
    offset: float = 0.0,
    decimals: int | None = None,
) -> Decode:
    """The decoder of a number of type `kind`, packed as `fmt` at byte `at` of a block."""
    unpack = struct.Struct(fmt).unpack_from
    identity = scale == 1.0 and offset == 0.0
    fix = rounder(kind, scale, offset, decimals)
    if kind in FLOATS:
        if fix is not None:
            memo = [math.nan, math.nan]  # the last raw value and what it became

            def decode_float_fixed(buf: bytes, ts: int) -> Sample:
                raw = unpack(buf, at)[0]
                if raw != memo[0]:  # NaN is never equal: always checked below
                    if not math.isfinite(raw):
                        return Sample(name, None, BAD, ts, unit, f"not a finite number: {raw}")
                    memo[0] = raw
                    memo[1] = fix(raw if identity else raw * scale + offset)
                return Sample(name, memo[1], GOOD, ts, unit)

            return decode_float_fixed

        def decode_float(buf: bytes, ts: int) -> Sample:
            raw = unpack(buf, at)[0]
            if not math.isfinite(raw):
                return Sample(name, None, BAD, ts, unit, f"not a finite number: {raw}")
            return Sample(name, raw if identity else raw * scale + offset, GOOD, ts, unit)

        return decode_float
    if identity:

        def decode_int(buf: bytes, ts: int) -> Sample:
            return Sample(name, unpack(buf, at)[0], GOOD, ts, unit)

        return decode_int
    exact = exact_scaling(kind, scale, offset, decimals)
    if exact is not None:
        times, plus, per = exact

        def decode_scaled_exact(buf: bytes, ts: int) -> Sample:
            return Sample(name, (unpack(buf, at)[0] * times + plus) / per, GOOD, ts, unit)

        return decode_scaled_exact
    if fix is not None:
        round_it = fix

        def decode_scaled_fixed(buf: bytes, ts: int) -> Sample:
            return Sample(name, round_it(unpack(buf, at)[0] * scale + offset), GOOD, ts, unit)

        return decode_scaled_fixed

    def decode_scaled(buf: bytes, ts: int) -> Sample:
        return Sample(name, unpack(buf, at)[0] * scale + offset, GOOD, ts, unit)

    return decode_scaled


def encode_number(
    fmt: str, kind: str, name: str, value: Value, scale: float = 1.0, offset: float = 0.0
) -> bytes:
    """The bytes a number decoded by `number_decoder` was read from: scale and offset undone,
    integers rounded (the value was checked first, `adapters.plcwrite.check_value`)."""
    if isinstance(value, str) or value is None:
        raise TypeError(f"field {name}: a {kind} needs a number, not {value!r}")
    raw: float = value
    if scale != 1.0 or offset != 0.0:
        raw = (float(value) - offset) / scale
    if kind not in FLOATS:
        raw = round(raw)
    return struct.pack(fmt, raw)


class CompiledBlock:
    """The decoders of one planned read, each at its signal's offset in the response's bytes:
    `decode` fills the samples of the signals it covers (once per scan, one call a signal)."""

    __slots__ = ("_members", "_nbytes", "_wanted")

    def __init__(self, nbytes: int, wanted: str, members: list[tuple[int, Decode]]) -> None:
        """`nbytes`: what a whole answer holds; `wanted` says it in the family's units for a
        short answer's message (`of 11`, `for 4 words`)."""
        self._nbytes = nbytes
        self._wanted = wanted
        self._members = members

    def decode(self, data: bytes, ts: int, out: list[Sample | None]) -> None:
        """Write each covered signal's sample into `out[signal_index]`; ValueError when `data`
        is shorter than the block (the caller reports it)."""
        if len(data) < self._nbytes:
            raise ValueError(f"the PLC answered {len(data)} bytes {self._wanted}")
        for index, fn in self._members:
            out[index] = fn(data, ts)
