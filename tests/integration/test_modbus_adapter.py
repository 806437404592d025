"""The Modbus adapter against real pymodbus servers over TCP and over a serial pty pair.

Each test builds a gateway `Config`, runs the real pollers on real links, and asserts on what
the pipeline hands the sinks: exact values for every type and order, exception isolation, a dead
unit on a shared link, and recovery when a server comes back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.backoff import Backoff
from gateway.config.models import Config
from gateway.model import BAD, GOOD, DeviceState
from gateway.service import Gateway
from tests.support.collect import CollectingSink
from tests.support.furnace import FURNACE_EXPECTED, FURNACE_SIGNALS, furnace_bank
from tests.support.modbus_server import BankServer, bank_server

pytestmark = pytest.mark.integration


def make_config(devices: list[dict[str, Any]]) -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "test-gw", "site": "pasuruan", "area": "casting"},
            "mqtt": {"enabled": False},
            "devices": devices,
        }
    )


@pytest.fixture
async def collected() -> AsyncIterator[tuple[list[Gateway], CollectingSink]]:
    """Gateways started by a test get a CollectingSink, and are stopped afterwards."""
    sink = CollectingSink()
    gateways: list[Gateway] = []
    yield gateways, sink
    for gateway in gateways:
        await gateway.stop(deadline=2)


async def start(config: Config, holder: tuple[list[Gateway], CollectingSink]) -> Gateway:
    gateways, sink = holder
    gateway = Gateway(config)
    gateway.sinks.append(sink)
    gateway.pipeline.sinks.append(sink)
    await gateway.start()
    gateways.append(gateway)
    return gateway


def values_of(sink: CollectingSink, device: str) -> dict[str, Any]:
    batch = sink.batches_of(device)[-1]
    return {s.signal: s.value for s in batch.samples if s.quality is GOOD}


async def test_every_type_and_order_decodes_exactly_over_tcp(collected) -> None:
    async with bank_server({1: furnace_bank()}) as server:
        config = make_config(
            [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "interval": "200ms",
                    "signals": FURNACE_SIGNALS,
                }
            ]
        )
        gateway = await start(config, collected)
        sink = collected[1]
        await sink.wait_for(lambda: sink.batches_of("furnace-1"))
        assert values_of(sink, "furnace-1") == FURNACE_EXPECTED
        broken = next(s for s in sink.batches_of("furnace-1")[-1].samples if s.signal == "broken")
        assert broken.quality is BAD
        assert broken.value is None
        status = gateway.devices["furnace-1"].status
        assert status.state is DeviceState.ONLINE
        # holding 0-19 (gap 20 registers to 40: beyond max_gap) and 40-43, input 10-12,
        # one coil, one discrete input: 5 reads, the minimum for these tables and gaps.
        assert status.requests_per_scan == 5
        assert sink.last_state("furnace-1").state is DeviceState.ONLINE


async def test_exception_on_one_signal_isolates_it_and_keeps_the_others(collected) -> None:
    bank = furnace_bank()
    bank.unmap("holding", 4)  # offset_i16 now answers exception 02
    async with bank_server({1: bank}) as server:
        config = make_config(
            [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "interval": "200ms",
                    "signals": FURNACE_SIGNALS,
                }
            ]
        )
        gateway = await start(config, collected)
        sink = collected[1]
        await sink.wait_for(lambda: len(sink.batches_of("furnace-1")) >= 3)
        for batch in sink.batches_of("furnace-1"):
            good = {s.signal: s.value for s in batch.samples if s.quality is GOOD}
            expected = {k: v for k, v in FURNACE_EXPECTED.items() if k != "offset_i16"}
            assert good == expected, "every other signal keeps flowing from the first scan"
        bad = next(s for s in sink.batches_of("furnace-1")[-1].samples if s.signal == "offset_i16")
        assert bad.quality is BAD
        assert "exception 02" in bad.error and "holding 4" in bad.error
        status = gateway.devices["furnace-1"].status
        assert status.state is DeviceState.ONLINE
        assert "offset_i16" in status.signal_errors
        assert "furnace-1" in status.last_error and "holding 4" in status.last_error
        reads_before = bank.reads
        await sink.wait_for(lambda: len(sink.batches_of("furnace-1")) >= 5)
        scans = 2
        # The split plan is kept: later scans do not re-read the failed block whole first.
        assert bank.reads - reads_before <= scans * (status.requests_per_scan + 1)


async def test_dead_unit_on_shared_link_does_not_stall_its_neighbour(collected) -> None:
    live, dead = furnace_bank(), furnace_bank()
    async with bank_server({1: live, 2: dead}) as server:
        common = {"protocol": "modbus-tcp", "host": "127.0.0.1", "port": server.port}
        signals = FURNACE_SIGNALS[:2]
        config = make_config(
            [
                {"id": "loom-1", "unit": 1, "interval": "200ms", "signals": signals, **common},
                {
                    "id": "loom-2",
                    "unit": 2,
                    "interval": "200ms",
                    "timeout": "300ms",
                    "signals": signals,
                    **common,
                },
            ]
        )
        gateway = await start(config, collected)
        sink = collected[1]
        await sink.wait_for(lambda: sink.batches_of("loom-1") and sink.batches_of("loom-2"))
        links = gateway.adapters.get("modbus-tcp").links
        assert links.keys() == [f"tcp://127.0.0.1:{server.port}"], "one shared link"
        dead.silent = True
        await sink.wait_for(
            lambda: (s := sink.last_state("loom-2")) is not None and s.state is DeviceState.ERROR
        )
        assert "loom-2" in sink.last_state("loom-2").error
        assert "no answer" in gateway.devices["loom-2"].status.last_error
        # While loom-2 is dead, loom-1 keeps its 200 ms interval (backoff keeps the bus free).
        count = len(sink.batches_of("loom-1"))
        started = asyncio.get_running_loop().time()
        await sink.wait_for(lambda: len(sink.batches_of("loom-1")) >= count + 10)
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed < 10 * 0.2 + 1.5, f"loom-1 slowed down: 10 scans took {elapsed:.2f} s"
        assert gateway.devices["loom-1"].status.state is DeviceState.ONLINE
        dead.silent = False
        await sink.wait_for(
            lambda: sink.last_state("loom-2").state is DeviceState.ONLINE, timeout=15
        )


async def test_device_recovers_when_its_server_restarts(collected) -> None:
    server = BankServer({1: furnace_bank()})
    await server.start_tcp()
    try:
        config = make_config(
            [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "interval": "200ms",
                    "timeout": "300ms",
                    "signals": FURNACE_SIGNALS[:3],
                }
            ]
        )
        await start(config, collected)
        sink = collected[1]
        await sink.wait_for(lambda: sink.batches_of("furnace-1"))
        await server.stop()
        await sink.wait_for(lambda: sink.last_state("furnace-1").state is DeviceState.ERROR)
        count = len(sink.batches_of("furnace-1"))
        await server.start_tcp(server.port)
        await sink.wait_for(lambda: sink.last_state("furnace-1").state is DeviceState.ONLINE)
        await sink.wait_for(lambda: len(sink.batches_of("furnace-1")) > count)
        assert values_of(sink, "furnace-1") == {
            k: FURNACE_EXPECTED[k] for k in ("melt_temp", "parts", "offset_i16")
        }
    finally:
        await server.stop()


async def test_rtu_over_a_serial_line_with_two_units(collected, pty_pair) -> None:
    server_end, client_end = pty_pair
    server = BankServer({1: furnace_bank(), 2: furnace_bank()})
    await server.start_rtu(server_end, baudrate=19200)
    try:
        common = {
            "protocol": "modbus-rtu",
            "serial_port": client_end,
            "baudrate": 19200,
            "interval": "300ms",
            "signals": FURNACE_SIGNALS,
        }
        config = make_config(
            [{"id": "boiler-1", "unit": 1, **common}, {"id": "grinder-2", "unit": 2, **common}]
        )
        await start(config, collected)
        sink = collected[1]
        await sink.wait_for(lambda: sink.batches_of("boiler-1") and sink.batches_of("grinder-2"))
        assert values_of(sink, "boiler-1") == FURNACE_EXPECTED
        assert values_of(sink, "grinder-2") == FURNACE_EXPECTED
    finally:
        await server.stop()


async def test_a_device_whose_server_returns_is_read_within_seconds_whatever_the_backoff(
    collected,
) -> None:
    server = BankServer({1: furnace_bank()})
    await server.start_tcp()
    try:
        config = make_config(
            [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "interval": "200ms",
                    "timeout": "300ms",
                    "signals": FURNACE_SIGNALS[:1],
                }
            ]
        )
        gateway = await start(config, collected)
        sink = collected[1]
        await sink.wait_for(lambda: sink.batches_of("furnace-1"))
        poller = gateway.devices["furnace-1"].poller
        # As after a long outage: the next full retry would be 30 s away.
        poller.backoff = Backoff(initial=30.0, maximum=30.0, jitter=0.0)
        await server.stop()
        await sink.wait_for(lambda: sink.last_state("furnace-1").state is DeviceState.ERROR)
        await server.start_tcp(server.port)
        loop = asyncio.get_running_loop()
        back = loop.time()
        await sink.wait_for(lambda: sink.last_state("furnace-1").state is DeviceState.ONLINE, 15)
        assert loop.time() - back < 5.0, "waited for the backoff instead of the port"
    finally:
        await server.stop()


async def test_a_dead_units_probes_go_where_the_shared_link_has_room(collected) -> None:
    live, dead = furnace_bank(), furnace_bank()
    async with bank_server({1: live, 2: dead}) as server:
        common = {"protocol": "modbus-tcp", "host": "127.0.0.1", "port": server.port}
        signals = FURNACE_SIGNALS[:2]
        config = make_config(
            [
                {
                    "id": "live",
                    "unit": 1,
                    "interval": "500ms",
                    "timeout": "300ms",  # one per link: pymodbus has one per connection
                    "signals": signals,
                    **common,
                },
                {
                    "id": "dead",
                    "unit": 2,
                    "interval": "500ms",
                    "timeout": "300ms",
                    "signals": signals,
                    **common,
                },
            ]
        )
        gateway = await start(config, collected)
        sink = collected[1]
        await sink.wait_for(lambda: sink.batches_of("live") and sink.batches_of("dead"))
        dead.silent = True
        await sink.wait_for(lambda: sink.last_state("dead").state is DeviceState.ERROR)
        # Probe the dead unit often: each probe holds the link for its 300 ms timeout, and
        # put anywhere it would delay the live unit's next scan by up to that much.
        poller = gateway.devices["dead"].poller
        poller.backoff = Backoff(initial=0.4, maximum=0.4, jitter=0.0)
        failed = gateway.devices["dead"].status.polls_failed
        first = len(sink.batches_of("live"))
        await sink.wait_for(lambda: len(sink.batches_of("live")) >= first + 12, 20)
        stamps = [b.ts for b in sink.batches_of("live")[first:]]
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert gateway.devices["dead"].status.polls_failed >= failed + 4, "the unit was probed"
        assert max(gaps) < 500 + 150, f"a probe delayed the live unit's scan: {gaps} ms"
