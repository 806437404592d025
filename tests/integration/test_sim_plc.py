"""The simulators served as S7 and MELSEC PLCs: `sim config --protocol s7|mc` is a config the
gateway accepts, and reading it through the real adapters gives the simulation's own values."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.adapter import AdapterContext
from gateway.config.loader import load_config, parse_config_text
from gateway.model import GOOD
from gateway.protocols import Adapters
from simulators.core.clock import FakeClock
from simulators.engine import Simulation
from simulators.export import device_id
from simulators.frontends.plc_server import PlcFrontend
from simulators.models import MODELS
from simulators.plc_map import plc_config, plc_signals

pytestmark = pytest.mark.integration

HEAD = "version: 1\ngateway: {id: gw}\nmqtt: {enabled: false}\n"


@pytest.mark.parametrize(
    ("name", "protocol"), [("furnace", "s7"), ("imm", "s7"), ("tofu", "mc"), ("loom", "mc")]
)
async def test_the_adapters_read_what_the_simulation_holds(
    name: str, protocol: str, tmp_path: Path
) -> None:
    model = MODELS[name]
    clock = FakeClock()
    sim = Simulation(model, clock, seed=3)
    clock.advance(600.0)  # ten simulated minutes in: values away from their start
    frontend = PlcFrontend(sim, protocol)
    await frontend.start("127.0.0.1", 0)
    adapters = Adapters(AdapterContext(state_dir=tmp_path))
    try:
        config = parse_config_text(
            HEAD + plc_config(model, protocol, "127.0.0.1", frontend.port), "sim.yaml"
        )
        assert [d.id for d in config.devices] == [device_id(model, u) for u in model.units]
        for device, unit in zip(config.devices, model.units, strict=True):
            samples = await adapters.get(protocol).test_read(device)
            mapped = {p.signal.name: p.signal for p in plc_signals(unit, protocol)}
            assert [s.signal for s in samples] == list(mapped)
            usim = sim.units[unit.unit_id]
            for sample in samples:
                signal = mapped[sample.signal]
                assert sample.quality is GOOD, (sample.signal, sample.error)
                expected = usim.values.get(signal.name, usim.commands.get(signal.name))
                if isinstance(expected, bool) or signal.type in ("bool", "string"):
                    assert sample.value == expected, signal.name
                elif signal.type == "float32":
                    assert math.isclose(sample.value, expected, rel_tol=1e-6), signal.name
                else:  # within one step of the register (the encoder truncates or rounds)
                    step = signal.scale + 1e-9
                    assert abs(sample.value - expected) <= step, signal.name
        assert frontend.requests > 0
    finally:
        adapters.close()
        await frontend.stop()


@pytest.mark.parametrize("protocol", ["s7", "mc"])
def test_sim_config_prints_a_valid_devices_entry(protocol: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sim", "config", "mixer", "--protocol", protocol],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"protocol: {protocol}" in out
    config = parse_config_text(HEAD + out, "mixer.yaml")
    assert config.devices[0].port == (10206 if protocol == "s7" else 5106)


@pytest.mark.parametrize(
    ("example", "name", "protocol"), [("s7-furnace", "furnace", "s7"), ("mc-tofu", "tofu", "mc")]
)
def test_the_examples_read_the_simulators_as_they_run(
    example: str, name: str, protocol: str
) -> None:
    path = Path(__file__).parents[2] / "config" / "examples" / f"{example}.yaml"
    shipped = load_config(path, env={})
    expected = parse_config_text(HEAD + plc_config(MODELS[name], protocol, "127.0.0.1", None))
    assert [d.model_dump() for d in shipped.devices] == [d.model_dump() for d in expected.devices]
