"""Every simulator over OPC UA: the node tree, units, ranges, a refused write, the fault method
and a sensor fault, seen by a client not built on asyncua (python-opcua, one process per
model, all at once)."""

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


async def test_every_model_node_tree_units_ranges_methods_and_sensor_fault() -> None:
    frontends: dict[str, OpcUaFrontend] = {}
    for seed, (name, model) in enumerate(MODELS.items()):
        sim = Simulation(model, RealClock(30.0), seed=seed)
        frontends[name] = OpcUaFrontend(sim, {u.unit_id: device_id(model, u) for u in model.units})
    try:
        await asyncio.gather(*(f.start("127.0.0.1", free_port()) for f in frontends.values()))
        seen = dict(
            zip(
                frontends,
                await asyncio.gather(*(probe_model(n, f) for n, f in frontends.items())),
                strict=True,
            )
        )
    finally:
        await asyncio.gather(*(f.stop() for f in frontends.values()))
    for name, frontend in frontends.items():
        check(name, frontend, seen[name])


async def probe_model(name: str, frontend: OpcUaFrontend) -> dict:
    machine = MODELS[name].units[0].machine
    setpoint = next(s for s in machine.signals if s.kind == "setpoint")
    device = frontend.devices[MODELS[name].units[0].unit_id]
    return await probe(frontend.endpoint, device, machine.probe, setpoint.name)


def check(name: str, frontend: OpcUaFrontend, seen: dict) -> None:
    """What the client saw of model `name` matches its declaration."""
    model, sim, devices = MODELS[name], frontend.sim, frontend.devices
    unit = model.units[0]
    probe_signal = unit.machine.signal(unit.machine.probe)
    setpoint = next(s for s in unit.machine.signals if s.kind == "setpoint")
    assert set(seen["tree"]) == set(devices.values()), name
    for u in model.units:
        values = seen["tree"][devices[u.unit_id]]
        assert set(values) == {s.name for s in u.machine.signals}, name
        for s in u.machine.signals:
            value = values[s.name]
            if s.kind in ("measure", "setpoint") and s.type != "string":
                assert isinstance(value, float), (name, s.name, value)
                assert s.lo <= value <= s.hi, (name, s.name, value)
    assert seen["eurange"] == [probe_signal.lo, probe_signal.hi], name
    units = eu_information(probe_signal.unit or "")
    assert seen["units"] == [units.DisplayName.Text, units.UnitId], name
    codes = {"bar": "BAR", "degC": "CEL", "N": "NEW", "A": "AMP"}
    code = codes.get(probe_signal.unit or "")  # pH has no UNECE code: UnitId -1
    assert units.UnitId == (unit_id(code) if code else -1), name
    assert seen["refused"] == "BadOutOfRange", name
    assert sim.units[unit.unit_id].commands[setpoint.name] == setpoint.default, name
    assert seen["injected"] is True, name
    assert seen["after"] == "BadSensorFailure", name
    assert (unit.unit_id, "inject", "out_of_range") in [e[1:] for e in sim.events], name
