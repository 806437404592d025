"""Injection moulding machine: 150 t servo-hydraulic, PP clips for a tier-2 automotive
supplier (SIMULATORS.md M1, served over Modbus here).

Setup heats the four barrel zones (first-order, τ 8 min) until all are within ±5 °C of their
setpoints; running then repeats the cycle (inject, hold, plasticise, cool, eject) in about 28 s
± Gaussian spread. Each shot has a peak pressure and a cushion; a part is rejected when the
cushion is short (< 1 mm), the mould is too hot, a barrel zone is off setpoint, or at random
(1.5 %). The shot counter is retentive. Registers mix int16 ×10, float32 ABCD, int32 and an
ASCII string (the mould id), as real controllers do.
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
    Value,
    alarm,
    command,
    counter,
    setpoint,
    state,
    status_bit,
    suggested_alarm,
)

AMBIENT = 30.0
BARREL_SP = (190.0, 210.0, 220.0, 225.0)

# fmt: off
SIGNALS = (
    state(0, PHASE_DOC),
    alarm(1, "0 none, 601 barrel zone deviation, 602 mould over-temperature, "
             "603 oil over-temperature, 604 short shots, 900 breakdown"),
    *(Signal(f"barrel{i + 1}_temp", "input", 2 + i, "int16", 0.1, "degC", 25, 300,
             f"barrel zone {i + 1} temperature") for i in range(4)),
    Signal("nozzle_temp", "input", 6, "int16", 0.1, "degC", 25, 300, "nozzle temperature"),
    Signal("mould_temp", "input", 7, "int16", 0.1, "degC", 25, 100, "mould temperature"),
    Signal("oil_temp", "input", 8, "int16", 0.1, "degC", 25, 80, "hydraulic oil temperature"),
    Signal("cycle_time", "input", 9, "float32", 1, "s", 0, 120, "last cycle time"),
    Signal("peak_pressure", "input", 11, "float32", 1, "bar", 0, 2000, "last injection peak"),
    Signal("cushion", "input", 13, "uint16", 0.01, "mm", 0, 20, "last shot cushion"),
    Signal("clamp_force", "input", 14, "uint16", 1, "kN", 0, 1600, "clamp force"),
    Signal("power", "input", 15, "uint16", 0.1, "kW", 0, 45, "electrical power"),
    counter("shot_counter", 16, "shots (retentive)"),
    counter("good_parts", 18, "good parts"),
    counter("rejected_parts", 20, "rejected parts"),
    counter("run_seconds", 22, "time in running", "s"),
    Signal("energy", "input", 24, "int32", 0.01, "kWh", 0, 2**31 - 1, "energy used",
           "counter"),
    Signal("mould_id", "input", 26, "string", unit=None, kind="status", length=4,
           description="mould in the machine (8 ASCII characters)", default="PP-CLIP7"),
    *(setpoint(f"barrel{i + 1}_setpoint", 100 + i, "int16", 0.1, "degC", 150, 300,
               f"barrel zone {i + 1} setpoint", BARREL_SP[i]) for i in range(4)),
    setpoint("mould_setpoint", 104, "int16", 0.1, "degC", 20, 90, "mould setpoint", 50.0),
    setpoint("cycle_setpoint", 105, "uint16", 0.1, "s", 15, 60, "target cycle time", 28.0),
    command("run", 0, "1 = automatic production", default=True),
    status_bit("mould_closed", 0, "mould closed"),
    status_bit("heaters_ready", 1, "every barrel zone within ±5 °C"),
)
# fmt: on

FAULTS = {
    "heater_band_fail": "barrel zone 2 heater band fails: it falls ~40 °C below setpoint; "
    "trip 601 beyond 15 °C",
    "chiller_fail": "mould chiller fails: mould +3 °C a minute, rejects rise; trip 602 at 80 °C",
    "cooling_water_lost": "oil cooler water lost: oil +2 °C a minute; trip 603 at 65 °C",
    "check_ring_wear": "check ring wears: cushion −0.3 mm a minute, short shots; trip 604",
}

RATES = Rates(
    setup_s=120, idle_per_h=1.5, idle_s=180, fault_per_h=0.2, repair_s=600,
    maintenance_every_s=8 * 3600, maintenance_s=2400,
)  # fmt: skip


@dataclass(frozen=True)
class Imm:
    """Machine state."""

    cycle: Cycle
    barrel: tuple[float, ...] = (AMBIENT,) * 4
    nozzle: float = AMBIENT
    mould: float = AMBIENT
    oil: float = AMBIENT
    t_cycle: float = 0.0
    cycle_len: float = 28.0
    last_cycle: float = 0.0
    pressure: float = 0.0
    cushion: float = 0.0
    wear: float = 0.0
    shots: int = 0
    energy_kwh: float = 0.0
    power: float = 0.0
    short_shots: int = 0
    noise: tuple[float, float] = (0.0, 0.0)


def init(rng: random.Random) -> Imm:
    return Imm(Cycle(), shots=rng.randrange(100_000, 2_000_000))


def step(s: Imm, dt: float, inputs: Inputs, rng: random.Random) -> Imm:
    cmd, faults = inputs.commands, inputs.faults
    sps = [float(cmd[f"barrel{i + 1}_setpoint"]) for i in range(4)]
    devs = [abs(t - sp) for t, sp in zip(s.barrel, sps, strict=True)]
    trip = 0
    if "heater_band_fail" in faults and devs[1] > 15:
        trip = 601
    elif s.mould >= 80.0:
        trip = 602
    elif s.oil >= 65.0:
        trip = 603
    elif s.short_shots >= 5:
        trip = 604
    c = advance(s.cycle, dt, run=bool(cmd["run"]), ready=max(devs) <= 5.0, trip=trip,
                rates=RATES, rng=rng)  # fmt: skip
    heating = c.phase is not Phase.OFF
    running = c.phase is Phase.RUNNING
    barrel = []
    for i, (t, sp) in enumerate(zip(s.barrel, sps, strict=True)):
        target = sp if heating else AMBIENT
        if i == 1 and "heater_band_fail" in faults and heating:
            target = sp - 40.0
        barrel.append(first_order(t, target, 480.0 if heating else 2400.0, dt))
    nozzle = first_order(s.nozzle, sps[3] + 5.0 if heating else AMBIENT, 480.0, dt)
    mould_target = float(cmd["mould_setpoint"]) if running else AMBIENT + 5
    mould = first_order(s.mould, mould_target, 300.0, dt)
    if "chiller_fail" in faults and heating:
        mould = s.mould + 3.0 / 60 * dt
    oil = first_order(s.oil, 45.0 if running else AMBIENT + 5, 900.0, dt)
    if "cooling_water_lost" in faults and heating:
        oil = s.oil + 2.0 / 60 * dt
    wear = s.wear + (0.3 / 60 * dt if "check_ring_wear" in faults and running else 0.0)
    t_cycle, cycle_len = s.t_cycle, s.cycle_len
    shots, pressure, cushion, last_cycle = s.shots, s.pressure, s.cushion, s.last_cycle
    short_shots = s.short_shots
    if running:
        t_cycle += dt
        if t_cycle >= cycle_len:
            shots = counter_add(shots, 1)
            last_cycle = t_cycle
            t_cycle = 0.0
            cycle_len = float(cmd["cycle_setpoint"]) * (1 + gauss(rng, 0.01))
            cushion = max(0.0, 5.0 - wear + gauss(rng, 0.15))
            short = cushion < 1.0
            pressure = 950.0 * (0.8 if short else 1.0) + gauss(rng, 15.0)
            short_shots = short_shots + 1 if short else 0
            good = (not short and mould < 70.0 and max(devs) <= 10.0
                    and rng.random() >= 0.015)  # fmt: skip
            c = count_part(c, good)
    else:
        t_cycle = 0.0
    phase = t_cycle / max(cycle_len, 1.0)
    if running:
        power = 30.0 if phase < 0.08 else 16.0 if phase < 0.45 else 7.0
    elif c.phase in (Phase.SETUP,):
        power = 10.0
    elif heating:
        power = 3.0
    else:
        power = 0.0
    return Imm(
        cycle=c,
        barrel=tuple(barrel),
        nozzle=nozzle,
        mould=mould,
        oil=oil,
        t_cycle=t_cycle,
        cycle_len=cycle_len,
        last_cycle=last_cycle,
        pressure=pressure,
        cushion=cushion,
        wear=wear,
        shots=shots,
        energy_kwh=s.energy_kwh + power * dt / 3600.0,
        power=power,
        short_shots=short_shots,
        noise=(gauss(rng, 0.4), gauss(rng, 0.3)),
    )


def outputs(s: Imm) -> dict[str, Value]:
    c = s.cycle
    n = s.noise
    closed = c.phase is Phase.RUNNING and s.t_cycle / max(s.cycle_len, 1.0) < 0.8
    out: dict[str, Value] = {
        f"barrel{i + 1}_temp": clamp(t + n[0], 25.0, 300.0) for i, t in enumerate(s.barrel)
    }
    out |= {
        "state": int(c.phase),
        "alarm_code": c.alarm,
        "nozzle_temp": clamp(s.nozzle + n[1], 25.0, 300.0),
        "mould_temp": clamp(s.mould + n[1], 25.0, 100.0),
        "oil_temp": clamp(s.oil + n[1] * 0.3, 25.0, 80.0),
        "cycle_time": round(s.last_cycle, 3),
        "peak_pressure": round(max(0.0, s.pressure), 1),
        "cushion": clamp(s.cushion, 0.0, 20.0),
        "clamp_force": 1400.0 + n[0] * 10 if closed else 0.0,
        "power": clamp(s.power + (n[1] if s.power else 0.0), 0.0, 45.0),
        "shot_counter": s.shots,
        "good_parts": c.good,
        "rejected_parts": c.rejected,
        "run_seconds": int(c.run_s),
        "energy": s.energy_kwh,
        "mould_id": "PP-CLIP7",
        "mould_closed": closed,
        "heaters_ready": c.phase not in (Phase.OFF, Phase.SETUP),
    }
    return out


IMM = MachineType(
    kind="imm",
    title="Servo-hydraulic injection moulding machine (150 t)",
    signals=SIGNALS,
    init=init,
    step=step,
    outputs=outputs,
    probe="barrel3_temp",
    faults=FAULTS,
    ideal_cycle_s=27.0,  # one part at the rated speed (OEE)
    alarms={
        "mould_temp": (
            suggested_alarm(
                "mould_overheat",
                "medium",
                "mould too hot: chiller? (trip 602 at 80 °C)",
                "cetakan terlalu panas: chiller? (trip 602 pada 80 °C)",
                above=75,
                clear_below=70,
            ),
        ),
        "oil_temp": (
            suggested_alarm(
                "oil_overheat",
                "medium",
                "hydraulic oil too hot (trip 603 at 65 °C)",
                "oli hidrolik terlalu panas (trip 603 pada 65 °C)",
                above=60,
                clear_below=55,
            ),
        ),
    },
)

MODEL = Model(
    name="imm",
    description="injection moulding machine: barrel heat-up, 28 s cycles, shots, rejects",
    units=(Unit(1, "1", IMM),),
    default_port=5024,
    notes="Heat-up takes about 30 minutes at `--speed 1`. `energy` is an int32 (×0.01 kWh); "
    "`mould_id` an 8-character ASCII string in 4 registers (type string, length 4).",
)
