"""Writes through the gateway's write service to running simulators, read with the config
`gerbang sim config` prints (its `writable: true` and `min`/`max`), and the physics following
the written setpoint on the simulated clock.

The simulators run on a `FakeClock` that only the test moves, so "the machine follows" is
checked after a known amount of simulated time, never after a real wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from gateway.config.loader import parse_config_text
from gateway.model import DeviceState
from gateway.service import Gateway
from gateway.writes.service import Refused
from simulators.core.clock import FakeClock
from simulators.engine import Simulation
from simulators.export import Endpoint, sim_config
from simulators.frontends.modbus_server import ModbusFrontend
from simulators.frontends.opcua_server import OpcUaFrontend
from simulators.frontends.plc_server import PlcFrontend
from simulators.models import MODELS
from simulators.plc_map import plc_config
from tests.support.modbus_server import free_port
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


@dataclass
class Plant:
    """One simulator on a fake clock and the gateway reading it."""

    sim: Simulation
    clock: FakeClock
    gateway: Gateway

    def latest(self, device: str, signal: str) -> object:
        sample = self.gateway.board.latest(device).get(signal)
        return sample.value if sample is not None else None

    async def run_for(self, seconds: float, until: Callable[[], object]) -> None:
        """Move simulated time on by `seconds`, then wait until the gateway has read `until`."""
        self.clock.advance(seconds)
        await eventually(until, timeout=15)


@pytest.fixture
async def plant(request: pytest.FixtureRequest) -> AsyncIterator[Plant]:
    name, protocol = request.param
    clock = FakeClock()
    sim = Simulation(MODELS[name], clock, seed=1)
    port = free_port()
    frontend: ModbusFrontend | OpcUaFrontend | PlcFrontend
    if protocol == "opcua":
        frontend = OpcUaFrontend(sim, {u.unit_id: f"{name}-{u.name}" for u in sim.model.units})
        await frontend.start("127.0.0.1", port)
    elif protocol in ("s7", "mc"):
        frontend = PlcFrontend(sim, protocol)
        await frontend.start("127.0.0.1", port)
    else:
        frontend = ModbusFrontend(sim)
        await frontend.start_tcp("127.0.0.1", port)
    if isinstance(frontend, PlcFrontend):
        text = plc_config(MODELS[name], protocol, "127.0.0.1", frontend.port)
    else:
        text = sim_config(MODELS[name], Endpoint(protocol, port=port))
    text = text.replace("interval: 1s", "interval: 200ms")
    config = parse_config_text(
        "version: 1\ngateway: {id: t}\nmqtt: {enabled: false}\n" + text, "sim.yaml", env={}
    )
    gateway = Gateway(config)
    await gateway.start()
    try:
        for device in gateway.devices.values():
            await eventually(lambda d=device: d.status.state is DeviceState.ONLINE, timeout=15)
        yield Plant(sim, clock, gateway)
    finally:
        await gateway.stop(deadline=2)
        await frontend.stop()


@pytest.mark.parametrize(
    "plant",
    [("tofu", "modbus-tcp"), ("tofu", "opcua"), ("tofu", "s7"), ("tofu", "mc")],
    indirect=True,
)
async def test_the_boiler_pressure_follows_a_written_setpoint(plant: Plant) -> None:
    """Over S7 and MC too: the frontend hands a write to the machine, which holds it (before,
    the next copy of the register image put the old setpoint back 100 ms later)."""

    def pressure() -> float:
        value = plant.latest("tofu-boiler", "steam_pressure")
        return float(value) if isinstance(value, int | float) else -1.0

    await plant.run_for(480, lambda: pressure() > 1.6)  # fired up to its 2.0 bar setpoint
    written = await plant.gateway.writes.write(
        "tofu-boiler", "pressure_setpoint", 1.0, "technician"
    )
    assert written.read_back == pytest.approx(1.0)
    # A PLC frontend hands the write on at its next step (100 ms): wait for that, not longer.
    commands = plant.sim.units[1].commands
    await eventually(lambda: commands["pressure_setpoint"] == pytest.approx(1.0), timeout=5)
    await plant.run_for(480, lambda: 0.7 < pressure() < 1.1)  # the burner holds the new one
    assert plant.gateway.writes.record.latest(1)[0]["result"] == "ok"


@pytest.mark.parametrize("plant", [("tofu", "modbus-tcp")], indirect=True)
async def test_the_simulator_limits_are_the_gateway_limits(plant: Plant) -> None:
    with pytest.raises(Refused, match="above its max 3"):
        await plant.gateway.writes.write("tofu-boiler", "pressure_setpoint", 3.5, "technician")
    assert plant.sim.units[1].commands["pressure_setpoint"] == 2.0  # nothing reached it


@pytest.mark.parametrize("plant", [("furnace", "modbus-tcp"), ("furnace", "opcua")], indirect=True)
async def test_the_counter_reset_coil_holds_the_heat_counters_at_zero(plant: Plant) -> None:
    def heats() -> object:
        return plant.latest("furnace-1", "heat_number")

    await plant.run_for(80 * 60, lambda: heats() == 1)  # the first heat is tapped at ~70 min
    written = await plant.gateway.writes.write("furnace-1", "counter_reset", True, "technician")
    assert written.read_back is True
    await plant.run_for(1, lambda: heats() == 0 and plant.latest("furnace-1", "good_heats") == 0)
    await plant.gateway.writes.write("furnace-1", "counter_reset", False, "technician")
    tap = await plant.gateway.writes.write("furnace-1", "target_tap_temp", 1460, "technician")
    assert tap.read_back == 1460
    await plant.run_for(70 * 60, lambda: heats() == 1)  # counting again from zero
