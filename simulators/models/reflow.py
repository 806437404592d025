"""SMT reflow oven: eight heated zones top and bottom, two cooling zones, N₂ (SIMULATORS.md M5).

Zones follow their setpoints with a first-order lag (warm-up τ 5 min: ready when every zone is
within ±3 °C), each board entering dips zone 1 and costs heater output. Boards arrive as a
Poisson process (at least 10 s apart, about every 50 s) and travel the 3 m oven at the conveyor
speed; at the exit each gets a virtual profile (peak, time above liquidus 217 °C) from the zone
temperatures, and is counted good when the peak is 230-255 °C and the TAL 45-90 s, else
rejected. The register map teaches block reads of arrays, float32 ABCD, and the 0x7FFF
sensor-open sentinel.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from simulators.core.machine import PHASE_DOC, Cycle, Phase, Rates, advance, count_part
from simulators.core.signals import clamp, counter_add, first_order, gauss, poisson_event
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
ZONES = 8
DEFAULT_SP = (150.0, 160.0, 170.0, 180.0, 190.0, 210.0, 245.0, 255.0)
OVEN_MM = 3000.0


def _zones() -> tuple[Signal, ...]:
    out: list[Signal] = []
    for i in range(ZONES):
        n = i + 1
        out.append(Signal(f"zone{n}_top_temp", "input", i, "int16", 0.1, "degC", 25, 300,
                          f"zone {n} top heater temperature"))  # fmt: skip
        out.append(Signal(f"zone{n}_bottom_temp", "input", 8 + i, "int16", 0.1, "degC", 25, 300,
                          f"zone {n} bottom heater temperature"))  # fmt: skip
        out.append(Signal(f"zone{n}_output", "input", 18 + i, "uint16", 0.1, "%", 0, 100,
                          f"zone {n} heater output"))  # fmt: skip
        out.append(setpoint(f"zone{n}_setpoint", 100 + i, "int16", 0.1, "degC", 25, 300,
                            f"zone {n} setpoint", DEFAULT_SP[i]))  # fmt: skip
    return tuple(out)


# fmt: off
SIGNALS = (
    *_zones(),
    Signal("cooling1_temp", "input", 16, "int16", 0.1, "degC", 25, 150, "cooling zone 1"),
    Signal("cooling2_temp", "input", 17, "int16", 0.1, "degC", 25, 150, "cooling zone 2"),
    Signal("conveyor_speed", "input", 26, "uint16", 1, "mm/min", 0, 1500, "conveyor speed"),
    Signal("o2_ppm", "input", 27, "uint16", 1, "ppm", 0, 25000, "residual oxygen (N₂ on: <1500)"),
    state(28, PHASE_DOC),
    Signal("status_word", "input", 29, "uint16", kind="status", hi=65535,
           description="b0 heaters, b1 conveyor, b2 board at entry, b3 board at exit, "
                       "b4 profile OK, b5 alarm"),
    alarm(30, "0 none, 401 zone deviation, 402 conveyor jam, 403 N₂ loss, 900 breakdown"),
    counter("boards_in", 31, "boards that entered"),
    counter("boards_out", 33, "boards that left (boards in oven = in - out)"),
    Signal("last_board_peak", "input", 35, "float32", 1, "degC", 0, 300,
           "peak temperature of the last board (<230: cold joint risk)"),
    Signal("last_board_tal", "input", 37, "float32", 1, "s", 0, 300,
           "time above liquidus (217 °C) of the last board"),
    counter("good_boards", 39, "boards with a profile in spec"),
    counter("rejected_boards", 41, "boards with a profile out of spec"),
    counter("run_seconds", 43, "time in running", "s"),
    counter("energy", 45, "heater energy ×0.01", "kWh"),
    setpoint("conveyor_setpoint", 108, "uint16", 1, "mm/min", 300, 1500, "conveyor speed",
             800),
    command("run", 0, "1 = heaters and conveyor on", default=True),
    command("n2", 1, "1 = nitrogen on", default=True),
    status_bit("board_at_entry", 0, "a board is at the entry sensor"),
    status_bit("board_at_exit", 1, "a board is at the exit sensor"),
)
# fmt: on

# The energy counter holds hundredths of a kWh.
SIGNALS = tuple(replace(s, scale=0.01) if s.name == "energy" else s for s in SIGNALS)

FAULTS = {
    "zone7_heater_fail": "zone 7 heater fails: it sags ~20 °C at 100 % output; trip 401 "
    "beyond 15 °C, boards come out with a low peak (rejected)",
    "conveyor_jam": "the conveyor stops while boards keep entering; trip 402 at 18 boards inside",
    "n2_loss": "nitrogen supply lost: O₂ rises towards air; trip 403 above 5000 ppm",
}

RATES = Rates(
    setup_s=60, idle_per_h=2, idle_s=120, fault_per_h=0.1, repair_s=300,
    maintenance_every_s=8 * 3600, maintenance_s=900,
)  # fmt: skip


@dataclass(frozen=True)
class Oven:
    """Oven state."""

    cycle: Cycle
    zones: tuple[float, ...] = (AMBIENT,) * ZONES
    outputs: tuple[float, ...] = (0.0,) * ZONES
    cooling: tuple[float, float] = (AMBIENT, AMBIENT)
    conveyor: float = 0.0
    o2: float = 20900.0
    boards: tuple[float, ...] = ()
    """Positions (mm from the entry) of the boards in the oven."""
    boards_in: int = 0
    boards_out: int = 0
    peak: float = 0.0
    tal: float = 0.0
    energy_kwh: float = 0.0
    entry_s: float = 99.0
    exit_s: float = 99.0
    noise: tuple[float, ...] = (0.0,) * ZONES


def init(_rng: random.Random) -> Oven:
    return Oven(Cycle())


def step(s: Oven, dt: float, inputs: Inputs, rng: random.Random) -> Oven:
    cmd, faults = inputs.commands, inputs.faults
    sps = [float(cmd[f"zone{i + 1}_setpoint"]) for i in range(ZONES)]
    jam = "conveyor_jam" in faults
    trip = 0
    if "zone7_heater_fail" in faults and s.zones[6] < sps[6] - 15:
        trip = 401
    elif len(s.boards) >= 18:
        trip = 402
    elif s.o2 > 5000 and s.cycle.phase is not Phase.SETUP:
        trip = 403
    ready = all(abs(t - sp) <= 3.0 for t, sp in zip(s.zones, sps, strict=True))
    c = advance(s.cycle, dt, run=bool(cmd["run"]), ready=ready, trip=trip, rates=RATES, rng=rng)
    heating = c.phase is not Phase.OFF
    running = c.phase is Phase.RUNNING
    zones, outs = [], []
    for i, (t, sp) in enumerate(zip(s.zones, sps, strict=True)):
        target = sp if heating else AMBIENT
        if i == 6 and "zone7_heater_fail" in faults and heating:
            target = sp - 20.0
        t = first_order(t, target, 300.0 if heating else 900.0, dt)
        out = clamp(55.0 + (sp - t) * 8.0, 0.0, 100.0) if heating else 0.0
        if i == 6 and "zone7_heater_fail" in faults and heating:
            out = 100.0
        zones.append(t)
        outs.append(out)
    conveyor = first_order(
        s.conveyor, float(cmd["conveyor_setpoint"]) if running and not jam else 0.0, 2.0, dt
    )
    boards = [p + conveyor / 60.0 * dt for p in s.boards]
    boards_in, boards_out, peak, tal = s.boards_in, s.boards_out, s.peak, s.tal
    entry_s, exit_s = s.entry_s + dt, s.exit_s + dt
    # The upstream loader waits 10 s after a board before it may send the next (SMEMA).
    if running and s.entry_s >= 10.0 and poisson_event(rng, 1 / 40.0, dt):
        boards.append(0.0)
        boards_in = counter_add(boards_in, 1)
        zones[0] -= rng.uniform(1.0, 3.0)
        entry_s = 0.0
    if boards and boards[0] >= OVEN_MM:
        boards.pop(0)
        boards_out = counter_add(boards_out, 1)
        exit_s = 0.0
        peak = (zones[6] + zones[7]) / 2 - 12.0 + gauss(rng, 1.5)
        transit = OVEN_MM / max(conveyor, 1.0) * 60.0
        tal = max(0.0, (peak - 217.0) / 30.0 * transit * 0.45 + gauss(rng, 2.0))
        c = count_part(c, good=230.0 <= peak <= 255.0 and 45.0 <= tal <= 90.0)
    n2 = bool(cmd["n2"]) and "n2_loss" not in faults and c.phase is not Phase.OFF
    o2 = first_order(s.o2, 1000.0 if n2 else 20900.0, 60.0, dt)
    cool_target = AMBIENT + 0.25 * (zones[7] - AMBIENT) if conveyor > 1 or heating else AMBIENT
    cooling = (first_order(s.cooling[0], cool_target, 120.0, dt),
               first_order(s.cooling[1], cool_target * 0.8, 120.0, dt))  # fmt: skip
    power_kw = sum(outs) / 100.0 * 6.0
    return Oven(
        cycle=c,
        zones=tuple(zones),
        outputs=tuple(outs),
        cooling=cooling,
        conveyor=conveyor,
        o2=o2,
        boards=tuple(boards),
        boards_in=boards_in,
        boards_out=boards_out,
        peak=peak,
        tal=tal,
        energy_kwh=s.energy_kwh + power_kw * dt / 3600.0,
        entry_s=entry_s,
        exit_s=exit_s,
        noise=tuple(gauss(rng, 0.3) for _ in range(ZONES)),
    )


def outputs(s: Oven) -> dict[str, float | int | bool]:
    c = s.cycle
    out: dict[str, float | int | bool] = {}
    for i in range(ZONES):
        n = i + 1
        top = s.zones[i] + s.noise[i]
        out[f"zone{n}_top_temp"] = clamp(top, 25.0, 300.0)
        out[f"zone{n}_bottom_temp"] = clamp(top - 2.0 + s.noise[-1 - i], 25.0, 300.0)
        out[f"zone{n}_output"] = s.outputs[i]
    profile_ok = 230.0 <= s.peak <= 255.0 and 45.0 <= s.tal <= 90.0
    bits = [c.phase not in (Phase.OFF, Phase.FAULT), s.conveyor > 1, s.entry_s < 2.0,
            s.exit_s < 2.0, profile_ok, c.phase is Phase.FAULT]  # fmt: skip
    out |= {
        "cooling1_temp": clamp(s.cooling[0], 25.0, 150.0),
        "cooling2_temp": clamp(s.cooling[1], 25.0, 150.0),
        "conveyor_speed": clamp(s.conveyor, 0.0, 1500.0),
        "o2_ppm": clamp(s.o2 + s.noise[0] * 20, 0.0, 25000.0),
        "state": int(c.phase),
        "status_word": sum(1 << i for i, bit in enumerate(bits) if bit),
        "alarm_code": c.alarm,
        "boards_in": s.boards_in,
        "boards_out": s.boards_out,
        "last_board_peak": round(s.peak, 2),
        "last_board_tal": round(s.tal, 2),
        "good_boards": c.good,
        "rejected_boards": c.rejected,
        "run_seconds": int(c.run_s),
        "energy": s.energy_kwh,
        "board_at_entry": s.entry_s < 2.0,
        "board_at_exit": s.exit_s < 2.0,
    }
    return out


OVEN = MachineType(
    kind="reflow",
    title="Convection reflow oven (8 zones, N₂, SAC305 profile)",
    signals=SIGNALS,
    init=init,
    step=step,
    outputs=outputs,
    probe="zone7_top_temp",
    faults=FAULTS,
    ideal_cycle_s=45.0,  # one part at the rated speed (OEE)
    alarms={
        "alarm_code": (
            suggested_alarm(
                "conveyor_jam",
                "high",
                "conveyor jammed: boards pile up in the oven (trip 402)",
                "konveyor macet: papan menumpuk di dalam oven (trip 402)",
                equals=402,
            ),
            suggested_alarm(
                "n2_loss",
                "medium",
                "nitrogen lost: residual oxygen above 5000 ppm (trip 403)",
                "nitrogen hilang: oksigen sisa di atas 5000 ppm (trip 403)",
                equals=403,
            ),
        ),
    },
)

MODEL = Model(
    name="reflow",
    description="SMT reflow oven: 8 zones, boards in/out, per-board peak and TAL (float32)",
    units=(Unit(1, "oven", OVEN),),
    default_port=5022,
    notes="Zone temperatures are contiguous arrays (input 0-7 top, 8-15 bottom, 18-25 heater "
    "output): read each array in one request. Board profiles are float32, big-endian (ABCD). "
    "A broken thermocouple (`out_of_range`) reads 0x7FFF = 3276.7 °C.",
)
