"""The declaration of a simulated machine: its signals and how they map onto Modbus.

One declaration feeds everything a trainee sees: the register image the server answers from
(`engine`), the gateway `devices:` entry (`export.sim_config`) and the register-map docs
(`export.describe`). Nothing else lists addresses, so the three can never disagree.

Engineering value = raw register value × `scale` (the gateway's `scale`). Types and word orders
are the gateway's (SPEC "Config file"): `word_order="little"` is CDAB for 32-bit values.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Table = Literal["coil", "discrete", "holding", "input"]
Kind = Literal["measure", "counter", "state", "setpoint", "command", "status"]
Value = float | int | bool | str
WordOrder = Literal["big", "little"]

REGISTERS: dict[str, int] = {"bool": 1, "int16": 1, "uint16": 1, "uint32": 2, "int32": 2}
REGISTERS["float32"] = 2


@dataclass(frozen=True)
class Signal:
    """One signal of one machine: its meaning, documented range and Modbus mapping."""

    name: str
    table: Table
    address: int
    type: str = "uint16"
    scale: float = 1.0
    unit: str | None = None
    lo: float = 0.0
    hi: float = 0.0
    """Documented engineering range; for writable signals, the accepted write range."""
    description: str = ""
    kind: Kind = "measure"
    word_order: WordOrder = "big"
    default: Value = 0
    """Initial value of a writable signal (setpoint or command)."""
    length: int = 0
    """Registers of a string (two ASCII characters each)."""

    @property
    def size(self) -> int:
        """Registers (or bits) the signal occupies."""
        if self.table in ("coil", "discrete"):
            return 1
        return self.length if self.type == "string" else REGISTERS[self.type]

    @property
    def writable(self) -> bool:
        """Setpoints (holding registers) and commands (coils) are written by clients."""
        return self.table in ("coil", "holding")


@dataclass(frozen=True)
class Inputs:
    """What a model's `step` gets from outside: written setpoints/commands and active faults."""

    commands: Mapping[str, Value]
    faults: frozenset[str] = frozenset()


StepFn = Callable[[Any, float, Inputs, random.Random], Any]


@dataclass(frozen=True)
class MachineType:
    """A kind of machine: declaration, initial state and the pure step and output functions.

    `step(state, dt, inputs, rng) -> state` advances the physics by `dt` simulated seconds and
    must not keep hidden state; `outputs(state)` gives the engineering value of every
    non-writable signal. `faults` are the machine-specific faults `step` understands. `probe`
    is the main sensor that the generic sensor faults (stuck, noise, out of range) act on.
    """

    kind: str
    title: str
    signals: tuple[Signal, ...]
    init: Callable[[random.Random], Any]
    step: StepFn
    outputs: Callable[[Any], Mapping[str, Value]]
    probe: str
    faults: Mapping[str, str] = field(default_factory=dict)
    tick: float = 0.1
    """Simulated seconds per step."""
    ideal_cycle_s: float | None = None
    """OEE's ideal cycle time: simulated seconds of one counted part (a shot, a batch, a board,
    a centimetre of cloth) at the rated speed; None for a machine that counts no parts."""
    alarms: Mapping[str, tuple[Mapping[str, object], ...]] = field(default_factory=dict)
    """Alarms `sim config` suggests, by signal name: rules in the gateway config's shape
    (`alarm(...)`), each tripping before or on one of the machine's faults."""

    def signal(self, name: str) -> Signal:
        return next(s for s in self.signals if s.name == name)


@dataclass(frozen=True)
class Unit:
    """One machine of a model, at one Modbus unit id."""

    unit_id: int
    name: str
    machine: MachineType


@dataclass(frozen=True)
class Model:
    """What `gerbang sim list` lists: one simulator process serving one or more units."""

    name: str
    description: str
    units: tuple[Unit, ...]
    default_port: int
    protocols: tuple[str, ...] = ("modbus-tcp", "modbus-rtu", "opcua")
    interval: str = "1s"
    """Poll interval suggested in `sim config`."""
    notes: str = ""

    @property
    def opcua_port(self) -> int:
        """Default OPC UA port: 4840 + the model's offset from Modbus port 5020."""
        return 4840 + self.default_port - 5020


# -- shorthands for the declarations ---------------------------------------------------------

U32_MAX = 2**32 - 1


def counter(
    name: str,
    address: int,
    description: str,
    unit: str | None = None,
    word_order: WordOrder = "big",
) -> Signal:
    """A uint32 counter in two input registers (monotonic, wraps at 2³²)."""
    return Signal(name, "input", address, "uint32", 1, unit, 0, U32_MAX, description, "counter",
                  word_order)  # fmt: skip


def state(address: int, description: str) -> Signal:
    """The machine state register."""
    return Signal("state", "input", address, kind="state", lo=0, hi=5, description=description)


def alarm(address: int, description: str) -> Signal:
    """The active alarm code register (0 = none)."""
    return Signal("alarm_code", "input", address, kind="status", hi=999, description=description)


def setpoint(
    name: str, address: int, type_: str, scale: float, unit: str | None,
    lo: float, hi: float, description: str, default: float,
) -> Signal:  # fmt: skip
    """A writable holding register; writes outside [lo, hi] answer exception 03."""
    return Signal(name, "holding", address, type_, scale, unit, lo, hi, description, "setpoint",
                  default=default)  # fmt: skip


def command(name: str, address: int, description: str, default: bool = False) -> Signal:
    """A writable coil."""
    return Signal(name, "coil", address, "bool", kind="command", hi=1, description=description,
                  default=default)  # fmt: skip


def status_bit(name: str, address: int, description: str) -> Signal:
    """A discrete input."""
    return Signal(name, "discrete", address, "bool", kind="status", hi=1, description=description)


def suggested_alarm(
    name: str, severity: str, en: str, id_: str, delay: str | None = None, **condition: object
) -> Mapping[str, object]:
    """One alarm rule as the gateway config writes it (`above=`/`clear_below=`, `equals=`...),
    with its message in English and Bahasa Indonesia: what `sim config` prints under a signal."""
    rule: dict[str, object] = {"name": name, **condition}
    if delay is not None:
        rule["delay"] = delay
    rule["severity"] = severity
    rule["message"] = {"en": en, "id": id_}
    return rule
