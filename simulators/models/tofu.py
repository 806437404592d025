"""Tofu/tempe line: a small steam boiler (unit 1) and a soybean grinder (unit 2) behind one
Modbus endpoint, as cheap RS-485 modules behind a serial-to-TCP converter (SIMULATORS.md M2).

Boiler: hysteresis firing between `pressure_setpoint - pressure_band` and the setpoint,
hand-stoked fuel as an Ornstein-Uhlenbeck walk, steam drawn by the cooker valve, water level
kept by a pump with hysteresis. Running = cooker drawing steam, idle = standby at pressure.
Grinder: grinds 10 kg batches (about 8 min each); counts good and rejected batches (too coarse
when ground dry or with a worn bearing); `batch_counter` is non-retentive (a power dip resets
it, a classic exercise).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.core.machine import PHASE_DOC, Cycle, Phase, Rates, advance, count_part
from simulators.core.signals import (
    clamp,
    counter_add,
    first_order,
    gauss,
    hysteresis,
    ou_walk,
)
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

# -- boiler ----------------------------------------------------------------------------------

# fmt: off
BOILER_SIGNALS = (
    Signal("steam_pressure", "input", 0, "int16", 0.01, "bar", 0, 6, "steam pressure (gauge)"),
    Signal("water_level", "input", 1, "uint16", 0.1, "%", 0, 100, "drum water level"),
    Signal("flue_gas_temp", "input", 2, "int16", 0.1, "degC", 25, 350, "flue gas temperature"),
    Signal("feedwater_temp", "input", 3, "int16", 0.1, "degC", 25, 90, "feedwater temperature"),
    Signal("steam_flow", "input", 4, "uint16", 0.1, "kg/h", 0, 400, "steam flow to the cooker"),
    state(5, PHASE_DOC),
    alarm(6, "0 none, 101 low water, 102 overpressure, 103 fuel out, 900 breakdown"),
    counter("firing_seconds", 7, "burner on time", "s"),
    counter("pump_starts", 9, "feed pump starts"),
    counter("run_seconds", 11, "time in running", "s"),
    setpoint("pressure_setpoint", 100, "int16", 0.01, "bar", 0.5, 3.0,
             "firing stops at this pressure", 2.0),
    setpoint("pressure_band", 101, "int16", 0.01, "bar", 0.1, 1.0,
             "firing restarts this far below the setpoint", 0.2),
    command("run_enable", 0, "1 = boiler on", default=True),
    status_bit("firing", 0, "burner on"),
    status_bit("pump_running", 1, "feed pump on"),
    status_bit("safety_valve_open", 2, "safety valve lifted (above 3.5 bar, reseats at 3.0)"),
)
# fmt: on

BOILER_FAULTS = {
    "overpressure": "firing sticks on: pressure climbs until the safety valve lifts (trip 102)",
    "low_water": "the feed pump fails: the level falls; low-water cut-off trip 101 at 20 %",
    "fuel_out": "the fire goes out: flue gas cools, pressure decays, trip 103",
}


@dataclass(frozen=True)
class Boiler:
    """Boiler state: physics truth and measured values."""

    cycle: Cycle
    pressure: float = 0.0
    level: float = 55.0
    flue: float = AMBIENT
    feedwater: float = AMBIENT
    flow: float = 0.0
    fuel: float = 1.0
    firing: bool = False
    pump: bool = False
    safety_open: bool = False
    valve_s: float = 0.0
    """Seconds into the cooker valve cycle (open 180 s of every 300 s while running)."""
    firing_s: float = 0.0
    pump_starts: int = 0
    low_water_s: float = 0.0
    noise: tuple[float, float, float] = (0.0, 0.0, 0.0)


def boiler_init(_rng: random.Random) -> Boiler:
    return Boiler(Cycle())


BOILER_RATES = Rates(
    setup_s=30, idle_per_h=3, idle_s=240, fault_per_h=0.3, repair_s=300,
    maintenance_every_s=6 * 3600, maintenance_s=900,
)  # fmt: skip


def boiler_step(s: Boiler, dt: float, inputs: Inputs, rng: random.Random) -> Boiler:
    cmd, faults = inputs.commands, inputs.faults
    sp = float(cmd["pressure_setpoint"])
    band = float(cmd["pressure_band"])
    c = s.cycle
    trip = 0
    if s.pressure >= 3.4 and "overpressure" in faults:
        trip = 102
    elif s.level <= 20.0:
        trip = 101
    elif "fuel_out" in faults and s.flue < 100 and c.phase in (Phase.RUNNING, Phase.IDLE):
        trip = 103
    run = bool(cmd["run_enable"])
    ready = s.pressure >= sp - band
    c = advance(c, dt, run=run, ready=ready, trip=trip, rates=BOILER_RATES, rng=rng)
    on = c.phase in (Phase.SETUP, Phase.RUNNING, Phase.IDLE)
    firing = on and hysteresis(s.firing, s.pressure, sp - band, sp)
    if "overpressure" in faults and c.phase is not Phase.OFF:
        firing = True
    fuel = clamp(ou_walk(s.fuel, 1.0, 0.01, 0.05, dt, rng), 0.6, 1.4)
    if "fuel_out" in faults:
        fuel = 0.0
    valve_s = (s.valve_s + dt) % 300.0 if c.phase is Phase.RUNNING else 0.0
    valve_open = c.phase is Phase.RUNNING and valve_s < 180.0
    flow_target = 40.0 + 45.0 * s.pressure if valve_open else (2.0 if on else 0.0)
    flow = first_order(s.flow, flow_target, 5.0, dt)
    heat = 0.02 * fuel if firing else 0.0
    if "overpressure" in faults and firing:
        heat = 0.035  # the burner sticks at high fire
    pressure = s.pressure + (heat - s.pressure / 1200.0 - flow * 0.00012) * dt
    safety = s.safety_open
    if pressure >= 3.5:
        safety = True
    elif pressure <= 3.0:
        safety = False
    if safety:
        pressure -= 0.05 * dt
    pressure = clamp(pressure, 0.0, 6.0)
    pump = on and hysteresis(s.pump, s.level, 45.0, 60.0) and "low_water" not in faults
    level = clamp(s.level - flow / 3600.0 * 2.5 * dt + (0.15 * dt if pump else 0.0), 0.0, 100.0)
    flue_target = (60.0 + 160.0 * fuel) if firing else (60.0 if on else AMBIENT)
    flue = first_order(s.flue, flue_target, 120.0 if firing else 300.0, dt)
    feed = first_order(s.feedwater, 50.0 if pump else AMBIENT + 5.0, 300.0, dt)
    return Boiler(
        cycle=c,
        pressure=pressure,
        level=level,
        flue=flue,
        feedwater=feed,
        flow=flow,
        fuel=fuel,
        firing=firing,
        pump=pump,
        safety_open=safety,
        valve_s=valve_s,
        firing_s=s.firing_s + (dt if firing else 0.0),
        pump_starts=counter_add(s.pump_starts, 1) if pump and not s.pump else s.pump_starts,
        noise=(gauss(rng, 0.02), gauss(rng, 0.3), gauss(rng, 1.5)),
    )


def boiler_outputs(s: Boiler) -> dict[str, float | int | bool]:
    n = s.noise
    on = s.pressure > 0.05
    return {
        "steam_pressure": clamp(s.pressure + (n[0] if on else 0.0), 0.0, 6.0),
        "water_level": clamp(s.level + n[1] * 0.3, 0.0, 100.0),
        "flue_gas_temp": clamp(s.flue + n[2], 25.0, 350.0),
        "feedwater_temp": clamp(s.feedwater + n[2] * 0.1, 25.0, 90.0),
        "steam_flow": clamp(s.flow + n[1], 0.0, 400.0) if s.flow > 1 else 0.0,
        "state": int(s.cycle.phase),
        "alarm_code": s.cycle.alarm,
        "firing_seconds": int(s.firing_s),
        "pump_starts": s.pump_starts,
        "run_seconds": int(s.cycle.run_s),
        "firing": s.firing,
        "pump_running": s.pump,
        "safety_valve_open": s.safety_open,
    }


BOILER = MachineType(
    kind="boiler",
    title="Steam boiler (biomass-fired, 0.5 t/h)",
    signals=BOILER_SIGNALS,
    init=boiler_init,
    step=boiler_step,
    outputs=boiler_outputs,
    probe="steam_pressure",
    faults=BOILER_FAULTS,
    alarms={
        "steam_pressure": (
            suggested_alarm(
                "overpressure",
                "high",
                "steam pressure too high (safety valve lifts at 3.5 bar)",
                "tekanan uap terlalu tinggi (katup pengaman membuka pada 3,5 bar)",
                above=3.2,
                clear_below=3.0,
            ),
        ),
        "alarm_code": (
            suggested_alarm(
                "low_water",
                "high",
                "low water: the burner is cut off (trip 101)",
                "air rendah: burner dimatikan (trip 101)",
                equals=101,
            ),
        ),
    },
)

# -- grinder ---------------------------------------------------------------------------------

# fmt: off
GRINDER_SIGNALS = (
    Signal("motor_current", "input", 0, "uint16", 0.1, "A", 0, 30, "motor current"),
    Signal("motor_speed", "input", 1, "uint16", 1, "rpm", 0, 1500, "motor speed"),
    Signal("vibration_rms", "input", 2, "uint16", 0.01, "mm/s", 0, 20, "bearing vibration RMS"),
    Signal("motor_temp", "input", 3, "int16", 0.1, "degC", 25, 110, "motor winding temperature"),
    Signal("water_flow", "input", 4, "uint16", 0.1, "L/min", 0, 10, "grinding water flow"),
    state(5, PHASE_DOC),
    alarm(6, "0 none, 201 jam, 202 over-temperature, 203 vibration, 900 breakdown"),
    counter("batch_counter", 7, "batches ground (non-retentive: 0 after a power dip)"),
    counter("energy_wh", 9, "energy used", "Wh"),
    counter("good_batches", 11, "good batches"),
    counter("rejected_batches", 13, "batches too coarse (rejected)"),
    counter("run_seconds", 15, "time in running", "s"),
    Signal("batch_progress", "input", 17, "uint16", 0.1, "%", 0, 100, "current batch done"),
    setpoint("batch_size_kg", 100, "uint16", 1, "kg", 5, 30, "soybeans per batch", 10),
    command("run", 0, "1 = grinder on", default=True),
    command("water_valve", 1, "grinding water valve (0 = dry grinding: hot, rejects)", True),
)
# fmt: on

GRINDER_FAULTS = {
    "jam": "the stones jam: current ramps to ~25 A and speed sags; overload trip 201 after 5 s",
    "bearing_wear": "vibration grows by 0.5 mm/s a minute; trip 203 above 7.1 mm/s",
    "overheat": "motor cooling blocked: winding temperature climbs to trip 202 at 90 °C",
}

GRINDER_RATES = Rates(
    setup_s=20, idle_per_h=4, idle_s=90, fault_per_h=0.4, repair_s=180,
    maintenance_every_s=4 * 3600, maintenance_s=600,
)  # fmt: skip


@dataclass(frozen=True)
class Grinder:
    """Grinder state."""

    cycle: Cycle
    current: float = 0.0
    speed: float = 0.0
    vibration: float = 0.0
    wear: float = 0.0
    temp: float = AMBIENT
    water: float = 0.0
    progress: float = 0.0
    batches: int = 0
    energy_wh: float = 0.0
    jam_s: float = 0.0
    noise: tuple[float, float, float] = (0.0, 0.0, 0.0)


def grinder_init(_rng: random.Random) -> Grinder:
    return Grinder(Cycle())


def grinder_step(s: Grinder, dt: float, inputs: Inputs, rng: random.Random) -> Grinder:
    cmd, faults = inputs.commands, inputs.faults
    c = s.cycle
    jam = "jam" in faults and c.phase is Phase.RUNNING
    jam_s = s.jam_s + dt if jam else 0.0
    wear = s.wear + (0.5 / 60.0 * dt if "bearing_wear" in faults else 0.0)
    trip = 201 if jam_s > 5.0 else 202 if s.temp >= 90.0 else 203 if s.vibration > 7.1 else 0
    c = advance(c, dt, run=bool(cmd["run"]), ready=True, trip=trip, rates=GRINDER_RATES, rng=rng)
    running = c.phase is Phase.RUNNING
    dry = not cmd["water_valve"]
    load = 9.5 * (1.2 if dry else 1.0)
    if jam:
        current = min(25.0, s.current + 6.0 * dt)
        speed = first_order(s.speed, 900.0, 2.0, dt)
    else:
        current = first_order(s.current, load if running else 0.0, 1.5, dt)
        speed = first_order(s.speed, 1450.0 if running else 0.0, 1.0 if running else 3.0, dt)
    vibration = (1.6 + wear) * speed / 1450.0
    heat_target = 62.0 + (25.0 if dry else 0.0) + (40.0 if "overheat" in faults else 0.0)
    temp = first_order(s.temp, heat_target if running else AMBIENT, 300.0 if running else 900.0, dt)
    water = first_order(s.water, 4.0 if running and not dry else 0.0, 2.0, dt)
    size = float(cmd["batch_size_kg"])
    progress = s.progress + (dt / (48.0 * size) if running and not jam else 0.0)
    batches = s.batches
    if progress >= 1.0:
        progress -= 1.0
        batches = counter_add(batches, 1)
        reject_p = 0.03 + (0.5 if dry else 0.0) + 0.05 * wear
        c = count_part(c, good=rng.random() >= reject_p)
    return Grinder(
        cycle=c,
        current=current,
        speed=speed,
        vibration=vibration,
        wear=wear,
        temp=temp,
        water=water,
        progress=progress,
        batches=batches,
        energy_wh=s.energy_wh + current * 400.0 * 1.73 * 0.85 * dt / 3600.0,
        jam_s=jam_s,
        noise=(gauss(rng, 0.15), gauss(rng, 3.0), gauss(rng, 0.08)),
    )


def grinder_outputs(s: Grinder) -> dict[str, float | int | bool]:
    n = s.noise
    moving = s.speed > 1.0
    return {
        "motor_current": clamp(s.current + n[0], 0.0, 30.0) if moving else 0.0,
        "motor_speed": clamp(s.speed + n[1], 0.0, 1500.0) if moving else 0.0,
        "vibration_rms": clamp(s.vibration + n[2], 0.0, 20.0) if moving else 0.0,
        "motor_temp": clamp(s.temp + n[0], 25.0, 110.0),
        "water_flow": clamp(s.water + n[2], 0.0, 10.0) if s.water > 0.05 else 0.0,
        "state": int(s.cycle.phase),
        "alarm_code": s.cycle.alarm,
        "batch_counter": s.batches,
        "energy_wh": int(s.energy_wh),
        "good_batches": s.cycle.good,
        "rejected_batches": s.cycle.rejected,
        "run_seconds": int(s.cycle.run_s),
        "batch_progress": clamp(s.progress * 100.0, 0.0, 100.0),
    }


GRINDER = MachineType(
    kind="grinder",
    title="Soybean stone grinder (7.5 kW)",
    signals=GRINDER_SIGNALS,
    init=grinder_init,
    step=grinder_step,
    outputs=grinder_outputs,
    probe="motor_current",
    faults=GRINDER_FAULTS,
    ideal_cycle_s=480.0,  # one part at the rated speed (OEE)
    alarms={
        "alarm_code": (
            suggested_alarm(
                "jam",
                "high",
                "grinder jammed: the overload tripped the motor (trip 201)",
                "penggiling macet: pengaman beban lebih mematikan motor (trip 201)",
                equals=201,
            ),
        ),
        "motor_temp": (
            suggested_alarm(
                "overheat",
                "high",
                "motor too hot (trip 202 at 90 °C)",
                "motor terlalu panas (trip 202 pada 90 °C)",
                above=85,
                clear_below=75,
            ),
        ),
    },
)

MODEL = Model(
    name="tofu",
    description="tofu line: steam boiler (unit 1) and soybean grinder (unit 2) on one endpoint",
    units=(Unit(1, "boiler", BOILER), Unit(2, "grinder", GRINDER)),
    default_port=5020,
)
