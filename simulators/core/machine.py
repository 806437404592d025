"""The state machine every simulated machine shares (off, setup, idle, running, fault,
maintenance) with its counters, so that availability, performance and quality can be computed.

Transitions (simulated time):

- off → setup when the run command is on; any state but fault → off when it goes off;
- setup → running once the setup time has passed and the model says it is ready (hot enough...);
- running → idle at random (starved, waiting for material: Poisson, log-normal duration);
- running → fault at random (Poisson) or while a model trip is active; fault → idle once the
  log-normal repair time has passed and the trip has cleared;
- running → maintenance after `maintenance_every_s` of run time;
- idle and maintenance → running once their time has passed.

`advance` is pure; `run_s` counts seconds in running, and `good`/`rejected` are kept by the
models when a cycle completes (`count_part`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import IntEnum

from .signals import counter_add, lognormal_duration, poisson_event

RANDOM_FAULT_ALARM = 900
"""Alarm code of a random machine breakdown (not caused by a named fault)."""


class Phase(IntEnum):
    """The machine state, as published in the `state` register."""

    OFF = 0
    SETUP = 1
    IDLE = 2
    RUNNING = 3
    FAULT = 4
    MAINTENANCE = 5


PHASE_DOC = ", ".join(f"{p.value} {p.name.lower()}" for p in Phase)


@dataclass(frozen=True)
class Rates:
    """How often a machine stops and for how long (medians, in simulated seconds)."""

    setup_s: float = 60.0
    idle_per_h: float = 2.0
    idle_s: float = 60.0
    fault_per_h: float = 0.5
    repair_s: float = 120.0
    maintenance_every_s: float = 4 * 3600.0
    maintenance_s: float = 600.0


@dataclass(frozen=True)
class Cycle:
    """The shared part of every machine's state."""

    phase: Phase = Phase.OFF
    phase_s: float = 0.0
    """Seconds spent in the current phase."""
    hold_s: float = 0.0
    """Seconds left of a timed phase (setup, idle spell, repair, maintenance)."""
    alarm: int = 0
    good: int = 0
    rejected: int = 0
    run_s: float = 0.0
    since_maintenance_s: float = 0.0


def advance(
    c: Cycle, dt: float, *, run: bool, ready: bool, trip: int, rates: Rates, rng: random.Random
) -> Cycle:
    """The shared state after `dt` seconds; `trip` is a model alarm code (0 = none)."""
    hold = max(0.0, c.hold_s - dt)
    phase = c.phase
    if trip and phase not in (Phase.OFF, Phase.FAULT):
        return _enter(c, Phase.FAULT, lognormal_duration(rng, rates.repair_s), trip)
    if phase is Phase.FAULT:
        if hold <= 0 and not trip:
            return _enter(c, Phase.IDLE, lognormal_duration(rng, 10.0, 0.3), 0)
        return replace(c, phase_s=c.phase_s + dt, hold_s=hold, alarm=trip or c.alarm)
    if not run:
        return c if phase is Phase.OFF else _enter(c, Phase.OFF, 0.0, 0)
    if phase is Phase.OFF:
        return _enter(c, Phase.SETUP, lognormal_duration(rng, rates.setup_s, 0.2), 0)
    if phase is Phase.SETUP:
        if hold <= 0 and ready:
            return _enter(c, Phase.RUNNING, 0.0, 0)
    elif phase is Phase.RUNNING:
        c = replace(c, run_s=c.run_s + dt, since_maintenance_s=c.since_maintenance_s + dt)
        if c.since_maintenance_s >= rates.maintenance_every_s:
            c = replace(c, since_maintenance_s=0.0)
            return _enter(c, Phase.MAINTENANCE, lognormal_duration(rng, rates.maintenance_s), 0)
        if poisson_event(rng, rates.fault_per_h / 3600.0, dt):
            return _enter(
                c, Phase.FAULT, lognormal_duration(rng, rates.repair_s), RANDOM_FAULT_ALARM
            )
        if poisson_event(rng, rates.idle_per_h / 3600.0, dt):
            return _enter(c, Phase.IDLE, lognormal_duration(rng, rates.idle_s), 0)
    elif phase in (Phase.IDLE, Phase.MAINTENANCE) and hold <= 0:
        return _enter(c, Phase.RUNNING, 0.0, 0)
    return replace(c, phase_s=c.phase_s + dt, hold_s=hold)


def _enter(c: Cycle, phase: Phase, hold: float, alarm: int) -> Cycle:
    return replace(c, phase=phase, phase_s=0.0, hold_s=hold, alarm=alarm)


def count_part(c: Cycle, good: bool, n: int = 1) -> Cycle:
    """`n` parts (cycles, batches, boards) completed, good or rejected (32-bit counters)."""
    if good:
        return replace(c, good=counter_add(c.good, n))
    return replace(c, rejected=counter_add(c.rejected, n))


def power_dip(c: Cycle) -> Cycle:
    """Mains lost: the machine is off; counters are kept by the model if retentive."""
    return _enter(c, Phase.OFF, 0.0, 0)
