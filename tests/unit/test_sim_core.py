"""Pure parts of the simulators: signal primitives, register encoding, the shared state machine,
and the declaration-derived outputs (`sim config` validates, docs are up to date)."""

from __future__ import annotations

import math
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config.loader import parse_config_text
from simulators.core import signals
from simulators.core.machine import Cycle, Phase, Rates, advance
from simulators.core.spec import Signal
from simulators.engine import encode, sentinel
from simulators.export import Endpoint, describe, describe_index, sim_config
from simulators.models import MODELS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulators"


@given(st.floats(-500, 500), st.floats(-500, 500), st.floats(0.1, 1000), st.floats(0.001, 10))
def test_first_order_moves_towards_the_target_without_overshoot(x, target, tau, dt) -> None:
    y = signals.first_order(x, target, tau, dt)
    assert min(x, target) - 1e-9 <= y <= max(x, target) + 1e-9
    assert abs(y - target) <= abs(x - target) + 1e-9


def test_hysteresis_switches_only_outside_the_band() -> None:
    assert signals.hysteresis(False, 1.7, 1.8, 2.0) is True
    assert signals.hysteresis(True, 1.9, 1.8, 2.0) is True
    assert signals.hysteresis(False, 1.9, 1.8, 2.0) is False
    assert signals.hysteresis(True, 2.0, 1.8, 2.0) is False


@given(st.integers(0, 2**32 - 1), st.integers(0, 1000))
def test_counters_wrap_at_32_bits(value, n) -> None:
    assert signals.counter_add(value, n) == (value + n) % 2**32


def test_poisson_event_rate_is_about_right() -> None:
    rng = random.Random(1)
    hits = sum(signals.poisson_event(rng, 0.5, 0.1) for _ in range(100_000))
    assert 4500 < hits < 5300  # 1 - exp(-0.05) = 4.9 %


@pytest.mark.parametrize(
    ("signal", "value", "registers"),
    [
        (Signal("t", "input", 0, "int16", 0.1), -12.3, [(-123) & 0xFFFF]),
        (Signal("t", "input", 0, "int16", 0.1), 5000.0, [32767]),  # clamped, not wrapped
        (Signal("p", "input", 0, "uint16", 0.01), 1.85, [185]),
        (Signal("n", "input", 0, "uint32", kind="counter"), 2**32 + 5, [0, 5]),  # wraps
        (Signal("n", "input", 0, "uint32", kind="counter", word_order="little"), 65537, [1, 1]),
        (Signal("n", "input", 0, "uint32", word_order="little"), 0x12345678, [0x5678, 0x1234]),
        (
            Signal("f", "input", 0, "float32"),
            1.5,
            list(struct.unpack(">HH", struct.pack(">f", 1.5))),
        ),
    ],
)
def test_encode_follows_the_declaration(signal, value, registers) -> None:
    assert encode(signal, value) == registers


def test_sentinels() -> None:
    assert sentinel(Signal("t", "input", 0, "int16", 0.1)) == [0x7FFF]
    assert sentinel(Signal("n", "input", 0, "uint32")) == [0xFFFF, 0xFFFF]
    hi, lo = sentinel(Signal("f", "input", 0, "float32"))
    assert math.isnan(struct.unpack(">f", struct.pack(">HH", hi, lo))[0])


def test_state_machine_runs_stops_and_recovers() -> None:
    rng = random.Random(3)
    rates = Rates(setup_s=10, idle_per_h=20, idle_s=30, fault_per_h=10, repair_s=60)
    c = Cycle()
    seen = set()
    for _ in range(20 * 3600):
        c = advance(c, 0.1, run=True, ready=True, trip=0, rates=rates, rng=rng)
        seen.add(c.phase)
    assert seen == {Phase.SETUP, Phase.RUNNING, Phase.IDLE, Phase.FAULT}
    off = advance(c, 0.1, run=False, ready=True, trip=0, rates=rates, rng=rng)
    assert off.phase in (Phase.OFF, Phase.FAULT)
    tripped = advance(Cycle(Phase.RUNNING), 0.1, run=True, ready=True, trip=201, rates=rates,
                      rng=rng)  # fmt: skip
    assert (tripped.phase, tripped.alarm) == (Phase.FAULT, 201)


def test_maintenance_comes_after_its_run_time() -> None:
    rates = Rates(idle_per_h=0, fault_per_h=0, maintenance_every_s=100, maintenance_s=50)
    c = Cycle(Phase.RUNNING)
    rng = random.Random(0)
    phases = []
    for _ in range(2000):
        c = advance(c, 0.1, run=True, ready=True, trip=0, rates=rates, rng=rng)
        phases.append(c.phase)
    assert Phase.MAINTENANCE in phases
    assert phases[-1] in (Phase.RUNNING, Phase.MAINTENANCE)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("protocol", ["modbus-tcp", "modbus-rtu", "opcua"])
def test_sim_config_is_a_valid_gateway_config(name, protocol) -> None:
    model = MODELS[name]
    text = sim_config(model, Endpoint(protocol, serial_port="/dev/ttyUSB0"), full=True)
    config = parse_config_text(text, "sim-config.yaml", env={})
    assert len(config.devices) == len(model.units)
    declared = {s.name for u in model.units for s in u.machine.signals}
    assert {s.name for d in config.devices for s in d.signals} == declared
    # The `devices:` part alone, under a config header, as a trainee would paste it.
    bare = sim_config(model, Endpoint(protocol, serial_port="/dev/ttyUSB0"))
    assert bare.startswith("devices:")
    parse_config_text("version: 1\ngateway: {id: t}\n" + bare, "pasted.yaml", env={})


@pytest.mark.parametrize("name", list(MODELS))
def test_register_map_docs_are_generated_and_up_to_date(name) -> None:
    doc = DOCS / f"{name}.md"
    assert doc.exists(), f"missing {doc}: run `make sim-docs`"
    assert doc.read_text() == describe(MODELS[name]), f"{doc} is stale: run `make sim-docs`"


def test_the_index_of_the_simulators_is_up_to_date() -> None:
    index = DOCS / "README.md"
    assert index.read_text() == describe_index(list(MODELS.values())), "run `make sim-docs`"
    for name in MODELS:
        assert f"]({name}.md)" in index.read_text()


def test_every_model_declares_enough_signals_and_no_overlaps() -> None:
    for model in MODELS.values():
        for unit in model.units:
            signals_ = unit.machine.signals
            assert len([s for s in signals_ if s.unit]) >= 5, f"{model.name}/{unit.name}"
            used: dict[tuple[str, int], str] = {}
            for s in signals_:
                for a in range(s.address, s.address + s.size):
                    assert (s.table, a) not in used, f"{s.name} overlaps {used[(s.table, a)]}"
                    used[(s.table, a)] = s.name
            names = [s.name for s in signals_]
            assert len(names) == len(set(names))
            assert {"state", "alarm_code"} <= set(names)
