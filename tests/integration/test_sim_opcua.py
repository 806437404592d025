"""The simulators over OPC UA: the node tree, units, ranges, methods and a sensor fault, seen
by a client not built on asyncua (python-opcua, in its own process)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from simulators.core.clock import RealClock
from simulators.engine import Simulation
from simulators.export import device_id
from simulators.frontends.opcua_server import OpcUaFrontend, eu_information, unit_id
from simulators.models import MODELS
from tests.support.modbus_server import free_port

pytestmark = pytest.mark.integration

PROBE = Path(__file__).resolve().parents[1] / "support" / "opcua_probe.py"


async def probe(endpoint: str, device: str, signal: str, setpoint: str) -> dict:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PROBE), endpoint, device, signal, setpoint,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out)


@pytest.mark.parametrize("name", ["tofu", "reflow"])
async def test_node_tree_units_ranges_methods_and_sensor_fault(name) -> None:
    model = MODELS[name]
    sim = Simulation(model, RealClock(30.0), seed=1)
    devices = {u.unit_id: device_id(model, u) for u in model.units}
    frontend = OpcUaFrontend(sim, devices)
    await frontend.start("127.0.0.1", free_port())
    try:
        unit = model.units[0]
        machine = unit.machine
        probe_signal = machine.signal(machine.probe)
        setpoint = next(s for s in machine.signals if s.kind == "setpoint")
        device = devices[unit.unit_id]
        seen = await probe(frontend.endpoint, device, probe_signal.name, setpoint.name)
    finally:
        await frontend.stop()
    assert set(seen["tree"]) == set(devices.values())
    for u in model.units:
        values = seen["tree"][devices[u.unit_id]]
        assert set(values) == {s.name for s in u.machine.signals}
        for s in u.machine.signals:
            value = values[s.name]
            if s.kind in ("measure", "setpoint"):
                assert isinstance(value, float) and s.lo <= value <= s.hi, (s.name, value)
    assert seen["eurange"] == [probe_signal.lo, probe_signal.hi]
    units = eu_information(probe_signal.unit or "")
    assert seen["units"] == [units.DisplayName.Text, units.UnitId]
    assert units.UnitId == unit_id({"bar": "BAR", "degC": "CEL"}[probe_signal.unit or ""])
    assert seen["refused"] == "BadOutOfRange"
    assert sim.units[unit.unit_id].commands[setpoint.name] == setpoint.default
    assert seen["injected"] is True
    assert seen["after"] == "BadSensorFailure"
    assert (unit.unit_id, "inject", "out_of_range") in [e[1:] for e in sim.events]
