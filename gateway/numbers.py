"""How a number is published: as a person would write it (SPEC "What a reading becomes").

Decoding produces binary floats: raw 513 × 0.1 is 51.300000000000004, and the float32 a PLC
holds for 1.1 widens to 1.100000023841858. Every sink (MQTT JSON, InfluxDB line protocol, the
API and the page) writes a float with Python's shortest `repr`, so the value a sample carries
is made the double nearest to the decimal a person would write, once, in the adapter. Then
every sink is right without knowing anything about signals.

The rules, per signal, decided once at plan/compile time by `rounder` (`None` when a signal
needs nothing, so that the hot path does no work for it):

    signal                                 value published
    decimals: N (any number)               rounded to N decimals (after scale and offset)
    integer type, scale/offset             rounded to the decimals of scale and offset
    float32 (Modbus, S7, MC; OPC UA Float) the shortest decimal that reads back as the same
                                           float32, scale and offset included
    float64, scale/offset                  15 significant digits (the multiplication's noise)
    unscaled integers, float64, bools, strings: as read

Cost (2-core VM, Python 3.11): `round(v, n)` 0.1 µs, `shortest_float32` 0.3 µs a value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from decimal import Decimal
from math import floor, log10

Rounder = Callable[[float], float]
"""Turns a decoded float into the float whose repr is the decimal to publish."""

MAX_DECIMALS = 15
"""More decimals than a double holds would round nothing."""

_F32 = struct.Struct("<f")
_pack = _F32.pack
_SMALLEST_NORMAL = 1.1754943508222875e-38


def decimals_of(number: float) -> int:
    """Decimals of a config number as written: 0.1 → 1, 0.25 → 2, 2.0 → 0, 1e-05 → 5."""
    exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite: the config refuses inf and nan
    return min(MAX_DECIMALS, max(0, -exponent))


def shortest_float32(value: float) -> float:
    """The double nearest to the shortest decimal that reads back as the same float32.

    `value` is (or is rounded to) a float32; 1.100000023841858 → 1.1, 1452.300048828125 →
    1452.3. Tries 7 significant digits first (float32 holds 7.2), then 6 when 7 fit, else 8,
    then 9 (always enough); a value for which none fits (never, barring a log10 off by one at a
    power of ten) is returned as it is, which also reads back the same.
    """
    if not value:
        return value
    try:
        raw = _pack(value)
    except OverflowError:  # scaled past float32's range: as it is
        return value
    at = 6 - floor(log10(abs(value)))
    if abs(value) < _SMALLEST_NORMAL:  # fewer digits of precision: count up, rare
        for fewer in range(at - 6, at + 3):
            candidate = round(value, fewer)
            if _pack(candidate) == raw:
                return candidate
        return value
    seven = round(value, at)
    if _pack(seven) == raw:
        six = round(value, at - 1)
        return six if _pack(six) == raw else seven
    eight = round(value, at + 1)
    if _pack(eight) == raw:
        return eight
    nine = round(value, at + 2)
    return nine if _pack(nine) == raw else value


def _significant15(value: float) -> float:
    return float(f"{value:.15g}")


def rounder(
    kind: str | None, scale: float = 1.0, offset: float = 0.0, decimals: int | None = None
) -> Rounder | None:
    """What to do to a decoded value of a signal of type `kind` before it is published.

    None when nothing needs doing (unscaled integers, float64, bools, strings). `kind` is the
    signal's type (`float32`, `uint16`, ...; None for OPC UA, whose type is known per value).
    """
    if kind in ("bool", "string"):
        return None
    scaled = scale != 1.0 or offset != 0.0
    if decimals is not None:
        whole = kind not in ("float32", "float64", None)
        return None if whole and not scaled else _round_to(decimals)
    if kind == "float32":
        return shortest_float32
    if kind == "float64" or kind is None:
        return _significant15 if scaled else None
    if not scaled:
        return None
    places = max(decimals_of(scale), decimals_of(offset))
    if places == 0:
        return None  # an integer times an integral scale is exact
    return _round_to(places)


def exact_scaling(
    kind: str | None, scale: float, offset: float, decimals: int | None = None
) -> tuple[int, int, int] | None:
    """(s, o, p) such that raw × scale + offset, written to its decimals, is (raw × s + o) / p.

    For integer types with a scale or offset, when `decimals` (if set) keeps at least the
    decimals of scale and offset: integer arithmetic and one correctly rounded division give
    the double nearest to the exact decimal (513 × 1 / 10 is 51.3), as cheap as the float
    multiply it replaces. None where it does not apply (use `rounder`).
    """
    if kind in ("float32", "float64", "bool", "string", None):
        return None
    if scale == 1.0 and offset == 0.0:
        return None
    places = max(decimals_of(scale), decimals_of(offset))
    if decimals is not None and decimals < places:
        return None
    power = 10**places
    return round(scale * power), round(offset * power), power


def _round_to(places: int) -> Rounder:
    def round_to(value: float) -> float:
        return round(value, places)

    return round_to
