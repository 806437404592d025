"""Steps a model's machines with simulated time and keeps the register image the servers answer.

Values change with the clock, never with reads: `advance()` steps every machine at its fixed
tick up to `clock.now()`, so the trajectory is the same whether a client polls at 1 Hz or 10 Hz
(and, with the same seed, from one run to the next). After stepping, each unit's outputs get
the fault overlays and are encoded into its register image; reads only copy from that image.

Writes go through `write`, which checks them against the declaration: an address that is not
a setpoint, a command or a fault coil answers exception 02, a value outside the documented
range exception 03. Every fault injected or cleared is logged with its simulated time in
`events` (the ground truth an instructor grades against), and the time each unit spends in
each state in `phase_s` (the OEE truth, `simulators.oee.truth`).
"""

from __future__ import annotations

import logging
import math
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from simulators.core import rng as rngs
from simulators.core.clock import Clock
from simulators.core.faults import (
    COMM_FAULTS,
    FAULT_COIL_BASE,
    GENERIC_FAULTS,
    RANDOM_FAULT_MEDIAN_S,
    fault_names,
)
from simulators.core.signals import lognormal_duration, poisson_event
from simulators.core.spec import Inputs, Model, Signal, Unit, Value

log = logging.getLogger(__name__)

ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
DEVICE_FAILURE = 4

_INT_RANGE = {"int16": (-32768, 32767), "uint16": (0, 65535), "int32": (-(2**31), 2**31 - 1)}
_INT_RANGE["uint32"] = (0, 2**32 - 1)
_SENTINEL = {"int16": 0x7FFF, "uint16": 0xFFFF, "uint32": 0xFFFFFFFF, "int32": 0x7FFFFFFF}


def encode(signal: Signal, value: Value) -> list[int]:
    """The registers holding `value` (engineering units) as `signal` declares it."""
    if signal.type == "string":
        text = str(value).encode("ascii", "replace")[: 2 * signal.length]
        return list(struct.unpack(f">{signal.length}H", text.ljust(2 * signal.length, b"\0")))
    if signal.type == "float32":
        hi, lo = struct.unpack(">HH", struct.pack(">f", float(value)))
        words = [hi, lo]
    else:
        raw = round(float(value) / signal.scale) if signal.scale != 1 else int(value)
        low, high = _INT_RANGE[signal.type]
        if signal.kind == "counter":
            raw %= high + 1  # counters wrap
        raw = max(low, min(high, raw))
        if signal.size == 1:
            return [raw & 0xFFFF]
        raw &= 0xFFFFFFFF
        words = [raw >> 16, raw & 0xFFFF]
    return words[::-1] if signal.word_order == "little" else words


def sentinel(signal: Signal) -> list[int]:
    """The sensor-open registers of `signal` (out-of-range fault)."""
    if signal.type == "float32":
        return encode(signal, math.nan)
    if signal.type == "string":
        return [0x3F3F] * signal.length  # "??"
    raw = _SENTINEL[signal.type]
    words = [raw] if signal.size == 1 else [raw >> 16, raw & 0xFFFF]
    return words[::-1] if signal.word_order == "little" else words


@dataclass
class UnitSim:
    """One machine being simulated: its state, commands, faults and register image."""

    unit: Unit
    state: Any
    rng: random.Random
    commands: dict[str, Value]
    faults: set[str] = field(default_factory=set)
    fault_until: dict[str, float] = field(default_factory=dict)
    """Random faults and when they clear (simulated seconds)."""
    values: dict[str, Value] = field(default_factory=dict)
    image: dict[str, dict[int, int | bool]] = field(
        default_factory=lambda: {"coil": {}, "discrete": {}, "holding": {}, "input": {}}
    )
    writable: dict[tuple[str, int], Signal] = field(default_factory=dict)
    phase_s: dict[int, float] = field(default_factory=dict)
    """Simulated seconds spent in each state (`Phase` value): the OEE ground truth."""

    @property
    def fault_list(self) -> list[str]:
        return fault_names(self.unit.machine.faults)

    def comm_fault(self) -> str | None:
        """The active communication fault, if any (silent wins over exception over slow)."""
        for name in ("silent", "exception", "slow"):
            if name in self.faults:
                return name
        return None


class Simulation:
    """All units of one model, driven by one clock."""

    def __init__(
        self,
        model: Model,
        clock: Clock,
        *,
        seed: int = 0,
        faults: tuple[str, ...] | list[str] = (),
        fault_rate_per_h: float = 0.0,
    ) -> None:
        self.model = model
        self.clock = clock
        self.t = 0.0
        self.fault_rate_per_h = fault_rate_per_h
        self._fault_rng = rngs.stream(seed, f"{model.name}:faults")
        self.events: list[tuple[float, int, str, str]] = []
        self.units: dict[int, UnitSim] = {}
        for unit in model.units:
            machine = unit.machine
            rng = rngs.stream(seed, f"{model.name}:{unit.unit_id}:{unit.name}")
            commands = {s.name: s.default for s in machine.signals if s.writable}
            sim = UnitSim(unit, machine.init(rng), rng, commands)
            for s in machine.signals:
                if s.writable:
                    sim.writable[(s.table, s.address)] = s
            self.units[unit.unit_id] = sim
        for name in faults:
            self.inject(name)
        self._start = clock.now()
        self._refresh()

    # -- faults ---------------------------------------------------------------------------

    def known_faults(self) -> list[str]:
        """Every fault name some unit of this model understands."""
        names: list[str] = []
        for sim in self.units.values():
            names += [n for n in sim.fault_list if n not in names]
        return names

    def inject(self, name: str, unit_id: int | None = None, until: float | None = None) -> None:
        """Turn fault `name` on, on `unit_id` or on every unit that has it."""
        targets = [self.units[unit_id]] if unit_id is not None else list(self.units.values())
        hit = [u for u in targets if name in u.fault_list]
        if not hit:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(self.known_faults())}")
        for sim in hit:
            if name not in sim.faults:
                sim.faults.add(name)
                self.events.append((self.t, sim.unit.unit_id, "inject", name))
                log.warning("t=%.1f s unit %d: fault %s injected", self.t, sim.unit.unit_id, name)
            if until is not None:
                sim.fault_until[name] = until

    def clear(self, name: str, unit_id: int | None = None) -> None:
        """Turn fault `name` off (on one unit or all)."""
        targets = [self.units[unit_id]] if unit_id is not None else list(self.units.values())
        for sim in targets:
            if name in sim.faults:
                sim.faults.discard(name)
                sim.fault_until.pop(name, None)
                self.events.append((self.t, sim.unit.unit_id, "clear", name))
                log.warning("t=%.1f s unit %d: fault %s cleared", self.t, sim.unit.unit_id, name)

    # -- time -----------------------------------------------------------------------------

    def advance(self) -> int:
        """Step every unit up to the clock's time; returns the number of steps taken."""
        target = self.clock.now() - self._start
        steps = 0
        tick = min(u.unit.machine.tick for u in self.units.values())
        while self.t + tick <= target + 1e-9:
            self._step(tick)
            self.t += tick
            steps += 1
        if steps:
            self._refresh()
        return steps

    def _step(self, dt: float) -> None:
        for sim in self.units.values():
            phase = int(sim.state.cycle.phase)  # the state the registers showed during dt
            sim.phase_s[phase] = sim.phase_s.get(phase, 0.0) + dt
            machine_faults = frozenset(f for f in sim.faults if f not in GENERIC_FAULTS)
            sim.state = sim.unit.machine.step(
                sim.state, dt, Inputs(sim.commands, machine_faults), sim.rng
            )
            for name, until in list(sim.fault_until.items()):
                if self.t + dt >= until:
                    self.clear(name, sim.unit.unit_id)
            if self.fault_rate_per_h > 0 and poisson_event(
                self._fault_rng, self.fault_rate_per_h / 3600.0, dt
            ):
                name = self._fault_rng.choice(sim.fault_list)
                duration = lognormal_duration(self._fault_rng, RANDOM_FAULT_MEDIAN_S)
                self.inject(name, sim.unit.unit_id, until=self.t + dt + duration)

    def _refresh(self) -> None:
        for sim in self.units.values():
            machine = sim.unit.machine
            values = dict(machine.outputs(sim.state))
            probe = machine.signal(machine.probe)
            if "stuck" in sim.faults and probe.name in sim.values:
                values[probe.name] = sim.values[probe.name]
            elif "noise" in sim.faults:
                spread = 0.05 * (probe.hi - probe.lo)
                noisy = float(values[probe.name]) + self._fault_rng.gauss(0.0, spread)
                values[probe.name] = max(probe.lo, min(probe.hi, noisy))
            values.update(sim.commands)
            sim.values = values
            for s in machine.signals:
                table = sim.image[s.table]
                if s.table in ("coil", "discrete"):
                    table[s.address] = bool(values[s.name])
                    continue
                words = encode(s, values[s.name])
                if s.name == probe.name and "out_of_range" in sim.faults:
                    words = sentinel(s)
                for i, word in enumerate(words):
                    table[s.address + i] = word
            for i, name in enumerate(sim.fault_list):
                sim.image["coil"][FAULT_COIL_BASE + i] = name in sim.faults

    # -- protocol access ------------------------------------------------------------------

    def read(self, unit_id: int, table: str, address: int, count: int) -> list[int] | int:
        """`count` registers or bits from `address`, or an exception code (02 unmapped)."""
        sim = self.units.get(unit_id)
        if sim is None:
            return ILLEGAL_ADDRESS
        image = sim.image[table]
        out: list[int] = []
        for a in range(address, address + count):
            value = image.get(a)
            if value is None:
                return ILLEGAL_ADDRESS
            out.append(int(value))
        return out

    def write(self, unit_id: int, table: str, address: int, values: list[int]) -> int | None:
        """Apply a client's write; None when done, else exception 02 or 03 (nothing changed)."""
        sim = self.units.get(unit_id)
        if sim is None:
            return ILLEGAL_ADDRESS
        changes: list[tuple[str, Any]] = []
        faults = sim.fault_list
        for offset, raw in enumerate(values):
            a = address + offset
            if table == "coil" and FAULT_COIL_BASE <= a < FAULT_COIL_BASE + len(faults):
                changes.append(("fault", (faults[a - FAULT_COIL_BASE], bool(raw))))
                continue
            s = sim.writable.get((table, a))
            if s is None:
                return ILLEGAL_ADDRESS
            if table == "coil":
                changes.append((s.name, bool(raw)))
                continue
            signed = raw - 65536 if s.type == "int16" and raw >= 32768 else raw
            value = signed * s.scale
            if not s.lo - 1e-9 <= value <= s.hi + 1e-9:
                return ILLEGAL_VALUE
            changes.append((s.name, round(value, 6)))
        for name, value in changes:
            if name == "fault":
                fault, on = value
                (self.inject if on else self.clear)(fault, unit_id)
            else:
                sim.commands[name] = value
        self._refresh()
        return None

    def comm_fault(self, unit_id: int) -> str | None:
        sim = self.units.get(unit_id)
        return sim.comm_fault() if sim is not None else None


__all__ = ["COMM_FAULTS", "Simulation", "UnitSim", "encode", "sentinel"]
