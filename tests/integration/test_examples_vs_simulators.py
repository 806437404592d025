"""Every example config that names a bundled simulator (`gerbang sim run MODEL [--protocol P]`
in its header) reads that simulator clean: each of its devices, read once through the real
adapter of its protocol against `gerbang sim run MODEL --protocol P` in its own process, gets
every signal good, and a Modbus TCP example points at the simulator's own port. Modbus RTU
examples are read over TCP (the register map is what is checked; the transport is the same code
past the framer)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.adapter import AdapterContext
from gateway.config.loader import load_config
from gateway.config.models import ModbusTcpDevice
from gateway.protocols import Adapters
from simulators.models import get_model
from tests.support.mosquitto import accepts_tcp, free_port
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

SIM_RUN = [sys.executable, "-m", "gateway.cli", "sim", "run"]
SIM_PROTOCOL = {"modbus-rtu": "modbus-tcp"}
"""The simulator's protocol for an example's: an RTU map is served over TCP here."""
EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
NAMED = re.compile(r"^#.*\bgerbang sim run (\w+)(?: --protocol ([\w-]+))?", re.M)


def examples_naming_a_simulator() -> list[tuple[str, tuple[str, str]]]:
    """(example file, (model, simulator protocol)) for each example that names a simulator."""
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        match = NAMED.search(path.read_text())
        if match:
            found.append((path.name, (match.group(1), match.group(2) or "modbus-tcp")))
    return found


def test_the_first_hour_examples_name_their_simulator() -> None:
    names = {name for name, _ in examples_naming_a_simulator()}
    assert {"modbus-tcp-furnace.yaml", "looms-profile.yaml", "modbus-rtu-boiler.yaml"} <= names


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Iterator[int]:
    model, protocol = request.param
    port = free_port()
    proc = subprocess.Popen(
        [*SIM_RUN, model, "--protocol", SIM_PROTOCOL.get(protocol, protocol), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        assert proc.stderr is not None
        proc.stderr.close()


def at_port(device: Any, port: int) -> Any:
    """The device read from the simulator's port (a Modbus RTU map over TCP)."""
    if device.protocol != "modbus-rtu":
        return device.model_copy(update={"host": "127.0.0.1", "port": port})
    fields = device.model_dump(
        exclude={"serial_port", "baudrate", "parity", "stopbits", "bytesize"}
    )
    fields.update(protocol="modbus-tcp", host="127.0.0.1", port=port, profile=None)
    return ModbusTcpDevice.model_validate(fields)


@pytest.mark.parametrize(
    ("example", "simulator"),
    examples_naming_a_simulator(),
    indirect=["simulator"],
    ids=[name for name, _ in examples_naming_a_simulator()],
)
async def test_an_example_reads_its_simulator_clean(
    example: str, simulator: int, tmp_path: Path
) -> None:
    path = EXAMPLES / example
    model = get_model(NAMED.search(path.read_text()).group(1))  # type: ignore[union-attr]
    tcp = NAMED.search(path.read_text()).group(2) in (None, "modbus-tcp")  # type: ignore[union-attr]
    config = load_config(path, env={"SERIAL_PORT": "/dev/null"})
    assert config.devices, example
    await eventually(lambda: accepts_tcp("127.0.0.1", simulator), timeout=20)
    adapters = Adapters(AdapterContext(tmp_path))
    try:
        for device in config.devices:
            if device.protocol == "modbus-tcp" and tcp:
                assert device.port == model.default_port, f"{device.id}: not the simulator's port"
            target = at_port(device, simulator)
            samples = await adapters.get(target.protocol).test_read(target)
            bad = {s.signal: s.error for s in samples if s.quality != "good"}
            assert not bad, f"{example}: {device.id}: {bad}"
            assert {s.signal for s in samples} == {s.name for s in device.signals}
    finally:
        adapters.close()
