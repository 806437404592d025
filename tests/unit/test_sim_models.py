"""Every machine model's invariants, run on a fake clock (no sockets, no sleeping).

- counters never decrease (they only wrap at 2³², which an hour cannot reach);
- every measured value stays within its documented range;
- the machine goes through setup into running, and its counters and run time move;
- the trajectory depends on the clock only: polled at 1 Hz or 10 Hz, the values at the same
  simulated moment are identical, and the same seed gives the same run;
- writes are checked against the declaration (exception 02 / 03) and change nothing when refused;
- each machine-specific fault has a visible effect (its trip or alarm code).
"""

from __future__ import annotations

import copy
import itertools

import pytest

from simulators.core.clock import FakeClock
from simulators.core.machine import Phase
from simulators.engine import ILLEGAL_ADDRESS, ILLEGAL_VALUE, Simulation
from simulators.models import MODELS

HOUR = 3600.0


def run(name: str, seconds: float, poll: float, seed: int = 7, **kw) -> list[dict]:
    """Snapshots of every unit's values, taken every `poll` simulated seconds."""
    clock = FakeClock()
    sim = Simulation(MODELS[name], clock, seed=seed, **kw)
    out = []
    for _ in range(round(seconds / poll)):
        clock.advance(poll)
        sim.advance()
        out.append({u: dict(s.values) for u, s in sim.units.items()})
    return out


@pytest.fixture(scope="module", params=list(MODELS))
def hour(request) -> tuple[str, list[dict]]:
    """One simulated hour of a model, sampled every 10 s."""
    return request.param, run(request.param, HOUR, 10.0)


def test_counters_never_decrease_and_values_stay_in_range(hour) -> None:
    name, snaps = hour
    model = MODELS[name]
    for unit in model.units:
        for s in unit.machine.signals:
            series = [snap[unit.unit_id][s.name] for snap in snaps]
            if s.kind == "counter":
                assert all(b >= a for a, b in itertools.pairwise(series)), s.name
            elif s.table in ("holding", "input") and s.kind != "setpoint" and s.type != "string":
                bad = [v for v in series if not s.lo <= v <= s.hi]
                assert not bad, f"{name}/{unit.name}.{s.name} outside {s.lo}..{s.hi}: {bad[:3]}"


def test_machines_run_and_counters_move(hour) -> None:
    name, snaps = hour
    for unit in MODELS[name].units:
        states = {snap[unit.unit_id]["state"] for snap in snaps}
        assert Phase.RUNNING in states, f"{name}/{unit.name} never ran: {states}"
        first, last = snaps[0][unit.unit_id], snaps[-1][unit.unit_id]
        assert last["run_seconds"] > first["run_seconds"] + 600, f"{name}/{unit.name}"
        counters = [s.name for s in unit.machine.signals if s.kind == "counter"]
        assert sum(last[c] > first[c] for c in counters) >= 2, f"{name}/{unit.name}"


@pytest.mark.parametrize("name", list(MODELS))
def test_same_trajectory_at_1_hz_and_10_hz_and_per_seed(name) -> None:
    slow = run(name, 120.0, 1.0)
    fast = run(name, 120.0, 0.1)
    assert slow == fast[9::10]
    assert run(name, 120.0, 1.0) == slow
    assert run(name, 120.0, 1.0, seed=8) != slow


@pytest.mark.parametrize("name", list(MODELS))
def test_writes_are_checked_against_the_declaration(name) -> None:
    sim = Simulation(MODELS[name], FakeClock(), seed=1)
    unit = MODELS[name].units[0]
    sp = next(s for s in unit.machine.signals if s.kind == "setpoint")
    raw_hi = round(sp.hi / sp.scale)
    assert sim.write(unit.unit_id, "holding", sp.address, [raw_hi + 1]) == ILLEGAL_VALUE
    assert sim.units[unit.unit_id].commands[sp.name] == sp.default
    assert sim.write(unit.unit_id, "holding", sp.address, [raw_hi]) is None
    assert sim.units[unit.unit_id].commands[sp.name] == pytest.approx(sp.hi)
    assert sim.write(unit.unit_id, "input", 0, [1]) == ILLEGAL_ADDRESS
    assert sim.write(unit.unit_id, "holding", 9999, [1]) == ILLEGAL_ADDRESS
    assert sim.read(unit.unit_id, "input", 9999, 1) == ILLEGAL_ADDRESS


WARM: dict[str, tuple[FakeClock, Simulation]] = {}
"""Each model after 30 simulated minutes, shared by its fault tests (each gets a copy)."""


@pytest.mark.parametrize(
    ("name", "unit_id", "fault"),
    [
        (name, unit.unit_id, fault)
        for name, model in MODELS.items()
        for unit in model.units
        for fault in unit.machine.faults
    ],
)
def test_machine_faults_raise_their_alarm(name, unit_id, fault) -> None:
    if name not in WARM:
        clock = FakeClock()
        WARM[name] = (clock, Simulation(MODELS[name], clock, seed=2))
        clock.advance(1800)
        WARM[name][1].advance()
    clock, sim = copy.deepcopy(WARM[name])
    before = dict(sim.units[unit_id].values)
    sim.inject(fault, unit_id)
    alarms = set()
    for _ in range(40):  # 20 simulated minutes
        clock.advance(30)
        sim.advance()
        alarms.add(sim.units[unit_id].values["alarm_code"])
    after = sim.units[unit_id].values
    changed = [k for k in before if before[k] != after[k]]
    assert alarms - {0, 900}, f"{fault} raised no alarm ({alarms}); changed: {changed}"
    assert sim.events[0][1:] == (unit_id, "inject", fault)


def test_random_faults_come_and_go_and_are_logged() -> None:
    clock = FakeClock()
    sim = Simulation(MODELS["tofu"], clock, seed=3, fault_rate_per_h=20)
    for _ in range(360):
        clock.advance(10)
        sim.advance()
    kinds = [e[2] for e in sim.events]
    assert kinds.count("inject") >= 5
    assert kinds.count("clear") >= 3
    assert all(e[0] <= 3600 for e in sim.events)
