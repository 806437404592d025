"""Induction melting furnace for a foundry (Pasuruan cast iron), 500 kg, ~350 kW (SIMULATORS.md
M4, served over Modbus here).

A heat: charging (buckets of scrap, +100 kg a minute up to 500 kg) → melting (full power until
the charge has taken ~0.5 kWh/kg; the bath plateaus near 1180 °C) → superheating to the target
tap temperature → holding → tapping (down to a 75 kg heel). A heat is counted good when it is
tapped within ±25 °C of the target, else rejected. Writes a real furnace takes: the tap
temperature the superheating follows (`target_tap_temp`), the power limit, and the counter
reset coil (heat counters held at 0 while it is on). The melt temperature is a spot **dip**
measurement, updated every 2 minutes, not a continuous value. Cooling water warms with power;
low flow or a hot outlet trips the furnace (the critical interlock).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from simulators.core.machine import PHASE_DOC, Cycle, Phase, Rates, advance, count_part
from simulators.core.signals import clamp, counter_add, first_order, gauss, ou_walk
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

AMBIENT = 30.0
CHARGING, MELTING, SUPERHEATING, HOLDING, TAPPING = range(5)
HEEL_KG = 75.0
FULL_KG = 500.0

# fmt: off
SIGNALS: tuple[Signal, ...] = (
    state(0, PHASE_DOC),
    alarm(1, "0 none, 501 low cooling flow, 502 ground leakage, 503 supply trip, "
             "504 cooling outlet over-temperature, 900 breakdown"),
    Signal("melt_phase", "input", 2, kind="status", hi=4,
           description="0 charging, 1 melting, 2 superheating, 3 holding, 4 tapping"),
    Signal("active_power", "input", 3, "float32", 1, "kW", 0, 400, "active power"),
    Signal("frequency", "input", 5, "uint16", 0.1, "Hz", 0, 1100, "inverter frequency"),
    Signal("melt_temp", "input", 6, "int16", 0.1, "degC", 0, 1650,
           "last dip measurement of the bath (every 2 min while hot)"),
    Signal("charge_weight", "input", 7, "uint16", 1, "kg", 0, 600, "metal in the crucible"),
    Signal("cooling_inlet_temp", "input", 8, "int16", 0.1, "degC", 20, 45, "cooling water in"),
    Signal("cooling_outlet_temp", "input", 9, "int16", 0.1, "degC", 20, 80, "cooling water out"),
    Signal("cooling_flow", "input", 10, "uint16", 0.1, "L/min", 0, 250, "cooling water flow"),
    Signal("ground_leakage", "input", 11, "uint16", 0.01, "mA", 0, 20,
           "lining ground leakage (warn 5, alarm 10)"),
    counter("heat_number", 12, "heats tapped"),
    counter("energy", 14, "energy ×0.1", "kWh"),
    counter("good_heats", 16, "heats tapped within ±25 °C of the target"),
    counter("rejected_heats", 18, "heats tapped off target"),
    counter("run_seconds", 20, "time in running", "s"),
    Signal("specific_energy", "input", 22, "float32", 1, "kWh/t", 0, 2000,
           "energy per tonne of the last heat"),
    setpoint("power_setpoint", 100, "uint16", 1, "%", 0, 100, "power limit", 100),
    setpoint("target_tap_temp", 101, "int16", 1, "degC", 1450, 1550, "tap temperature", 1500),
    command("run", 0, "1 = furnace in production", default=True),
    command("counter_reset", 7, "1 = heat counters held at 0 (a PLC counter's reset input); "
            "0 = counting"),
    status_bit("cooling_ok", 0, "cooling flow above 100 L/min"),
    status_bit("power_on", 1, "inverter on"),
)
# fmt: on
SIGNALS = tuple(
    Signal(**{**s.__dict__, "scale": 0.1}) if s.name == "energy" else s for s in SIGNALS
)

FAULTS = {
    "low_cooling_flow": "cooling water flow drops to ~80 L/min; interlock trip 501 below 100",
    "lining_wear": "ground leakage grows 0.5 mA a minute; trip 502 at 10 mA (reline)",
    "supply_trip": "the power supply trips: power 0, alarm 503",
    "overheat": "cooling outlet warms 3 °C a minute (scale in the coil); trip 504 above 60 °C",
}

RATES = Rates(
    setup_s=60, idle_per_h=0.5, idle_s=300, fault_per_h=0.05, repair_s=600,
    maintenance_every_s=12 * 3600, maintenance_s=1800,
)  # fmt: skip


@dataclass(frozen=True)
class Furnace:
    """Furnace state."""

    cycle: Cycle
    phase: int = CHARGING
    phase_s: float = 0.0
    weight: float = HEEL_KG
    temp: float = AMBIENT
    power: float = 0.0
    heat_kwh: float = 0.0
    energy_kwh: float = 0.0
    dip: float = AMBIENT
    dip_s: float = 0.0
    heats: int = 0
    specific: float = 0.0
    inlet: float = 30.0
    flow: float = 200.0
    outlet_extra: float = 0.0
    leakage: float = 1.0
    wear: float = 0.0
    """Extra leakage from a worn lining, mA."""
    noise: tuple[float, float] = (0.0, 0.0)


def init(rng: random.Random) -> Furnace:
    return Furnace(Cycle(), leakage=rng.uniform(0.6, 1.5))


def step(s: Furnace, dt: float, inputs: Inputs, rng: random.Random) -> Furnace:
    cmd, faults = inputs.commands, inputs.faults
    target = float(cmd["target_tap_temp"])
    leakage = clamp(ou_walk(s.leakage, 1.0, 0.001, 0.01, dt, rng), 0.2, 3.0)
    wear = s.wear + (0.5 / 60 * dt if "lining_wear" in faults else 0.0)
    outlet_extra = s.outlet_extra + (3.0 / 60 * dt if "overheat" in faults else 0.0)
    outlet = s.inlet + s.power * 0.04 + outlet_extra
    trip = 0
    if s.flow < 100:
        trip = 501
    elif leakage + wear >= 10:
        trip = 502
    elif "supply_trip" in faults:
        trip = 503
    elif outlet > 60:
        trip = 504
    c = advance(s.cycle, dt, run=bool(cmd["run"]), ready=True, trip=trip, rates=RATES, rng=rng)
    running = c.phase is Phase.RUNNING
    limit = float(cmd["power_setpoint"]) / 100.0
    phase, phase_s, weight, temp = s.phase, s.phase_s + dt, s.weight, s.temp
    heat_kwh, heats, specific = s.heat_kwh, s.heats, s.specific
    want = 0.0
    if running:
        if phase == CHARGING:
            want = 10.0
            weight = min(FULL_KG, weight + 100.0 / 60.0 * dt)
            if weight >= FULL_KG:
                phase, phase_s = MELTING, 0.0
        elif phase == MELTING:
            want = 340.0
            if heat_kwh >= 0.5 * weight:
                phase, phase_s = SUPERHEATING, 0.0
        elif phase == SUPERHEATING:
            want = 280.0
            if temp >= target:
                phase, phase_s = HOLDING, 0.0
        elif phase == HOLDING:
            want = 90.0
            if phase_s >= 120.0:
                phase, phase_s = TAPPING, 0.0
        elif phase == TAPPING:
            weight = max(HEEL_KG, weight - 15.0 * dt)
            if weight <= HEEL_KG:
                heats = counter_add(heats, 1)
                specific = heat_kwh / ((FULL_KG - HEEL_KG) / 1000.0)
                c = count_part(c, good=abs(s.dip - target) <= 25.0)
                phase, phase_s, heat_kwh = CHARGING, 0.0, 0.0
    if cmd["counter_reset"]:
        # As a PLC counter's R input: held at zero while the coil is on (the coil reads back).
        heats, c = 0, replace(c, good=0, rejected=0)
    elif c.phase in (Phase.IDLE, Phase.MAINTENANCE) and weight > HEEL_KG:
        want = 60.0  # keep the bath liquid while waiting
    power = first_order(s.power, want * limit if "supply_trip" not in faults else 0.0, 5.0, dt)
    kwh = power * dt / 3600.0
    if phase == MELTING and running:
        temp = first_order(temp, 1180.0, 900.0, dt)
    else:
        gain = power * 0.75 / (weight * 0.83)  # 75 % coupling, cast iron 0.83 kJ/(kg·K)
        temp = temp + (gain - (temp - AMBIENT) * 1e-4) * dt
    temp = clamp(temp, AMBIENT, 1650.0)
    dip_s = s.dip_s + dt
    dip = s.dip
    if dip_s >= 120.0 and temp > 200.0:
        dip, dip_s = temp + gauss(rng, 3.0), 0.0
    flow_target = 80.0 if "low_cooling_flow" in faults else 200.0
    return Furnace(
        cycle=c,
        phase=phase,
        phase_s=phase_s,
        weight=weight,
        temp=temp,
        power=power,
        heat_kwh=heat_kwh + kwh,
        energy_kwh=s.energy_kwh + kwh,
        dip=dip,
        dip_s=dip_s,
        heats=heats,
        specific=specific,
        inlet=clamp(ou_walk(s.inlet, 30.0, 0.002, 0.02, dt, rng), 28.0, 33.0),
        flow=first_order(s.flow, flow_target, 10.0, dt),
        outlet_extra=outlet_extra,
        leakage=leakage,
        wear=wear,
        noise=(gauss(rng, 0.2), gauss(rng, 1.5)),
    )


def outputs(s: Furnace) -> dict[str, float | int | bool]:
    c = s.cycle
    n = s.noise
    on = s.power > 1.0
    return {
        "state": int(c.phase),
        "alarm_code": c.alarm,
        "melt_phase": s.phase,
        "active_power": round(clamp(s.power + (n[1] if on else 0.0), 0.0, 400.0), 2),
        "frequency": clamp(1000.0 - 80.0 * (s.temp > 1150) + n[1], 0.0, 1100.0) if on else 0.0,
        "melt_temp": clamp(s.dip, 0.0, 1650.0),
        "charge_weight": clamp(s.weight, 0.0, 600.0),
        "cooling_inlet_temp": clamp(s.inlet + n[0], 20.0, 45.0),
        "cooling_outlet_temp": clamp(s.inlet + s.power * 0.04 + s.outlet_extra + n[0], 20.0, 80.0),
        "cooling_flow": clamp(s.flow * (1 + n[0] * 0.05), 0.0, 250.0),
        "ground_leakage": clamp(s.leakage + s.wear, 0.0, 20.0),
        "heat_number": s.heats,
        "energy": s.energy_kwh,
        "good_heats": c.good,
        "rejected_heats": c.rejected,
        "run_seconds": int(c.run_s),
        "specific_energy": round(clamp(s.specific, 0.0, 2000.0), 1),
        "cooling_ok": s.flow >= 100.0,
        "power_on": on,
    }


FURNACE = MachineType(
    kind="furnace",
    title="Medium-frequency induction furnace (500 kg, 350 kW)",
    signals=SIGNALS,
    init=init,
    step=step,
    outputs=outputs,
    probe="cooling_outlet_temp",
    faults=FAULTS,
    ideal_cycle_s=3600.0,  # one part at the rated speed (OEE)
    alarms={
        "cooling_outlet_temp": (
            suggested_alarm(
                "overheat",
                "high",
                "cooling water outlet too hot: scale in the coil? (trip 504 at 60 °C)",
                "air pendingin keluar terlalu panas: kerak di kumparan? (trip 504 pada 60 °C)",
                delay="5s",
                above=55,
                clear_below=50,
            ),
        ),
        "cooling_flow": (
            suggested_alarm(
                "low_cooling_flow",
                "medium",
                "cooling water flow low (trip 501 below 100 L/min)",
                "aliran air pendingin rendah (trip 501 di bawah 100 L/menit)",
                delay="5s",
                below=120,
                clear_above=150,
            ),
        ),
    },
)

MODEL = Model(
    name="furnace",
    description="foundry induction furnace: melt cycle, dip temperatures, cooling interlock",
    units=(Unit(1, "1", FURNACE),),
    default_port=5023,
    notes="One heat takes about an hour at `--speed 1`: run it with `--speed 10` in class. "
    "`melt_temp` is a dip measurement: it changes every 2 minutes, not every poll.",
)
