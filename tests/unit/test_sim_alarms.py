"""The alarms `gerbang sim config` suggests: every one is a valid gateway rule, stays quiet
through a fault-free simulated hour, and trips when its fault is injected (the gateway's own
alarm engine, fed the simulator's values on a fake clock)."""

from __future__ import annotations

import pytest

from gateway.alarms.engine import AlarmEngine
from gateway.config.loader import parse_config_text
from gateway.model import GOOD, Batch, Sample
from simulators.core.clock import FakeClock
from simulators.engine import Simulation
from simulators.export import Endpoint, device_id, sim_config
from simulators.models import MODELS

FAULT_OF = {
    ("imm", "mould_overheat"): "chiller_fail",
    ("imm", "oil_overheat"): "cooling_water_lost",
    ("mixer", "overheat"): "heater_stuck",
}
"""The fault that trips an alarm, where its name differs from the alarm's."""
EXPECTED = {"furnace": "overheat", "tofu": "overpressure", "reflow": "conveyor_jam"}
"""The faults the issue names (overheat, jam, pressure): their models suggest an alarm."""


class Feed:
    """A model's simulation feeding the alarm engine built from its `sim config`."""

    def __init__(self, name: str, seed: int = 3) -> None:
        model = MODELS[name]
        config = parse_config_text(sim_config(model, Endpoint(), full=True), "sim.yaml", env={})
        self.model = model
        self.clock = FakeClock()
        self.sim = Simulation(model, self.clock, seed=seed)
        self.engine = AlarmEngine(config.devices, lambda: int(self.clock.now() * 1000))
        self.raised: list[tuple[str, str]] = []

    def run(self, seconds: float, step: float = 2.0) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            self.sim.advance()
            for unit in self.model.units:
                values = self.sim.units[unit.unit_id].values
                samples = [Sample(k, v, GOOD, 0) for k, v in values.items()]
                batch = Batch(device_id(self.model, unit), 0, samples)
                for event in self.engine.evaluate(batch):
                    if event.state == "active":
                        self.raised.append((event.device, event.alarm))


def rules() -> list[tuple[str, int, str]]:
    return [
        (name, unit.unit_id, str(rule["name"]))
        for name, model in MODELS.items()
        for unit in model.units
        for signal_rules in unit.machine.alarms.values()
        for rule in signal_rules
    ]


def test_the_faults_of_the_issue_have_alarms() -> None:
    suggested = {(name, alarm) for name, _, alarm in rules()}
    for name, alarm in EXPECTED.items():
        assert (name, alarm) in suggested
    assert ("tofu", "jam") in suggested  # the soy grinder
    assert {name for name, _, _ in rules()} == set(MODELS), "every model suggests alarms"


@pytest.mark.parametrize("name", list(MODELS))
def test_no_alarm_in_a_fault_free_hour(name: str) -> None:
    feed = Feed(name)
    feed.run(3600)
    assert feed.raised == []


@pytest.mark.parametrize(("name", "unit_id", "alarm"), rules())
def test_each_suggested_alarm_trips_on_its_fault(name: str, unit_id: int, alarm: str) -> None:
    feed = Feed(name)
    feed.run(1800, step=30)  # warm up: past setup, running
    unit = next(u for u in feed.model.units if u.unit_id == unit_id)
    fault = FAULT_OF.get((name, alarm), alarm)
    assert fault in unit.machine.faults
    assert feed.raised == []
    feed.sim.inject(fault, unit_id)
    feed.run(1200)
    assert (device_id(feed.model, unit), alarm) in feed.raised, feed.raised
