"""What a simulated machine says about its own OEE: the config that fits it, and the truth.

`device_oee` is the `oee:` block of one machine (its `state` register: 3 running, 1 setup and
5 maintenance planned, anything else a stop; its good and rejected counters; its ideal cycle
time), and `site_oee` a site calendar to start from; `gerbang sim config --oee` prints both.
At `--speed N` the gateway sees the machine's time run N times faster, so the times in the
device block (ideal cycle time, micro-stop) are divided by N: the ratios stay those of speed 1.

`truth` is the simulator's own account of the same figures, from the time each unit really
spent in each state and its counters (`gerbang sim run --truth FILE`), so that tests and
lessons compare the gateway's figures with what happened. Ratios are speed-independent; times
are simulated seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from simulators.core.machine import Phase
from simulators.core.spec import MachineType

if TYPE_CHECKING:
    from simulators.engine import Simulation

RUNNING: tuple[int, ...] = (int(Phase.RUNNING),)
PLANNED: tuple[int, ...] = (int(Phase.SETUP), int(Phase.MAINTENANCE))
"""Setup and maintenance are planned stops; off, idle (starved) and fault are losses."""
MICRO_STOP_S = 30.0
"""Simulated seconds: a shorter stop is speed loss, not downtime."""


def counters(machine: MachineType) -> tuple[str, str] | None:
    """The machine's good and rejected part counters (`good_*`, `rejected_*`), if it has both."""
    names = [s.name for s in machine.signals if s.kind == "counter"]
    good = next((n for n in names if n.startswith("good")), None)
    rejected = next((n for n in names if n.startswith("rejected")), None)
    return (good, rejected) if good and rejected else None


def _seconds(value: float) -> str:
    return f"{round(value, 3):g}s"


def device_oee(machine: MachineType, speed: float = 1.0) -> dict[str, Any] | None:
    """The `oee:` block of one machine read at `--speed speed`; None if it counts no parts."""
    pair = counters(machine)
    if pair is None or machine.ideal_cycle_s is None:
        return None
    return {
        "state": {"signal": "state", "running": list(RUNNING), "planned": list(PLANNED)},
        "good_count": pair[0],
        "reject_count": pair[1],
        "ideal_cycle_time": _seconds(machine.ideal_cycle_s / speed),
        "micro_stop": _seconds(MICRO_STOP_S / speed),
    }


def site_oee(publish_interval: str = "1m") -> dict[str, Any]:
    """A site calendar to start from: three 8-hour shifts in Asia/Jakarta, a lunch break."""
    return {
        "timezone": "Asia/Jakarta",
        "shifts": [
            {"name": "pagi", "start": "06:00", "end": "14:00"},
            {"name": "siang", "start": "14:00", "end": "22:00"},
            {"name": "malam", "start": "22:00", "end": "06:00"},
        ],
        "breaks": [{"name": "istirahat", "start": "12:00", "end": "12:30"}],
        "publish_interval": publish_interval,
    }


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den > 0 else None


def unit_truth(sim: Simulation, unit_id: int) -> dict[str, Any]:
    """One unit's true figures since the simulation started (simulated seconds)."""
    unit = sim.units[unit_id]
    seconds = {p.name.lower(): round(unit.phase_s.get(int(p), 0.0), 3) for p in Phase}
    run_s = sum(unit.phase_s.get(v, 0.0) for v in RUNNING)
    planned_stop_s = sum(unit.phase_s.get(v, 0.0) for v in PLANNED)
    planned_s = sum(unit.phase_s.values()) - planned_stop_s
    out: dict[str, Any] = {
        "state": Phase(unit.state.cycle.phase).name.lower(),
        "seconds": seconds,
        "run_s": round(run_s, 3),
        "planned_stop_s": round(planned_stop_s, 3),
        "downtime_s": round(planned_s - run_s, 3),
        "planned_s": round(planned_s, 3),
        "availability": _ratio(run_s, planned_s),
        "faults": sorted(unit.faults),
    }
    pair = counters(unit.unit.machine)
    if pair is not None:
        good, rejected = (int(unit.values[name]) for name in pair)
        out |= {"good": good, "rejected": rejected, "total": good + rejected}
        out["quality"] = _ratio(good, good + rejected)
        ideal = unit.unit.machine.ideal_cycle_s
        if ideal is not None:
            out["performance"] = _ratio(ideal * (good + rejected), run_s)
    return out


def truth(sim: Simulation) -> dict[str, Any]:
    """Every unit's true figures, by gateway device id (what `--truth FILE` holds)."""
    from simulators.export import device_id

    sim.advance()
    return {
        "model": sim.model.name,
        "t": round(sim.t, 3),
        "devices": {
            device_id(sim.model, u.unit): unit_truth(sim, uid) for uid, u in sim.units.items()
        },
    }


def write_truth(sim: Simulation, path: str | Path) -> None:
    """Write `truth(sim)` to `path` atomically (a reader never sees half a file)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(orjson.dumps(truth(sim), option=orjson.OPT_INDENT_2))
    os.replace(tmp, target)
