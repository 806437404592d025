"""The simulators as real Modbus servers, read by the real gateway with the config that
`gerbang sim config` prints, by `mbpoll`, and with every communication fault injected.

Simulated time runs fast (×30) so that machines leave setup and counters move within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from gateway.config.loader import parse_config_text
from gateway.model import GOOD, DeviceState
from gateway.service import Gateway
from simulators.core.clock import RealClock
from simulators.core.faults import FAULT_COIL_BASE, SLOW_DELAY_S
from simulators.engine import Simulation
from simulators.export import Endpoint, device_id, sim_config
from simulators.frontends.modbus_server import ModbusFrontend, pty_pair
from simulators.frontends.opcua_server import OpcUaFrontend
from simulators.models import MODELS
from tests.support.collect import CollectingSink
from tests.support.modbus_server import free_port
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

SPEED = 30.0


class Running:
    """Simulators and gateways a test started; all stopped at the end."""

    def __init__(self) -> None:
        self.frontends: list[ModbusFrontend | OpcUaFrontend] = []
        self.gateways: list[Gateway] = []
        self.sink = CollectingSink()

    async def simulator(self, name: str, **kw) -> tuple[Simulation, int]:
        sim = Simulation(MODELS[name], RealClock(SPEED), seed=1, **kw)
        frontend = ModbusFrontend(sim)
        port = free_port()
        await frontend.start_tcp("127.0.0.1", port)
        self.frontends.append(frontend)
        return sim, port

    async def gateway(self, config_text: str) -> Gateway:
        config = parse_config_text(config_text, "sim-config.yaml", env={})
        config.mqtt.enabled = False
        gateway = Gateway(config)
        gateway.sinks.append(self.sink)
        gateway.pipeline.sinks.append(self.sink)
        await gateway.start()
        self.gateways.append(gateway)
        return gateway


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    r = Running()
    yield r
    for gateway in r.gateways:
        await gateway.stop(deadline=2)
    for frontend in r.frontends:
        await frontend.stop()


def header() -> str:
    return "version: 1\ngateway: {id: test}\nmqtt: {enabled: false}\n"


def devices_part(text: str) -> str:
    """`sim config` output without its `devices:` line, to join several models' entries."""
    return text.split("\n", 1)[1]


@pytest.mark.parametrize("protocol", ["modbus-tcp", "modbus-rtu", "opcua"])
async def test_gateway_reads_every_model_with_sim_config(running, protocol) -> None:
    text = header() + "devices:\n"
    async with contextlib.AsyncExitStack() as ptys:
        if protocol == "opcua":
            # Every model's OPC UA server, read through the gateway's OPC UA adapter (polled, so
            # that each batch holds every signal, as the checks below expect).
            servers = []
            for model in MODELS.values():
                sim = Simulation(model, RealClock(SPEED), seed=1)
                frontend = OpcUaFrontend(sim, {u.unit_id: device_id(model, u) for u in model.units})
                servers.append((frontend, free_port()))
                entry = sim_config(model, Endpoint("opcua", port=servers[-1][1]))
                text += devices_part(entry).replace(
                    "    protocol: opcua\n", "    protocol: opcua\n    subscribe: false\n"
                )
            await asyncio.gather(*(f.start("127.0.0.1", port) for f, port in servers))
            running.frontends += [f for f, _ in servers]
            await check_every_model(running, text)
            return
        for name in MODELS:
            if protocol == "modbus-tcp":
                _, port = await running.simulator(name)
                endpoint = Endpoint("modbus-tcp", port=port)
            else:
                server_end, client_end = await ptys.enter_async_context(pty_pair())
                frontend = ModbusFrontend(Simulation(MODELS[name], RealClock(SPEED), seed=1))
                await frontend.start_rtu(server_end, 19200)
                running.frontends.append(frontend)
                endpoint = Endpoint("modbus-rtu", serial_port=client_end)
            text += devices_part(sim_config(MODELS[name], endpoint))
        await check_every_model(running, text)
        for gateway in running.gateways:  # before the ptys go away
            await gateway.stop(deadline=2)
        running.gateways.clear()


async def check_every_model(running: Running, text: str) -> None:
    """All signals good, values in their documented ranges, a counter moving, per device."""
    gateway = await running.gateway(text)
    sink = running.sink
    ids = list(gateway.devices)
    await sink.wait_for(lambda: all(len(sink.batches_of(d)) >= 4 for d in ids), timeout=30)

    def counter_moved(device: str) -> bool:
        model = MODELS[device.rsplit("-", 1)[0]]
        unit = next(u for u in model.units if f"{model.name}-{u.name}" == device)
        counters = [s.name for s in unit.machine.signals if s.kind == "counter"]
        batches = sink.batches_of(device)
        first = {s.signal: s.value for s in batches[0].samples}
        last = {s.signal: s.value for s in batches[-1].samples}
        return any(last.get(c) is not None and last[c] > (first.get(c) or 0) for c in counters)

    # A machine may be stopped for a while (a loom's weft break): wait until each has produced.
    await sink.wait_for(lambda: all(counter_moved(d) for d in ids), timeout=45)
    for name, model in MODELS.items():
        for unit in model.units:
            device = f"{name}-{unit.name}"
            batches = sink.batches_of(device)
            assert gateway.devices[device].status.state is DeviceState.ONLINE
            for batch in batches:
                bad = [(s.signal, s.error) for s in batch.samples if s.quality is not GOOD]
                assert not bad, f"{device}: {bad}"
            declared = {s.name: s for s in unit.machine.signals}
            last = {s.signal: s.value for s in batches[-1].samples}
            assert set(last) == set(declared)
            for signal, value in last.items():
                s = declared[signal]
                if s.table in ("holding", "input") and s.kind != "counter" and s.type != "string":
                    assert s.lo - 1e-6 <= value <= s.hi + 1e-6, f"{device}.{signal} = {value}"
            first = {s.signal: s.value for s in batches[0].samples}
            moved = [c for c, s in declared.items() if s.kind == "counter" and last[c] > first[c]]
            assert moved, f"{device}: no counter moved: {first} -> {last}"


async def mbpoll(*args: str) -> tuple[int, str]:
    binary = shutil.which("mbpoll")
    if binary is None:
        pytest.fail("mbpoll is not installed (make test installs it)")
    proc = await asyncio.create_subprocess_exec(
        binary, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode or 0, out.decode()


def polled(output: str) -> list[int]:
    """The values mbpoll printed as `[n]: value` lines."""
    return [int(line.split()[-1]) for line in output.splitlines() if line.startswith("[")]


async def test_mbpoll_reads_and_writes_over_tcp_and_rtu(running) -> None:
    sim, port = await running.simulator("tofu")
    tcp = ["-m", "tcp", "-p", str(port), "-1", "127.0.0.1"]
    code, out = await mbpoll("-a", "1", "-t", "3", "-r", "6", "-c", "2", *tcp)
    assert code == 0, out
    state, alarm = polled(out)
    assert 0 <= state <= 5 and alarm in (0, 101, 102, 103, 900)
    # Holding register 40101 = pressure_setpoint ×0.01: 2.50 bar is accepted, 5.00 refused (03).
    code, out = await mbpoll("-a", "1", "-t", "4", "-r", "101", *tcp, "250")
    assert code == 0, out
    assert sim.units[1].commands["pressure_setpoint"] == pytest.approx(2.5)
    code, out = await mbpoll("-a", "1", "-t", "4", "-r", "101", *tcp, "500")
    assert code != 0 and "Illegal data value" in out
    code, out = await mbpoll("-a", "1", "-t", "3", "-r", "60", *tcp)
    assert code != 0 and "Illegal data address" in out

    async with pty_pair() as (server_end, client_end):
        frontend = ModbusFrontend(Simulation(MODELS["tofu"], RealClock(SPEED), seed=1))
        await frontend.start_rtu(server_end, 19200)
        running.frontends.append(frontend)
        rtu = ["-m", "rtu", "-b", "19200", "-P", "none", "-1", client_end]
        code, out = await mbpoll("-a", "2", "-t", "3", "-r", "2", "-c", "1", *rtu)
        assert code == 0, out
        assert 0 <= polled(out)[0] <= 1500  # motor_speed, rpm


async def test_comm_faults_show_in_the_gateway_status(running) -> None:
    sim, port = await running.simulator("tofu")
    text = sim_config(MODELS["tofu"], Endpoint("modbus-tcp", port=port))
    gateway = await running.gateway(header() + text.replace("interval: 1s", "interval: 250ms"))
    boiler = gateway.devices["tofu-boiler"].status
    grinder = gateway.devices["tofu-grinder"].status
    sink = running.sink
    await eventually(lambda: boiler.state is DeviceState.ONLINE, 10)

    # Faults through the control coils, as a trainee does with any Modbus client.
    faults = sim.units[1].fault_list
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    try:
        coil = FAULT_COIL_BASE + faults.index("exception")
        assert not (await client.write_coil(coil, True, device_id=1)).isError()
        await eventually(lambda: boiler.state is DeviceState.ERROR, 10)
        assert "exception 04" in (boiler.last_error or "")
        assert grinder.state is DeviceState.ONLINE  # one bad thing breaks one thing
        assert not (await client.write_coil(coil, False, device_id=1)).isError()
        await eventually(lambda: boiler.state is DeviceState.ONLINE, 15)
        assert (await client.read_coils(coil, count=1, device_id=1)).bits[0] is False
    finally:
        client.close()

    sim.inject("silent", 1)
    await eventually(lambda: boiler.state is DeviceState.ERROR, 10)
    assert "no answer" in (boiler.last_error or "")
    sim.clear("silent", 1)
    await eventually(lambda: boiler.state is DeviceState.ONLINE, 30)

    sim.inject("slow", 2)
    await eventually(lambda: (grinder.latency_ms or 0) >= SLOW_DELAY_S * 1000, 15)
    assert grinder.state is DeviceState.ONLINE
    sim.clear("slow", 2)

    def last(device: str, signal: str) -> object:
        batch = sink.batches_of(device)[-1]
        return next(s.value for s in batch.samples if s.signal == signal)

    sim.inject("out_of_range", 1)
    await eventually(lambda: last("tofu-boiler", "steam_pressure") == pytest.approx(327.67), 10)
    sim.clear("out_of_range", 1)
    await eventually(lambda: last("tofu-boiler", "steam_pressure") < 7, 10)

    def recent(device: str, signal: str, n: int) -> list[object]:
        return [
            next(s.value for s in b.samples if s.signal == signal)
            for b in sink.batches_of(device)[-n:]
        ]

    count = len(sink.batches_of("tofu-boiler"))
    await sink.wait_for(lambda: len(sink.batches_of("tofu-boiler")) >= count + 4)
    assert len(set(recent("tofu-boiler", "steam_pressure", 4))) > 1, "no noise to freeze"
    sim.inject("stuck", 1)
    count = len(sink.batches_of("tofu-boiler"))
    await sink.wait_for(lambda: len(sink.batches_of("tofu-boiler")) >= count + 5)
    assert len(set(recent("tofu-boiler", "steam_pressure", 4))) == 1
    assert [e[1:] for e in sim.events][-2:] == [
        (1, "clear", "out_of_range"),
        (1, "inject", "stuck"),
    ]
