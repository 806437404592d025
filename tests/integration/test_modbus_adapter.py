"""The Modbus adapter against real pymodbus servers over TCP and over a serial pty pair.

Each test builds a gateway `Config`, runs the real pollers on real links, and asserts on what
the pipeline hands the sinks: exact values for every type and order, exception isolation, a dead
unit on a shared link, and recovery when a server comes back.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config.models import Config
from gateway.model import BAD, GOOD, DeviceState
from gateway.service import Gateway
from tests.support.collect import CollectingSink
from tests.support.modbus_server import BankServer, RegisterBank, bank_server

pytestmark = pytest.mark.integration


def regs(fmt: str, value: Any) -> list[int]:
    """Big-endian registers of `value` packed with struct format `fmt`."""
    raw = struct.pack(">" + fmt, value)
    return list(struct.unpack(f">{len(raw) // 2}H", raw))


def swap_words(registers: list[int]) -> list[int]:
    return list(reversed(registers))


def swap_bytes(registers: list[int]) -> list[int]:
    return [((r & 0xFF) << 8) | (r >> 8) for r in registers]


def furnace_bank() -> RegisterBank:
    """A unit holding one value of every type and order, at known addresses."""
    bank = RegisterBank()
    bank.set("holding", 0, regs("f", 1452.5))  # float32 ABCD
    bank.set("holding", 2, swap_words(regs("I", 123_456_789)))  # uint32 CDAB
    bank.set("holding", 4, regs("h", -1234))  # int16
    bank.set("holding", 5, regs("H", 0b10000))  # status word: bit 4 set
    bank.set("holding", 6, swap_bytes(regs("i", -7_654_321)))  # int32 BADC
    bank.set("holding", 8, swap_bytes(swap_words(regs("d", -2.25e10))))  # float64 DCBA
    bank.set("holding", 12, regs("Q", 2**63 + 5))  # uint64
    bank.set("holding", 16, regs("q", -(2**40)))  # int64
    bank.set("holding", 40, list(struct.unpack(">4H", b"PP-ABS\0\0")))  # string, 4 registers
    bank.set("input", 10, [3105])  # power_kw x0.1
    bank.set("input", 11, regs("f", float("nan")))  # a broken sensor
    bank.set("coil", 2, [True])
    bank.set("discrete", 3, [True])
    return bank


FURNACE_SIGNALS: list[dict[str, Any]] = [
    {"name": "melt_temp", "table": "holding", "address": 0, "type": "float32", "unit": "degC"},
    {"name": "parts", "table": "holding", "address": 2, "type": "uint32", "word_order": "little"},
    {"name": "offset_i16", "table": "holding", "address": 4, "type": "int16"},
    {"name": "alarm", "table": "holding", "address": 5, "type": "bool", "bit": 4},
    {"name": "alarm_low", "table": "holding", "address": 5, "type": "bool", "bit": 3},
    {"name": "i32_badc", "table": "holding", "address": 6, "type": "int32", "byte_order": "little"},
    {
        "name": "f64_dcba",
        "table": "holding",
        "address": 8,
        "type": "float64",
        "byte_order": "little",
        "word_order": "little",
    },
    {"name": "big_counter", "table": "holding", "address": 12, "type": "uint64"},
    {"name": "i64", "table": "holding", "address": 16, "type": "int64"},
    {"name": "recipe", "table": "holding", "address": 40, "type": "string", "length": 4},
    {"name": "power_kw", "table": "input", "address": 10, "scale": 0.1, "unit": "kW"},
    {"name": "broken", "table": "input", "address": 11, "type": "float32"},
    {"name": "heater_on", "table": "coil", "address": 2},
    {"name": "door_open", "table": "discrete", "address": 3},
]

FURNACE_EXPECTED = {
    "melt_temp": 1452.5,
    "parts": 123_456_789,
    "offset_i16": -1234,
    "alarm": True,
    "alarm_low": False,
    "i32_badc": -7_654_321,
    "f64_dcba": -2.25e10,
    "big_counter": 2**63 + 5,
    "i64": -(2**40),
    "recipe": "PP-ABS",
    "power_kw": pytest.approx(310.5),
    "heater_on": True,
    "door_open": True,
}


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


@pytest.fixture
def pty_pair(tmp_path: Path) -> Any:
    """Two linked pseudo-terminals made by socat: a serial line without hardware."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is not installed (make test installs it)")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    proc = subprocess.Popen(
        [socat, "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not (a.exists() and b.exists()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert a.exists() and b.exists(), "socat did not create the pty pair"
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


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
