"""Part counts from cumulative counters that wrap, get reset, or jump: never negative, never huge.

A PLC counter is cumulative: the engine needs the parts made since the last reading. Three
things break a plain `new - old`:

- a **wrap** at the type's maximum (a uint16 at 65535 goes on at 0): `new + modulus - old`;
- a **reset** to zero (a PLC restart, an operator's reset): the parts made since the reset are
  `new` itself; those made between the last reading and the reset cannot be known;
- a **jump** (a preset, a counter re-mapped, a glitch): no plausible count at all.

Wrap and reset look alike (the value went down). The rule: a decrease is a wrap when the wrapped
count is plausible, else a reset; any count above `limit` (what the machine could make in the
time since the last reading, at several times its rated speed) is a jump, and counts nothing.
The one case no rule can tell apart is a reset just below the maximum; it reads as a wrap of a
few parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RATE_MARGIN = 5.0
"""A machine is assumed never to make parts faster than this many times its rated speed."""
SLACK = 10
"""Parts allowed on top of the rate limit (a burst, a coarse ideal cycle time)."""

MODULUS: dict[str, int] = {
    "int8": 2**8,
    "uint8": 2**8,
    "int16": 2**16,
    "uint16": 2**16,
    "int32": 2**32,
    "uint32": 2**32,
    "int64": 2**64,
    "uint64": 2**64,
}
"""Where each integer type wraps (raw values; multiply by the signal's scale)."""


class Step(StrEnum):
    """How a reading moved relative to the last one."""

    COUNT = "count"
    WRAP = "wrap"
    RESET = "reset"
    JUMP = "jump"


def counter_delta(
    prev: float, cur: float, modulus: float | None, limit: float
) -> tuple[float, Step]:
    """Parts made between readings `prev` and `cur` (0 <= parts <= limit), and how."""
    if cur >= prev:
        delta = cur - prev
        return (delta, Step.COUNT) if delta <= limit else (0, Step.JUMP)
    if modulus is not None:
        wrapped = cur + modulus - prev
        if 0 <= wrapped <= limit:
            return wrapped, Step.WRAP
    if 0 <= cur <= limit:
        return cur, Step.RESET
    return 0, Step.JUMP


@dataclass(slots=True)
class CounterTrack:
    """The baseline of one counter: its last good reading and when it was taken."""

    modulus: float | None
    """Where the value wraps (2**16 × scale for a uint16), None when unknown (float, OPC UA)."""
    parts_per_ms: float
    """The most parts per millisecond the machine could make (RATE_MARGIN × rated speed)."""
    last: float | None = None
    last_ts: int | None = None

    def feed(self, value: float, ts: int) -> float:
        """Parts since the last reading (0 for the first), and `value` becomes the baseline."""
        prev, prev_ts = self.last, self.last_ts
        self.last, self.last_ts = value, ts
        if prev is None or prev_ts is None:
            return 0
        limit = self.parts_per_ms * max(ts - prev_ts, 0) + SLACK
        if self.modulus is not None:
            limit = min(limit, self.modulus / 2)
        return counter_delta(prev, value, self.modulus, limit)[0]
