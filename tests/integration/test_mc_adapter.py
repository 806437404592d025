"""The MC adapter against our MC server (`McServer`, checked against pymcprotocol) on 127.0.0.1.

The real poller, made through the wiring table, reads every type (32- and 64-bit values low
word first, strings low byte first), bits of bit devices in word units and bits of words; a
device number past the CPU's range affects that signal alone with the end code in words; a
scan costs the planner's minimum of requests, counted at the server; a dead PLC, a hung one and
the reconnect when it comes back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.adapter import AdapterContext, DeviceUnreachable
from gateway.config.models import McDevice
from gateway.model import DeviceState
from gateway.protocols import Adapters
from simulators.frontends.mc_server import McMemory, McServer
from tests.support.modbus_server import free_port
from tests.support.plc_harness import PlcHarness, plc_device, plc_harness
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


def mc_device(port: int, signals: list[dict[str, Any]], **extra: Any) -> McDevice:
    device = plc_device("mc", "welder-2", port, signals, **extra)
    assert isinstance(device, McDevice)
    return device


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[PlcHarness]:
    async with plc_harness(tmp_path, "mc") as h:
        yield h


def welder_memory() -> McMemory:
    mem = McMemory({"D": 1000, "W": 512, "R": 100, "M": 512, "X": 256, "Y": 256, "B": 256})
    mem.pack("D", 100, "<h", -123)  # current x0.1
    mem.pack("D", 101, "<H", 0b1000_0000_0000_0001)  # status word: bits 0 and F
    mem.pack("D", 200, "<I", 4_000_000_000)  # welds: low word first
    mem.pack("D", 202, "<i", -7_654_321)
    mem.pack("D", 210, "<f", 2.75)
    mem.pack("D", 212, "<d", -1.5e100)
    mem.pack("D", 216, "<q", -(2**40))
    mem.pack("D", 220, "<Q", 2**64 - 2)
    mem.pack("D", 224, "<f", math.inf)
    mem.set_words("D", 300, [0x4557, 0x444C, 0x5245, 0])  # "WELDER": low byte first
    mem.set_words("W", 0x1F, [65000])
    mem.set_words("R", 5, [42])
    mem.set_bits("M", 10, [True])
    mem.set_bits("X", 0x1A, [True])
    mem.set_bits("Y", 0x10, [True])
    mem.set_bits("B", 0xFF, [True])
    return mem


WELDER_SIGNALS: list[dict[str, Any]] = [
    {"name": "current_a", "address": "D100", "scale": 0.1, "unit": "A"},
    {"name": "status_0", "address": "D101.0"},
    {"name": "status_f", "address": "D101.F"},
    {"name": "status_1", "address": "D101.1"},
    {"name": "welds", "address": "D200", "type": "uint32"},
    {"name": "dint", "address": "D202", "type": "int32"},
    {"name": "cycle_s", "address": "D210", "type": "float32"},
    {"name": "lreal", "address": "D212", "type": "float64"},
    {"name": "lint", "address": "D216", "type": "int64"},
    {"name": "ulint", "address": "D220", "type": "uint64"},
    {"name": "broken", "address": "D224", "type": "float32"},
    {"name": "recipe", "address": "D300", "type": "string", "length": 4},
    {"name": "link_w", "address": "W1F", "type": "uint16"},
    {"name": "file_r", "address": "R5"},
    {"name": "running", "address": "M10"},
    {"name": "m11", "address": "M11"},
    {"name": "door", "address": "X1A"},
    {"name": "lamp", "address": "Y10"},
    {"name": "link_b", "address": "BFF"},
]


async def test_every_type_and_bit_decodes_exactly(harness: PlcHarness) -> None:
    async with McServer(welder_memory()) as server:
        status = harness.start(mc_device(server.port, WELDER_SIGNALS))
        await harness.sink.wait_for(harness.batches)
        assert harness.values() == {
            "current_a": pytest.approx(-12.3),
            "status_0": True,
            "status_f": True,
            "status_1": False,
            "welds": 4_000_000_000,
            "dint": -7_654_321,
            "cycle_s": 2.75,
            "lreal": -1.5e100,
            "lint": -(2**40),
            "ulint": 2**64 - 2,
            "recipe": "WELDER",
            "link_w": 65000,
            "file_r": 42,
            "running": True,
            "m11": False,
            "door": True,
            "lamp": True,
            "link_b": True,
        }
        assert harness.errors() == {"broken": "not a finite number: inf"}
        assert status.state is DeviceState.ONLINE
        # D (100-101, 200-227 and 300-303 are more than 10 words apart: 3), W, R, M, X, Y, B.
        assert status.requests_per_scan == status.min_requests_per_scan == 9
        seen, before = harness.batches(), server.requests
        await harness.sink.wait_for(lambda: harness.batches() >= seen + 3)
        scans = harness.batches() - seen
        assert scans * 9 <= server.requests - before <= (scans + 1) * 9


async def test_an_out_of_range_device_affects_that_signal_alone(harness: PlcHarness) -> None:
    async with McServer(welder_memory()) as server:
        signals = [
            WELDER_SIGNALS[0],
            {"name": "past_end", "address": "D998", "type": "float64"},  # D1000 is past D999
            {"name": "no_l", "address": "L3"},  # no L device on this CPU
            WELDER_SIGNALS[4],
        ]
        status = harness.start(mc_device(server.port, signals, max_gap=900))
        await harness.sink.wait_for(lambda: harness.batches() >= 2)
        assert harness.values() == {"current_a": pytest.approx(-12.3), "welds": 4_000_000_000}
        errors = harness.errors()
        assert errors["past_end"] == (
            "address out of range (past the last device number configured in the PLC) "
            f"(end code 0xC056) reading D998-D1001 on PLC 127.0.0.1:{server.port}"
        )
        assert (errors["no_l"] or "").startswith("wrong request: this device does not exist")
        assert status.state is DeviceState.ONLINE
        assert status.requests_per_scan == 3  # D100-D201 together, D998 alone, L0-L15 alone
        seen = harness.batches()
        await harness.sink.wait_for(lambda: harness.batches() > seen)
        assert harness.values()["welds"] == 4_000_000_000


async def test_a_dead_plc_is_retried_and_reconnects(harness: PlcHarness) -> None:
    port = free_port()
    status = harness.start(mc_device(port, WELDER_SIGNALS[:1]))
    await harness.sink.wait_for(lambda: status.state is DeviceState.ERROR)
    assert f"device welder-2: cannot connect to PLC 127.0.0.1:{port}" in (status.last_error or "")
    memory = welder_memory()
    async with McServer(memory, port=port) as server:
        await harness.sink.wait_for(harness.batches, timeout=15)
        assert harness.values() == {"current_a": pytest.approx(-12.3)}
        assert status.state is DeviceState.ONLINE
        server.silent = True  # the CPU hangs: no answer within the timeout
        await harness.sink.wait_for(lambda: status.state is DeviceState.ERROR)
        assert "no answer from PLC" in (status.last_error or "")
        memory.pack("D", 100, "<h", 555)
        server.silent = False
        await harness.sink.wait_for(
            lambda: harness.values().get("current_a") == pytest.approx(55.5), timeout=15
        )
        assert status.state is DeviceState.ONLINE


async def test_a_test_read_of_a_dead_plc_says_so(tmp_path: Path) -> None:
    adapters = Adapters(AdapterContext(state_dir=tmp_path))
    with pytest.raises(DeviceUnreachable, match=r"cannot connect to PLC 127\.0\.0\.1"):
        await adapters.get("mc").test_read(mc_device(free_port(), WELDER_SIGNALS[:1]))
    async with McServer(welder_memory()) as server:
        samples = await adapters.get("mc").test_read(mc_device(server.port, WELDER_SIGNALS[4:5]))
        assert [(s.signal, s.value) for s in samples] == [("welds", 4_000_000_000)]
    adapters.close()


async def test_an_outage_is_one_error_line_then_one_recovery_line(
    harness: PlcHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.blockpoller")
    port = free_port()
    status = harness.start(mc_device(port, WELDER_SIGNALS[:1]))
    await eventually(lambda: status.polls_failed >= 2, timeout=15)
    records = [r for r in caplog.records if r.name == "adapters.blockpoller"]
    assert [r.levelno for r in records].count(logging.ERROR) == 1
    assert "retrying with backoff" in records[0].getMessage()
    async with McServer(welder_memory(), port=port):
        await harness.sink.wait_for(harness.batches, timeout=15)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 2 and lines[1].startswith("device welder-2: recovered after")
