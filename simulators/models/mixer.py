"""Mixing tank: a 2,000 L jacketed, agitated tank blending liquid organic fertiliser by recipe
for an agro-chemical SME (SIMULATORS.md M6, served over Modbus and OPC UA).

A batch (ISA-88-like phases): filling (inlets A, B and water open at once until each has
given its share of the target volume) → mixing (agitator on; pH and conductivity settle on
the blend's values) → heating (jacket heater, first-order with a lag that grows with the
volume) → holding (5 min) → sampling (2 min: good when pH within ±0.3 of the recipe and the
temperature within ±2 °C) → draining. A mass balance ties the level to the flows, so a stuck
valve or a frozen level sensor shows as an imbalance.
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
    status_bit,
    suggested_alarm,
)

AMBIENT = 30.0
TANK_L = 2000.0
FILLING, MIXING, HEATING, HOLDING, SAMPLING, DRAINING = range(1, 7)
FLOW_A, FLOW_B, FLOW_WATER, FLOW_OUT = 80.0, 60.0, 120.0, 150.0

# fmt: off
SIGNALS = (
    state(0, PHASE_DOC),
    alarm(1, "0 none, 801 inlet A flow while closed, 802 agitator overload, "
             "803 over-temperature, 804 pH out of spec, 900 breakdown"),
    Signal("batch_phase", "input", 2, kind="status", hi=6, description="0 waiting, 1 filling, "
           "2 mixing, 3 heating, 4 holding, 5 sampling, 6 draining"),
    Signal("level", "input", 3, "uint16", 0.1, "%", 0, 100, "tank level"),
    Signal("volume", "input", 4, "uint16", 1, "L", 0, 2000, "liquid in the tank"),
    Signal("temperature", "input", 5, "int16", 0.1, "degC", 20, 90, "liquid temperature"),
    Signal("ph", "input", 6, "uint16", 0.01, "pH", 0, 14, "pH"),
    Signal("conductivity", "input", 7, "uint16", 0.01, "mS/cm", 0, 25, "conductivity"),
    Signal("agitator_speed", "input", 8, "uint16", 0.1, "rpm", 0, 150, "agitator speed"),
    Signal("agitator_current", "input", 9, "uint16", 0.01, "A", 0, 15, "agitator current"),
    Signal("inlet_flow_a", "input", 10, "uint16", 0.1, "L/min", 0, 150, "inlet A flow"),
    Signal("inlet_flow_b", "input", 11, "uint16", 0.1, "L/min", 0, 150, "inlet B flow"),
    Signal("water_flow", "input", 12, "uint16", 0.1, "L/min", 0, 150, "water inlet flow"),
    Signal("outlet_flow", "input", 13, "uint16", 0.1, "L/min", 0, 200, "outlet flow"),
    counter("batch_counter", 14, "batches drained"),
    counter("good_batches", 16, "batches in spec at sampling"),
    counter("rejected_batches", 18, "batches out of spec at sampling"),
    counter("run_seconds", 20, "time in running", "s"),
    counter("total_produced", 22, "product drained", "L"),
    setpoint("target_volume", 100, "uint16", 1, "L", 500, 2000, "batch volume", 1000),
    setpoint("ratio_a", 101, "uint16", 1, "%", 0, 60, "share of concentrate A", 30),
    setpoint("ratio_b", 102, "uint16", 1, "%", 0, 40, "share of concentrate B", 10),
    setpoint("target_temp", 103, "int16", 0.1, "degC", 25, 65, "heating target", 45.0),
    setpoint("mix_time", 104, "uint16", 1, "min", 5, 60, "mixing time", 10),
    command("run", 0, "1 = run batches", default=True),
    status_bit("valve_a", 0, "inlet A open"),
    status_bit("valve_b", 1, "inlet B open"),
    status_bit("valve_water", 2, "water inlet open"),
    status_bit("valve_outlet", 3, "outlet open"),
    status_bit("heater_on", 4, "jacket heater on"),
)
# fmt: on

FAULTS = {
    "inlet_stuck": "inlet valve A sticks open: flow while closed, level rises; trip 801 after 60 s",
    "agitator_overload": "agitator current +1 A a minute while it runs; trip 802 at 10 A",
    "heater_stuck": "jacket heater stuck on: temperature overshoots; trip 803 at 75 °C",
    "ph_probe_drift": "pH probe drifts +0.1 a minute: batches fail; trip 804 beyond 1 pH off",
}

RATES = Rates(
    setup_s=60, idle_per_h=0.5, idle_s=300, fault_per_h=0.05, repair_s=600,
    maintenance_every_s=12 * 3600, maintenance_s=1800,
)  # fmt: skip


@dataclass(frozen=True)
class Tank:
    """Tank state."""

    cycle: Cycle
    phase: int = 0
    phase_s: float = 0.0
    vol_a: float = 0.0
    vol_b: float = 0.0
    vol_w: float = 0.0
    temp: float = AMBIENT
    ph: float = 7.0
    cond: float = 0.5
    speed: float = 0.0
    overload: float = 0.0
    drift: float = 0.0
    stuck_s: float = 0.0
    batches: int = 0
    produced: float = 0.0
    flows: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    heater: bool = False
    noise: tuple[float, float] = (0.0, 0.0)

    @property
    def volume(self) -> float:
        return self.vol_a + self.vol_b + self.vol_w


def blend(ratio_a: float, ratio_b: float) -> tuple[float, float]:
    """The pH and conductivity (mS/cm) the blend settles at."""
    return 7.2 - 0.03 * ratio_a + 0.02 * ratio_b, 0.5 + 0.2 * ratio_a + 0.15 * ratio_b


def step(s: Tank, dt: float, inputs: Inputs, rng: random.Random) -> Tank:
    cmd, faults = inputs.commands, inputs.faults
    target_v = float(cmd["target_volume"])
    ra, rb = float(cmd["ratio_a"]), float(cmd["ratio_b"])
    target_t = float(cmd["target_temp"])
    ph_target, cond_target = blend(ra, rb)
    drift = s.drift + (0.1 / 60 * dt if "ph_probe_drift" in faults else 0.0)
    trip = 0
    if s.stuck_s > 60:
        trip = 801
    elif s.overload + 5.0 >= 10.0:
        trip = 802
    elif s.temp >= 75.0:
        trip = 803
    elif abs(drift) > 1.0:
        trip = 804
    c = advance(s.cycle, dt, run=bool(cmd["run"]), ready=True, trip=trip, rates=RATES, rng=rng)
    running = c.phase is Phase.RUNNING
    phase, phase_s = s.phase, s.phase_s + dt
    vol_a, vol_b, vol_w = s.vol_a, s.vol_b, s.vol_w
    batches, produced = s.batches, s.produced
    open_a = open_b = open_w = outlet = heater = agitate = False
    if running:
        if phase == 0:
            phase, phase_s = FILLING, 0.0
        if phase == FILLING:
            open_a = vol_a < target_v * ra / 100
            open_b = vol_b < target_v * rb / 100
            open_w = vol_w < target_v * (100 - ra - rb) / 100
            if not (open_a or open_b or open_w):
                phase, phase_s = MIXING, 0.0
        elif phase == MIXING:
            agitate = True
            if phase_s >= float(cmd["mix_time"]) * 60:
                phase, phase_s = HEATING, 0.0
        elif phase == HEATING:
            agitate = heater = True
            if s.temp >= target_t - 0.5:
                phase, phase_s = HOLDING, 0.0
        elif phase == HOLDING:
            agitate = True
            heater = s.temp < target_t
            if phase_s >= 300:
                phase, phase_s = SAMPLING, 0.0
        elif phase == SAMPLING:
            agitate = True
            if phase_s >= 120:
                good = abs(s.ph + drift - ph_target) <= 0.3 and abs(s.temp - target_t) <= 2.0
                c = count_part(c, good)
                phase, phase_s = DRAINING, 0.0
        elif phase == DRAINING:
            outlet = s.volume > 0
            if s.volume <= 0:
                batches = counter_add(batches, 1)
                phase, phase_s = FILLING, 0.0
    stuck = "inlet_stuck" in faults and c.phase is not Phase.OFF
    flow_a = FLOW_A * 1.5 if stuck else FLOW_A if open_a else 0.0
    flows = (flow_a, FLOW_B if open_b else 0.0, FLOW_WATER if open_w else 0.0,
             min(FLOW_OUT, s.volume * 60 / dt) if outlet else 0.0)  # fmt: skip
    total_in = flows[0] + flows[1] + flows[2]
    out_l = flows[3] / 60 * dt
    volume = s.volume
    share = (vol_a / volume, vol_b / volume, vol_w / volume) if volume > 0 else (0, 0, 0)
    vol_a = max(0.0, vol_a + flows[0] / 60 * dt - out_l * share[0])
    vol_b = max(0.0, vol_b + flows[1] / 60 * dt - out_l * share[1])
    vol_w = max(0.0, vol_w + flows[2] / 60 * dt - out_l * share[2])
    if vol_a + vol_b + vol_w > TANK_L:  # overflow
        scale = TANK_L / (vol_a + vol_b + vol_w)
        vol_a, vol_b, vol_w = vol_a * scale, vol_b * scale, vol_w * scale
    produced += out_l
    if "heater_stuck" in faults and c.phase is not Phase.OFF:
        heater = True
    new_volume = vol_a + vol_b + vol_w
    lag = 900.0 * max(new_volume, 200.0) / TANK_L
    if heater:
        temp = first_order(s.temp, 95.0 if "heater_stuck" in faults else target_t + 5, lag, dt)
    else:
        temp = first_order(s.temp, AMBIENT, 6 * lag, dt)
    if total_in > 0 and new_volume > 0:
        temp = temp + (AMBIENT - temp) * total_in / 60 * dt / new_volume
    speed = first_order(s.speed, 90.0 if agitate else 0.0, 3.0, dt)
    overload = s.overload + (1.0 / 60 * dt if "agitator_overload" in faults and agitate else 0.0)
    mixing = speed > 30
    ph = first_order(s.ph, ph_target, 180.0, dt) if mixing else s.ph
    cond = first_order(s.cond, cond_target, 180.0, dt) if mixing else s.cond
    if new_volume < 1:
        ph, cond = 7.0, 0.5
    return Tank(
        cycle=c,
        phase=phase,
        phase_s=phase_s,
        vol_a=vol_a,
        vol_b=vol_b,
        vol_w=vol_w,
        temp=temp,
        ph=ph,
        cond=cond,
        speed=speed,
        overload=overload,
        drift=drift,
        stuck_s=s.stuck_s + dt if stuck and not open_a else 0.0,
        batches=batches,
        produced=produced,
        flows=flows,
        heater=heater,
        noise=(gauss(rng, 0.05 if not mixing else 0.02), gauss(rng, 0.3)),
    )


def outputs(s: Tank) -> dict[str, float | int | bool]:
    c = s.cycle
    n = s.noise
    volume = s.volume
    current = (3.0 + 4.0 * volume / TANK_L) * s.speed / 90.0 + (s.overload if s.speed > 1 else 0)
    return {
        "state": int(c.phase),
        "alarm_code": c.alarm,
        "batch_phase": s.phase,
        "level": clamp(100.0 * volume / TANK_L + (n[1] * 0.2 if s.speed > 1 else 0.0), 0, 100),
        "volume": clamp(volume, 0.0, TANK_L),
        "temperature": clamp(s.temp + n[1] * 0.2, 20.0, 90.0),
        "ph": clamp(s.ph + s.drift + n[0], 0.0, 14.0),
        "conductivity": clamp(s.cond + n[1] * 0.05, 0.0, 25.0),
        "agitator_speed": clamp(s.speed, 0.0, 150.0),
        "agitator_current": clamp(current, 0.0, 15.0),
        "inlet_flow_a": s.flows[0],
        "inlet_flow_b": s.flows[1],
        "water_flow": s.flows[2],
        "outlet_flow": s.flows[3],
        "batch_counter": s.batches,
        "good_batches": c.good,
        "rejected_batches": c.rejected,
        "run_seconds": int(c.run_s),
        "total_produced": int(s.produced),
        "valve_a": s.flows[0] > 0,
        "valve_b": s.flows[1] > 0,
        "valve_water": s.flows[2] > 0,
        "valve_outlet": s.flows[3] > 0,
        "heater_on": s.heater,
    }


TANK = MachineType(
    kind="mixer",
    title="Jacketed mixing tank (2,000 L, fertiliser blending)",
    signals=SIGNALS,
    init=lambda _rng: Tank(Cycle()),
    step=step,
    outputs=outputs,
    probe="ph",
    faults=FAULTS,
    ideal_cycle_s=2160.0,  # one part at the rated speed (OEE)
    alarms={
        "temperature": (
            suggested_alarm(
                "overheat",
                "high",
                "liquid too hot: heater stuck on? (trip 803 at 75 °C)",
                "cairan terlalu panas: pemanas macet menyala? (trip 803 pada 75 °C)",
                above=72,
                clear_below=68,
            ),
        ),
    },
)

MODEL = Model(
    name="mixer",
    description="mixing tank: recipe batches (fill, mix, heat, hold, sample, drain), pH, flows",
    units=(Unit(1, "1", TANK),),
    default_port=5026,
    notes="The level follows the flows (a mass balance): a level that rises with every inlet "
    "closed, or stays flat while flows run, is a fault to find.",
)
