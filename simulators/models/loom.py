"""Weaving shed: four rapier looms behind one Modbus TCP endpoint, unit ids 1-4 (SIMULATORS.md M3).

Thread breaks are Poisson events (warp 1.5/h × (speed/300)², weft 3/h); each stops the loom
(state fault, alarm 301 warp / 302 weft) for a log-normal repair of about 2 minutes and leaves a
20 cm defect in the cloth, counted as rejected cloth. That gives 75-90 % efficiency naturally
and teaches the speed-versus-stops trade-off. The pick counter uses **CDAB** word order on
purpose (documented; the gateway reads it with `word_order: little`). The warp tension ripples
at the pick frequency, which a 1 s poll aliases: a lesson on sampling.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulators.core.machine import PHASE_DOC, Cycle, Phase, Rates, advance
from simulators.core.signals import clamp, first_order, gauss, poisson_event
from simulators.core.spec import (
    Inputs,
    MachineType,
    Model,
    Signal,
    Unit,
    alarm,
    command,
    counter,
    setpoint,
    state,
    status_bit,
    suggested_alarm,
)

# fmt: off
SIGNALS = (
    state(0, PHASE_DOC),
    Signal("speed", "input", 1, "uint16", 1, "ppm", 0, 600, "picks per minute"),
    counter("pick_counter", 2, "picks woven (non-retentive)", word_order="little"),
    counter("good_cloth", 4, "cloth woven without defects", "cm"),
    counter("rejected_cloth", 6, "cloth with break marks (20 cm per thread break)", "cm"),
    counter("run_seconds", 8, "time in running", "s"),
    Signal("warp_stops", "input", 10, "uint16", 1, None, 0, 65535, "warp breaks", "counter"),
    Signal("weft_stops", "input", 11, "uint16", 1, None, 0, 65535, "weft breaks", "counter"),
    Signal("efficiency", "input", 12, "uint16", 0.1, "%", 0, 100, "running time / time on"),
    Signal("motor_current", "input", 13, "uint16", 0.1, "A", 0, 15, "main motor current"),
    Signal("warp_tension", "input", 14, "uint16", 1, "N", 800, 2600, "warp tension"),
    Signal("beam_remaining", "input", 15, "uint16", 0.1, "%", 0, 100, "yarn left on the beam"),
    alarm(16, "0 none, 301 warp break, 302 weft break, 303 motor overload, 305 tension, "
              "900 breakdown"),
    setpoint("speed_setpoint", 100, "uint16", 1, "ppm", 150, 400, "loom speed", 300),
    setpoint("weft_density", 101, "uint16", 0.1, "picks/cm", 10, 40, "picks per cm", 20),
    command("run_request", 0, "1 = weave", default=True),
    status_bit("warp_stop_motion", 0, "warp stop motion tripped"),
    status_bit("weft_feeler", 1, "weft feeler tripped"),
)
# fmt: on

FAULTS = {
    "thread_break": "bad yarn lot: warp and weft breaks ×20 (alarms 301/302, rejected cloth)",
    "motor_overload": "the main motor draws 0.5 A more each minute; trip 303 at 12 A",
    "tension_drift": "the tension sensor drifts +80 N a minute; trip 305 above 2500 N",
}

RATES = Rates(
    setup_s=60, idle_per_h=1.0, idle_s=120, fault_per_h=0.05, repair_s=120,
    maintenance_every_s=8 * 3600, maintenance_s=1800,
)  # fmt: skip


@dataclass(frozen=True)
class Loom:
    """One loom's state."""

    cycle: Cycle
    speed: float = 0.0
    picks: float = 0.0
    good_cm: float = 0.0
    rejected_cm: float = 0.0
    defect_cm: float = 0.0
    """Cloth still to be woven through a break mark (counted as rejected)."""
    warp_stops: int = 0
    weft_stops: int = 0
    on_s: float = 0.0
    current: float = 0.0
    overload: float = 0.0
    drift: float = 0.0
    noise: tuple[float, float] = (0.0, 0.0)


def init(rng: random.Random) -> Loom:
    # Looms start at different points of their beam and pick count.
    return Loom(Cycle(since_maintenance_s=rng.uniform(0, 6 * 3600)), picks=rng.uniform(0, 1e6))


def step(s: Loom, dt: float, inputs: Inputs, rng: random.Random) -> Loom:
    cmd, faults = inputs.commands, inputs.faults
    sp = float(cmd["speed_setpoint"])
    running = s.cycle.phase is Phase.RUNNING
    factor = 20.0 if "thread_break" in faults else 1.0
    trip = 0
    warp, weft = s.warp_stops, s.weft_stops
    if running and poisson_event(rng, 1.5 / 3600 * (sp / 300.0) ** 2 * factor, dt):
        trip, warp = 301, (warp + 1) % 65536
    elif running and poisson_event(rng, 3.0 / 3600 * factor, dt):
        trip, weft = 302, (weft + 1) % 65536
    elif s.current >= 12.0:
        trip = 303
    elif 1500 + s.drift > 2500:
        trip = 305
    c = advance(s.cycle, dt, run=bool(cmd["run_request"]), ready=True, trip=trip, rates=RATES,
                rng=rng)  # fmt: skip
    running = c.phase is Phase.RUNNING
    speed = first_order(s.speed, sp if running else 0.0, 0.3 if running else 0.5, dt)
    new_picks = speed / 60.0 * dt
    cloth = new_picks / float(cmd["weft_density"])
    defect = s.defect_cm + (20.0 if trip in (301, 302) else 0.0)
    bad = min(defect, cloth)
    overload = s.overload + (0.5 / 60 * dt if "motor_overload" in faults and running else 0.0)
    current = first_order(s.current, (6.0 * speed / 300.0 + overload) if running else 0.3, 0.5, dt)
    return Loom(
        cycle=c,
        speed=speed,
        picks=(s.picks + new_picks) % 2**32,
        good_cm=s.good_cm + cloth - bad,
        rejected_cm=s.rejected_cm + bad,
        defect_cm=defect - bad,
        warp_stops=warp,
        weft_stops=weft,
        on_s=s.on_s + (dt if c.phase is not Phase.OFF else 0.0),
        current=current,
        overload=overload,
        drift=s.drift + (80.0 / 60 * dt if "tension_drift" in faults else 0.0),
        noise=(gauss(rng, 1.0), gauss(rng, 0.08)),
    )


def outputs(s: Loom) -> dict[str, float | int | bool]:
    c = s.cycle
    running = c.phase is Phase.RUNNING
    ripple = 60.0 * math.sin(2 * math.pi * s.picks) if s.speed > 1 else 0.0
    tension = (1500.0 + ripple if running else 1200.0) + s.drift + s.noise[0] * 5
    beam = 100.0 * (1.0 - c.since_maintenance_s / RATES.maintenance_every_s)
    return {
        "state": int(c.phase),
        "speed": clamp(s.speed + (s.noise[0] if s.speed > 1 else 0.0), 0.0, 600.0),
        "pick_counter": int(s.picks),
        "good_cloth": int(s.good_cm),
        "rejected_cloth": int(s.rejected_cm),
        "run_seconds": int(c.run_s),
        "warp_stops": s.warp_stops,
        "weft_stops": s.weft_stops,
        "efficiency": clamp(100.0 * c.run_s / s.on_s, 0.0, 100.0) if s.on_s > 0 else 0.0,
        "motor_current": clamp(s.current + s.noise[1], 0.0, 15.0),
        "warp_tension": clamp(tension, 800.0, 2600.0),
        "beam_remaining": clamp(beam, 0.0, 100.0),
        "alarm_code": c.alarm,
        "warp_stop_motion": c.phase is Phase.FAULT and c.alarm == 301,
        "weft_feeler": c.phase is Phase.FAULT and c.alarm == 302,
    }


LOOM = MachineType(
    kind="loom",
    title="Rapier loom (190 cm, 150-400 ppm)",
    signals=SIGNALS,
    init=init,
    step=step,
    outputs=outputs,
    probe="warp_tension",
    faults=FAULTS,
    ideal_cycle_s=4.0,  # one cm of cloth at 300 picks/min and 20 picks/cm (OEE)
    alarms={
        "motor_current": (
            suggested_alarm(
                "motor_overload",
                "medium",
                "main motor current high (trip 303 at 12 A)",
                "arus motor utama tinggi (trip 303 pada 12 A)",
                delay="5s",
                above=11,
                clear_below=10,
            ),
        ),
    },
)

MODEL = Model(
    name="loom",
    description="weaving shed: four rapier looms on unit ids 1-4 (pick counter in CDAB order)",
    units=tuple(Unit(i, str(i), LOOM) for i in range(1, 5)),
    default_port=5021,
    notes="Four identical looms share one endpoint (unit ids 1-4), as RS-485 looms behind one "
    "serial-to-TCP converter: the gateway polls them over one connection. `pick_counter` is "
    "CDAB (low word first): read it with `word_order: little`, or see it jump by 65536.",
)
