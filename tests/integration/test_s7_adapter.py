"""The S7 adapter against python-snap7's own server (`S7Memory`) on 127.0.0.1.

Each test builds a validated device config, runs the real poller (made through the wiring table
`gateway.protocols`) on a real ISO-on-TCP link, and asserts on what the pipeline hands the sinks:
exact values of every type, bit offsets, S7 STRINGs, an absent DB and a too-short one that
affect their signals alone, the planner's minimum of reads counted at the server, a dead PLC
and the reconnect when it comes back.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.adapter import AdapterContext, DeviceUnreachable
from gateway.config.models import S7Device
from gateway.model import DeviceState
from gateway.protocols import Adapters
from simulators.frontends.s7_server import S7Memory
from tests.support.modbus_server import free_port
from tests.support.plc_harness import PlcHarness, plc_device, plc_harness

pytestmark = pytest.mark.integration


def s7_device(port: int, signals: list[dict[str, Any]], **extra: Any) -> S7Device:
    device = plc_device("s7", "press-3", port, signals, **extra)
    assert isinstance(device, S7Device)
    return device


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[PlcHarness]:
    async with plc_harness(tmp_path, "s7") as h:
        yield h


def press_memory(port: int = 0) -> S7Memory:
    """A PLC with one value of every type in DB1, a recipe string in DB2, and M/I/Q bits."""
    mem = S7Memory(port=port)
    mem.add_db(1, 64)
    mem.pack("DB", 1, 0, ">f", 61.25)  # REAL
    mem.pack("DB", 1, 4, ">I", 4_000_000_000)  # UDINT
    mem.pack("DB", 1, 8, ">h", -1234)  # INT, x0.1
    mem.pack("DB", 1, 10, ">B", 0b1000_0101)  # bits 0, 2, 7
    mem.pack("DB", 1, 12, ">d", -2.5e-7)  # LREAL
    mem.pack("DB", 1, 20, ">q", -(2**40))  # LINT
    mem.pack("DB", 1, 28, ">Q", 2**64 - 2)  # ULINT
    mem.pack("DB", 1, 36, ">i", -7_654_321)  # DINT
    mem.pack("DB", 1, 40, ">b", -5)  # SINT
    mem.pack("DB", 1, 41, ">B", 250)  # USINT
    mem.pack("DB", 1, 42, ">H", 65000)  # UINT
    mem.pack("DB", 1, 44, ">f", math.nan)  # a broken sensor
    mem.add_db(2, 40)
    mem.write("DB", 2, 0, bytes([16, 6]) + b"PP-ABS" + b"\xff" * 10)  # STRING[16] = 'PP-ABS'
    mem.pack("M", 0, 20, ">H", 7)  # MW20
    mem.write("I", 0, 0, bytes([0b0000_1000]))  # I0.3
    mem.write("Q", 0, 1, bytes([0b1000_0000]))  # Q1.7
    return mem


PRESS_SIGNALS: list[dict[str, Any]] = [
    {"name": "oil_temp", "address": "DB1.DBD0", "type": "float32", "unit": "degC"},
    {"name": "strokes", "address": "DB1.DBD4", "type": "uint32"},
    {"name": "pressure", "address": "DB1.DBW8", "type": "int16", "scale": 0.1},
    {"name": "running", "address": "DB1.DBX10.0"},
    {"name": "bit1", "address": "DB1.DBX10.1"},
    {"name": "bit2", "address": "DB1.DBX10.2"},
    {"name": "bit7", "address": "%DB1.DBX10.7"},
    {"name": "lreal", "address": "DB1.DBD12", "type": "float64"},
    {"name": "lint", "address": "DB1.DBD20", "type": "int64"},
    {"name": "ulint", "address": "DB1.DBD28", "type": "uint64"},
    {"name": "dint", "address": "DB1.DBD36", "type": "int32"},
    {"name": "sint", "address": "DB1.DBB40", "type": "int8"},
    {"name": "usint", "address": "DB1.DBB41"},
    {"name": "uint", "address": "DB1.DBW42"},
    {"name": "broken", "address": "DB1.DBD44", "type": "float32"},
    {"name": "recipe", "address": "DB2.DBB0", "type": "string", "length": 16},
    {"name": "mode", "address": "MW20"},
    {"name": "e_stop", "address": "I0.3"},
    {"name": "i_low", "address": "E0.2"},
    {"name": "lamp", "address": "Q1.7"},
]


async def test_every_type_and_bit_decodes_exactly(harness: PlcHarness) -> None:
    with press_memory() as mem:
        device = s7_device(mem.port, PRESS_SIGNALS)
        status = harness.start(device)
        await harness.sink.wait_for(lambda: harness.sink.batches_of("press-3"))
        assert harness.values("press-3") == {
            "oil_temp": 61.25,
            "strokes": 4_000_000_000,
            "pressure": pytest.approx(-123.4),
            "running": True,
            "bit1": False,
            "bit2": True,
            "bit7": True,
            "lreal": -2.5e-7,
            "lint": -(2**40),
            "ulint": 2**64 - 2,
            "dint": -7_654_321,
            "sint": -5,
            "usint": 250,
            "uint": 65000,
            "recipe": "PP-ABS",
            "mode": 7,
            "e_stop": True,
            "i_low": False,
            "lamp": True,
        }
        assert harness.errors("press-3") == {"broken": "not a finite number: nan"}
        assert status.state is DeviceState.ONLINE
        # DB1, DB2, M, I, Q: one read each, the planner's minimum, counted at the server.
        assert status.requests_per_scan == status.min_requests_per_scan == 5
        before = mem.reads
        count = len(harness.sink.batches_of("press-3"))
        await harness.sink.wait_for(lambda: len(harness.sink.batches_of("press-3")) >= count + 2)
        # The server answered five reads a scan, no more (one scan may be in flight).
        scans = len(harness.sink.batches_of("press-3")) - count
        assert scans * 5 <= mem.reads - before <= (scans + 1) * 5


async def test_an_absent_db_and_a_short_db_affect_their_signals_alone(harness: PlcHarness) -> None:
    with press_memory() as mem:
        signals = [
            *PRESS_SIGNALS[:3],
            {"name": "ghost", "address": "DB9.DBW0"},
            {"name": "past_end", "address": "DB1.DBD62", "type": "float32"},  # DB1 is 64 bytes
        ]
        status = harness.start(s7_device(mem.port, signals))
        await harness.sink.wait_for(lambda: len(harness.sink.batches_of("press-3")) >= 2)
        assert harness.values("press-3") == {
            "oil_temp": 61.25,
            "strokes": 4_000_000_000,
            "pressure": pytest.approx(-123.4),
        }
        errors = harness.errors("press-3")
        assert errors["ghost"].startswith("object does not exist (no such DB?) (0x0A) reading DB9")
        assert errors["past_end"].startswith("address out of range")
        assert "DB1 bytes 62-65" in errors["past_end"]
        assert status.state is DeviceState.ONLINE
        assert "signal ghost" in (status.last_error or "")
        # The plan now reads the good signals in one item and each wrong one alone.
        assert status.requests_per_scan == 3
        before = len(harness.sink.batches_of("press-3"))
        await harness.sink.wait_for(lambda: len(harness.sink.batches_of("press-3")) > before)
        assert harness.values("press-3")["oil_temp"] == 61.25


async def test_a_dead_plc_is_retried_and_reconnects(harness: PlcHarness) -> None:
    port = free_port()
    status = harness.start(s7_device(port, PRESS_SIGNALS[:2]))
    await harness.sink.wait_for(
        lambda: (s := harness.sink.last_state("press-3")) and s.state is DeviceState.ERROR
    )
    state = harness.sink.last_state("press-3")
    assert state is not None and state.error is not None
    assert f"device press-3: cannot connect to PLC 127.0.0.1:{port} rack 0 slot 1" in state.error
    assert not harness.sink.batches_of("press-3")
    with press_memory(port) as mem:
        await harness.sink.wait_for(lambda: harness.sink.batches_of("press-3"), timeout=15)
        assert harness.values("press-3") == {"oil_temp": 61.25, "strokes": 4_000_000_000}
        assert status.state is DeviceState.ONLINE
        mem.pack("DB", 1, 0, ">f", 70.5)
        await harness.sink.wait_for(lambda: harness.values("press-3")["oil_temp"] == 70.5)
    # The PLC goes away while connected: error, then back again on the same port.
    await harness.sink.wait_for(lambda: status.state is DeviceState.ERROR)
    assert status.polls_failed >= 2
    with press_memory(port):
        seen = len(harness.sink.batches_of("press-3"))
        await harness.sink.wait_for(
            lambda: len(harness.sink.batches_of("press-3")) > seen, timeout=15
        )
        assert harness.values("press-3")["oil_temp"] == 61.25
        assert status.state is DeviceState.ONLINE


async def test_the_plan_follows_the_granted_pdu(harness: PlcHarness) -> None:
    with press_memory() as mem:
        mem.add_db(3, 1000)
        mem.pack("DB", 3, 990, ">H", 42)
        signals = [
            {"name": "first", "address": "DB3.DBW0"},
            {"name": "mid", "address": "DB3.DBW200"},
            {"name": "last", "address": "DB3.DBW990"},
        ]
        # 960 asked; python-snap7's server grants 480: one item carries at most 462 bytes.
        status = harness.start(s7_device(mem.port, signals, pdu_size=960, max_gap=900))
        await harness.sink.wait_for(lambda: len(harness.sink.batches_of("press-3")) >= 2)
        assert harness.values("press-3") == {"first": 0, "mid": 0, "last": 42}
        assert status.requests_per_scan == 2  # bytes 0-201, then 990-991 (past 462 bytes)


async def test_a_test_read_of_a_dead_plc_says_so(tmp_path: Path) -> None:
    adapters = Adapters(AdapterContext(state_dir=tmp_path))
    device = s7_device(free_port(), PRESS_SIGNALS[:1])
    with pytest.raises(DeviceUnreachable, match=r"cannot connect to PLC 127\.0\.0\.1"):
        await adapters.get("s7").test_read(device)
    with press_memory() as mem:
        samples = await adapters.get("s7").test_read(s7_device(mem.port, PRESS_SIGNALS[:1]))
        assert [(s.signal, s.value) for s in samples] == [("oil_temp", 61.25)]
    adapters.close()
