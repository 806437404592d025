"""Drum coffee roaster, 15 kg batches (SIMULATORS.md M2 alternate, Modbus RTU in the field).

Setup preheats the drum (environment temperature ET to the charge temperature). A roast then
follows the classic curve: charge, the bean probe (BT) drops to a turning point near 90 °C,
drying, Maillard, first crack near 196 °C (the burner is cut back), development, drop at the
drop temperature, then two minutes of cooling and unloading. The rate of rise (RoR, °C/min)
declines through the roast, as roasters watch it. A batch is good when it drops between 9 and
15 minutes without a stall, else rejected (baked or scorched).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.core.machine import PHASE_DOC, Cycle, Phase, Rates, advance, count_part
from simulators.core.signals import clamp, counter_add, first_order, gauss
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
    suggested_alarm,
)

AMBIENT = 30.0
PREHEAT, CHARGE, DRYING, MAILLARD, DEVELOPMENT, DROP, COOLING = range(7)

# fmt: off
SIGNALS: tuple[Signal, ...] = (
    state(0, PHASE_DOC),
    alarm(1, "0 none, 701 flame out, 702 drum stall, 703 roast too slow, 900 breakdown"),
    Signal("roast_phase", "input", 2, kind="status", hi=6, description="0 preheat, 1 charge, "
           "2 drying, 3 Maillard, 4 development, 5 drop, 6 cooling"),
    Signal("bean_temp", "input", 3, "int16", 0.1, "degC", 0, 300, "bean probe (BT)"),
    Signal("env_temp", "input", 4, "int16", 0.1, "degC", 0, 350, "drum environment (ET)"),
    Signal("ror", "input", 5, "int16", 0.1, "degC/min", -60, 60, "BT rate of rise (signed)"),
    Signal("burner", "input", 6, "uint16", 1, "%", 0, 100, "burner output"),
    Signal("airflow", "input", 7, "uint16", 1, "%", 0, 100, "drum airflow"),
    Signal("drum_speed", "input", 8, "uint16", 0.1, "rpm", 0, 80, "drum speed"),
    Signal("roast_time", "input", 9, "uint16", 1, "s", 0, 3600, "time since charge"),
    counter("batch_counter", 10, "roasts dropped", word_order="little"),
    counter("good_batches", 12, "roasts in spec"),
    counter("rejected_batches", 14, "roasts baked or scorched"),
    counter("run_seconds", 16, "time in running", "s"),
    counter("gas_used", 18, "LPG used ×0.001", "kg"),
    setpoint("charge_temp", 100, "int16", 0.1, "degC", 180, 230, "ET at charge", 200.0),
    setpoint("drop_temp", 101, "int16", 0.1, "degC", 200, 235, "BT at drop", 215.0),
    setpoint("batch_kg", 102, "uint16", 1, "kg", 5, 15, "green coffee per batch", 12),
    command("run", 0, "1 = roast batches", default=True),
)
# fmt: on
SIGNALS = tuple(
    Signal(**{**s.__dict__, "scale": 0.001}) if s.name == "gas_used" else s for s in SIGNALS
)

FAULTS = {
    "flame_out": "the burner flame goes out: ET collapses; trip 701 below 150 °C",
    "drum_stall": "the drum motor stalls: drum speed 0; trip 702 after 5 s, batch scorched",
    "ror_crash": "the burner is starved (15 %): RoR crashes; trip 703 when a roast passes 15 min",
}

RATES = Rates(
    setup_s=300, idle_per_h=1.0, idle_s=300, fault_per_h=0.1, repair_s=300,
    maintenance_every_s=8 * 3600, maintenance_s=1200,
)  # fmt: skip


@dataclass(frozen=True)
class Roaster:
    """Roaster state."""

    cycle: Cycle
    phase: int = PREHEAT
    t: float = 0.0
    """Seconds since charge (or since the phase began, for drop and cooling)."""
    beans: float = AMBIENT
    bt: float = AMBIENT
    et: float = AMBIENT
    ror: float = 0.0
    burner: float = 0.0
    drum: float = 0.0
    stall_s: float = 0.0
    scorched: bool = False
    batches: int = 0
    gas_kg: float = 0.0
    noise: tuple[float, float] = (0.0, 0.0)


def init(_rng: random.Random) -> Roaster:
    return Roaster(Cycle())


def step(s: Roaster, dt: float, inputs: Inputs, rng: random.Random) -> Roaster:
    cmd, faults = inputs.commands, inputs.faults
    charge_t = float(cmd["charge_temp"])
    drop_t = float(cmd["drop_temp"])
    stall_s = s.stall_s + dt if "drum_stall" in faults and s.cycle.phase is not Phase.OFF else 0.0
    roasting = s.phase in (CHARGE, DRYING, MAILLARD, DEVELOPMENT)
    trip = 0
    if "flame_out" in faults and s.et < 150.0:
        trip = 701
    elif stall_s > 5.0:
        trip = 702
    elif roasting and s.t > 15 * 60:
        trip = 703
    c = advance(s.cycle, dt, run=bool(cmd["run"]), ready=s.et >= charge_t - 5, trip=trip,
                rates=RATES, rng=rng)  # fmt: skip
    on = c.phase is not Phase.OFF
    running = c.phase is Phase.RUNNING
    phase, t, beans, batches = s.phase, s.t + dt, s.beans, s.batches
    scorched = s.scorched or stall_s > 2.0
    if not running and roasting:
        # Stopped mid-roast (fault, stop): the batch is dumped as rejected.
        c = count_part(c, good=False)
        phase, t, beans, scorched = COOLING, 0.0, AMBIENT, False
    elif running and phase == PREHEAT:
        phase, t, beans = CHARGE, 0.0, AMBIENT
    elif running and phase == CHARGE and t > 60:
        phase = DRYING
    elif running and phase == DRYING and beans >= 150:
        phase = MAILLARD
    elif running and phase == MAILLARD and beans >= 196:
        phase = DEVELOPMENT
    elif running and phase == DEVELOPMENT and beans >= drop_t:
        batches = counter_add(batches, 1)
        c = count_part(c, good=9 * 60 <= t <= 15 * 60 and not scorched)
        phase, t, scorched = DROP, 0.0, False
    elif phase == DROP and t > 30:
        phase, t, beans = COOLING, 0.0, AMBIENT
    elif phase == COOLING and t > 120:
        phase, t = PREHEAT, 0.0
    burner = 0.0
    if on:
        if phase in (CHARGE, DRYING, MAILLARD):
            burner = 80.0
        elif phase == DEVELOPMENT:
            burner = 65.0
        else:
            burner = clamp(50.0 + (charge_t - s.et) * 2.0, 10.0, 100.0)
        if "ror_crash" in faults:
            burner = min(burner, 15.0)
        if "flame_out" in faults:
            burner = 0.0
    et = first_order(s.et, AMBIENT + 2.6 * burner + 40.0 * on, 90.0, dt)
    kg = float(cmd["batch_kg"])
    if phase in (CHARGE, DRYING, MAILLARD, DEVELOPMENT):
        beans = beans + (et - beans) / (35.0 * kg) * dt
        if phase == CHARGE:
            et -= 0.6 * dt  # the cold charge pulls the drum down
    bt_target = beans if phase in (CHARGE, DRYING, MAILLARD, DEVELOPMENT, DROP) else et * 0.9
    bt = first_order(s.bt, bt_target, 25.0, dt)
    ror = first_order(s.ror, (bt - s.bt) / dt * 60.0, 15.0, dt)
    drum = first_order(s.drum, 0.0 if stall_s > 0 or not on else 55.0, 1.0, dt)
    return Roaster(
        cycle=c,
        phase=phase,
        t=t,
        beans=beans,
        bt=bt,
        et=et,
        ror=ror,
        burner=burner,
        drum=drum,
        stall_s=stall_s,
        scorched=scorched,
        batches=batches,
        gas_kg=s.gas_kg + burner / 100.0 * 2.5 / 3600.0 * dt,  # 2.5 kg/h at full fire
        noise=(gauss(rng, 0.4), gauss(rng, 0.8)),
    )


def outputs(s: Roaster) -> dict[str, float | int | bool]:
    c = s.cycle
    n = s.noise
    roasting = s.phase in (CHARGE, DRYING, MAILLARD, DEVELOPMENT)
    return {
        "state": int(c.phase),
        "alarm_code": c.alarm,
        "roast_phase": s.phase,
        "bean_temp": clamp(s.bt + n[0], 0.0, 300.0),
        "env_temp": clamp(s.et + n[1], 0.0, 350.0),
        "ror": clamp(s.ror, -60.0, 60.0),
        "burner": s.burner,
        "airflow": 60.0 if roasting else 30.0 if c.phase is not Phase.OFF else 0.0,
        "drum_speed": clamp(s.drum, 0.0, 80.0),
        "roast_time": int(s.t) if roasting else 0,
        "batch_counter": s.batches,
        "good_batches": c.good,
        "rejected_batches": c.rejected,
        "run_seconds": int(c.run_s),
        "gas_used": s.gas_kg,
    }


ROASTER = MachineType(
    kind="roaster",
    title="Drum coffee roaster (15 kg, LPG)",
    signals=SIGNALS,
    init=init,
    step=step,
    outputs=outputs,
    probe="bean_temp",
    faults=FAULTS,
    ideal_cycle_s=660.0,  # one part at the rated speed (OEE)
    alarms={
        "alarm_code": (
            suggested_alarm(
                "drum_stall",
                "high",
                "the drum is jammed: the batch scorches (trip 702)",
                "drum macet: sangrai gosong (trip 702)",
                equals=702,
            ),
            suggested_alarm(
                "flame_out",
                "high",
                "the burner flame went out (trip 701)",
                "api burner padam (trip 701)",
                equals=701,
            ),
        ),
    },
)

MODEL = Model(
    name="roaster",
    description="coffee roaster: roast curve (BT, ET, RoR), batches, first crack, drop",
    units=(Unit(1, "1", ROASTER),),
    default_port=5025,
    notes="`ror` is a signed int16 (×0.1 °C/min): it goes negative at charge. `batch_counter` "
    "is CDAB, like many small PLCs (`word_order: little`).",
)
