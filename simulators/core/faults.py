"""The generic faults every machine offers, next to its own machine-specific ones.

Sensor faults are overlays applied to the machine's `probe` signal after the model step, so
the model's own truth stays clean; communication faults are acted on by the protocol frontend.
Machine-specific faults (overheat, jam, thread break...) are handed to the model's `step`.
"""

from __future__ import annotations

from collections.abc import Mapping

SENSOR_FAULTS: dict[str, str] = {
    "stuck": "sensor stuck: the probe signal freezes at its last value (quality stays good)",
    "noise": "noise burst: the probe signal gets Gaussian noise of 5 % of its range",
    "out_of_range": (
        "value out of range: the probe reads the sensor-open sentinel "
        "(0x7FFF for int16, 0xFFFF for uint16, 0xFFFFFFFF for 32 bits)"
    ),
}
COMM_FAULTS: dict[str, str] = {
    "silent": "device stops answering: no response at all (gateway: device error, no answer)",
    "slow": "slow answers: every response is delayed 0.7 s (gateway: poll latency ≥ 700 ms)",
    "exception": (
        "Modbus exceptions: every read answers exception 04, server device failure "
        "(gateway: device error naming exception 04)"
    ),
}
GENERIC_FAULTS: dict[str, str] = {**SENSOR_FAULTS, **COMM_FAULTS}

SLOW_DELAY_S = 0.7
FAULT_COIL_BASE = 1000
"""Fault control coils: coil 1000 + n switches fault n of the unit's fault list on (1) / off.
They answer even while a communication fault is on, so that it can be cleared."""
RANDOM_FAULT_MEDIAN_S = 60.0
"""A random fault clears by itself after about this long (simulated seconds, log-normal)."""


def fault_names(machine_faults: Mapping[str, str]) -> list[str]:
    """The unit's fault list in coil order: the generic faults, then the machine's own."""
    return [*GENERIC_FAULTS, *machine_faults]
