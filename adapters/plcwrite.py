"""What S7 and MC writes share: the checks that refuse a value before anything is sent, and the
read-back shown as a person writes it. Pure functions, no network.

A write must put on the wire exactly what the technician asked for, or nothing at all (as the
Modbus encoder does, `adapters.modbus.encode`): a scaled value that is not a whole step of its
scale (145.35 with `scale: 0.1`), an integer outside its type's range or with a fraction, a
float32 beyond its range, a bool given as 0/1, text that does not fit or has characters the PLC
cannot hold: each is refused with a sentence. The families' own codecs (`adapters.s7.codec`,
`adapters.mc.codec`) then encode the value checked here.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal

from gateway.adapter import WriteRefused
from gateway.model import Value

INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


def decimals_of(number: float) -> int:
    """The decimals a person writes `number` with (0.1 -> 1, 0.25 -> 2, 10 -> 0)."""
    exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_value(
    what: str,
    kind: str,
    value: Value,
    scale: float = 1.0,
    offset: float = 0.0,
    *,
    chars: int = 0,
    encoding: str = "ascii",
) -> None:
    """Refuse (WriteRefused) a `value` that signal `what` of type `kind` cannot hold exactly;
    `chars` is a string's capacity in characters and `encoding` what the PLC holds."""
    if kind == "bool":
        if not isinstance(value, bool):
            raise WriteRefused(f"{what} is a bool: write true or false, not {value!r}")
        return
    if kind == "string":
        if not isinstance(value, str):
            raise WriteRefused(f"{what} is a string: write text, not {value!r}")
        try:
            value.encode(encoding)
        except UnicodeEncodeError:
            raise WriteRefused(f"{what} holds {encoding} text only: {value!r}") from None
        if len(value) > chars:
            raise WriteRefused(f"{what} holds {chars} characters, {value!r} has {len(value)}")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WriteRefused(f"{what} is a {kind}: write a number, not {value!r}")
    raw: float = value
    if scale != 1.0 or offset != 0.0:
        raw = (float(value) - offset) / scale
    if kind in INTEGER_RANGES:
        whole = round(raw)
        if abs(raw - whole) > 1e-6 * max(1.0, abs(raw)):
            step = f" (a step of its scale {scale:g})" if scale != 1.0 else ""
            raise WriteRefused(f"{what} holds whole numbers{step}: {value!r} is not one")
        lo, hi = INTEGER_RANGES[kind]
        if not lo <= whole <= hi:
            raise WriteRefused(
                f"{what} is a {kind} ({lo}..{hi} raw): {value!r} is raw {whole}, out of range"
            )
        return
    if not math.isfinite(raw) or (kind == "float32" and abs(raw) > _FLOAT32_MAX):
        raise WriteRefused(f"{what} is a {kind}: {value!r} is beyond its range")


def shown(kind: str, scale: float, offset: float, value: Value) -> Value:
    """A decoded value as a person writes it: a scaled number to the decimals of its scale and
    offset (1453 x 0.1 is 145.3), a float32 as the shortest decimal that is the same float32."""
    if not isinstance(value, float):
        return value
    if scale != 1.0 or offset != 0.0:
        return round(value, max(decimals_of(scale), decimals_of(offset)))
    if kind == "float32" and math.isfinite(value):
        exact = struct.pack(">f", value)
        for digits in range(1, 10):
            short = float(f"{value:.{digits}g}")
            if struct.pack(">f", short) == exact:
                return short
    return value
