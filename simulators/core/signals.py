"""Pure signal primitives the models are built from (SIMULATORS.md B.4).

Every function is pure apart from the `rng` it is given; times are in simulated seconds.
"""

from __future__ import annotations

import math
import random


def first_order(x: float, target: float, tau_s: float, dt: float) -> float:
    """One step of a first-order lag towards `target` with time constant `tau_s` (exact)."""
    if tau_s <= 0:
        return target
    return target + (x - target) * math.exp(-dt / tau_s)


def ramp(x: float, rate: float, lo: float, hi: float, dt: float) -> float:
    """`x` moved by `rate` per second for `dt` seconds, kept within [lo, hi]."""
    return clamp(x + rate * dt, lo, hi)


def hysteresis(on: bool, x: float, low: float, high: float) -> bool:
    """A two-point controller: switches on below `low`, off above `high`, else keeps `on`."""
    if x <= low:
        return True
    if x >= high:
        return False
    return on


def clamp(x: float, lo: float, hi: float) -> float:
    """`x` kept within [lo, hi]."""
    return lo if x < lo else hi if x > hi else x


def gauss(rng: random.Random, sigma: float) -> float:
    """Gaussian measurement noise with standard deviation `sigma`."""
    return rng.gauss(0.0, sigma) if sigma > 0 else 0.0


def ou_walk(
    x: float, mean: float, theta: float, sigma: float, dt: float, rng: random.Random
) -> float:
    """One Euler step of an Ornstein-Uhlenbeck walk: drifts back to `mean` at rate `theta`."""
    return x + theta * (mean - x) * dt + sigma * math.sqrt(dt) * rng.gauss(0.0, 1.0)


def poisson_event(rng: random.Random, rate_per_s: float, dt: float) -> bool:
    """Whether an event of a Poisson process with `rate_per_s` happens within `dt`."""
    return rate_per_s > 0 and rng.random() < 1.0 - math.exp(-rate_per_s * dt)


def lognormal_duration(rng: random.Random, median_s: float, sigma: float = 0.5) -> float:
    """A duration (repair, idle spell) with the given median, log-normally spread."""
    return median_s * math.exp(rng.gauss(0.0, sigma))


def counter_add(value: int, n: int, bits: int = 32) -> int:
    """A counter of `bits` bits advanced by `n`, wrapping as a PLC counter does."""
    return (value + n) % (1 << bits)
