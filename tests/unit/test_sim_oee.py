"""The simulators' OEE: the `oee:` blocks `sim config --oee` prints, and the truth they keep.

The blocks must pass the gateway's own validator for every model and protocol; the truth must
add up (every simulated second in exactly one state) and follow a fault the test injects.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.config.loader import parse_config_text
from simulators.core.clock import FakeClock
from simulators.core.machine import Phase
from simulators.engine import Simulation
from simulators.export import Endpoint, sim_config
from simulators.models import MODELS, get_model
from simulators.oee import PLANNED, RUNNING, device_oee, truth, write_truth


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("protocol", ["modbus-tcp", "opcua"])
def test_every_model_prints_an_oee_config_the_gateway_accepts(name: str, protocol: str) -> None:
    model = get_model(name)
    text = sim_config(model, Endpoint(protocol), full=True, oee=True, speed=10)
    config = parse_config_text(text, f"{name}.yaml")
    assert config.oee is not None and [s.name for s in config.oee.shifts] == [
        "pagi",
        "siang",
        "malam",
    ]
    for device, unit in zip(config.devices, model.units, strict=True):
        ideal = unit.machine.ideal_cycle_s
        if device.oee is None:  # only a machine that counts no parts has none
            assert device_oee(unit.machine) is None
            continue
        assert ideal is not None
        assert device.oee.ideal_cycle_time == pytest.approx(ideal / 10, rel=1e-3)
        assert device.oee.state is not None
        assert device.oee.state.running == list(RUNNING) == [3]
        assert device.oee.state.planned == list(PLANNED) == [1, 5]
        assert device.oee.good_count and device.oee.good_count.startswith("good")
        assert device.oee.reject_count and device.oee.reject_count.startswith("rejected")
    assert sum(d.oee is not None for d in config.devices) >= len(config.devices) - 1


def test_a_bare_device_list_carries_the_site_block_as_a_comment() -> None:
    text = sim_config(get_model("imm"), Endpoint(), oee=True)
    assert "# oee:  # the site's shifts" in text and "\n    oee:\n" in text
    plain = sim_config(get_model("imm"), Endpoint())
    assert "oee" not in plain, "without --oee the entries stay as they were"


def test_truth_accounts_every_second_and_follows_a_fault(tmp_path: Path) -> None:
    clock = FakeClock()
    sim = Simulation(get_model("tofu"), clock, seed=3)
    for _ in range(30):  # 30 simulated minutes
        clock.advance(60)
        sim.advance()
    before = truth(sim)["devices"]["tofu-grinder"]
    assert sum(before["seconds"].values()) == pytest.approx(sim.t, abs=0.01)
    assert before["seconds"]["setup"] > 0 and before["run_s"] > 0
    assert before["planned_s"] == pytest.approx(sim.t - before["planned_stop_s"], abs=0.01)
    assert before["availability"] == pytest.approx(before["run_s"] / before["planned_s"])
    assert before["total"] == before["good"] + before["rejected"] > 0
    grinder = sim.units[2]

    def step_until(phase: Phase, limit_s: int) -> None:
        for _ in range(limit_s):
            if grinder.state.cycle.phase is phase:
                return
            clock.advance(1)
            sim.advance()
        raise AssertionError(f"the grinder never went {phase.name.lower()}")

    step_until(Phase.RUNNING, 3600)  # a jam needs a turning grinder
    before = truth(sim)["devices"]["tofu-grinder"]
    sim.inject("jam", 2)
    step_until(Phase.FAULT, 60)
    for _ in range(60):
        clock.advance(1)
        sim.advance()
    after = truth(sim)["devices"]["tofu-grinder"]
    assert after["state"] == Phase.FAULT.name.lower() and after["faults"] == ["jam"]
    assert after["downtime_s"] >= before["downtime_s"] + 50, "jammed, then tripped: a loss"
    assert after["availability"] < before["availability"]

    path = tmp_path / "truth.json"
    write_truth(sim, path)
    written = orjson.loads(path.read_bytes())
    assert written["model"] == "tofu" and written["t"] == pytest.approx(sim.t)
    assert written["devices"]["tofu-grinder"]["downtime_s"] == after["downtime_s"]
    assert "total" not in written["devices"]["tofu-boiler"], "the boiler counts no parts"
