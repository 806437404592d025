"""Simulated time: a real clock with a speed factor, and a fake clock for tests.

The simulation never reads the wall clock itself; it asks a clock for the simulated time in
seconds and steps its machines up to it at a fixed tick. With `speed=10` ten simulated seconds
pass per real second, so a 40-minute warm-up is watchable in class.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Simulated seconds since the simulation started."""

    def now(self) -> float: ...


class RealClock:
    """Simulated time = real monotonic time since creation × `speed`."""

    def __init__(self, speed: float = 1.0) -> None:
        if not 0 < speed <= 1000:
            raise ValueError(f"speed must be between 0 and 1000, not {speed}")
        self.speed = speed
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed


class FakeClock:
    """A clock that moves only when a test calls `advance`."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self.t += seconds
