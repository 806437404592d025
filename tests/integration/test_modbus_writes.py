"""Modbus writes against a real pymodbus server: the function that carries each write, byte and
word orders, scale inversion, read-modify-write of a bit, read-back mismatch, a dead unit, and
a write while the device is polled every 100 ms."""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.modbus.adapter import ModbusAdapter
from adapters.modbus.errors import ExceptionResponse, NoResponse, WriteMismatch
from gateway.adapter import AdapterContext, DeviceUnreachable, ReadBackMismatch, WriteRefused
from gateway.config.models import Config, ModbusTcpDevice
from gateway.model import GOOD
from gateway.service import Gateway
from tests.support.collect import CollectingSink
from tests.support.write_server import LoggingBankServer, WriteBank, write_server

pytestmark = pytest.mark.integration

SIGNALS: list[dict[str, Any]] = [
    {"name": "reset", "table": "coil", "address": 7, "writable": True},
    {"name": "speed", "table": "holding", "address": 10, "writable": True},
    {"name": "power", "table": "holding", "address": 11, "scale": 0.1, "writable": True},
    {"name": "sp_abcd", "table": "holding", "address": 20, "type": "float32", "writable": True},
    {
        "name": "sp_cdab",
        "table": "holding",
        "address": 22,
        "type": "float32",
        "word_order": "little",
        "writable": True,
    },
    {"name": "count", "table": "holding", "address": 24, "type": "uint32", "writable": True},
    {"name": "door", "table": "holding", "address": 30, "type": "bool", "bit": 4, "writable": True},
    {
        "name": "recipe",
        "table": "holding",
        "address": 40,
        "type": "string",
        "length": 4,
        "writable": True,
    },
    {"name": "melt", "table": "holding", "address": 50, "type": "float32"},
    {"name": "gone", "table": "holding", "address": 90, "writable": True},
]


def fresh_bank() -> WriteBank:
    bank = WriteBank()
    bank.set("coil", 7, [False])
    bank.set("holding", 10, [0] * 16)
    bank.set("holding", 30, [0b1000_0000_0000_0001])
    bank.set("holding", 40, [0] * 4)
    bank.set("holding", 50, [0, 0])
    return bank


def device(port: int, **extra: Any) -> ModbusTcpDevice:
    return ModbusTcpDevice.model_validate(
        {
            "id": "press-1",
            "protocol": "modbus-tcp",
            "host": "127.0.0.1",
            "port": port,
            "timeout": "300ms",
            "signals": SIGNALS,
            **extra,
        }
    )


@pytest.fixture
async def served(
    tmp_path: Path,
) -> AsyncIterator[tuple[LoggingBankServer, WriteBank, ModbusAdapter]]:
    bank = fresh_bank()
    adapter = ModbusAdapter(AdapterContext(state_dir=tmp_path))
    async with write_server({1: bank}) as server:
        yield server, bank, adapter
        adapter.close()


def floats(registers: list[int]) -> float:
    return struct.unpack(">f", struct.pack(">2H", *registers))[0]


async def test_each_value_goes_in_its_function_and_reads_back(served) -> None:
    server, bank, adapter = served
    dev = device(server.port)
    cases = [
        ("reset", True, 5),
        ("speed", 1200, 6),
        ("power", 145.3, 6),
        ("sp_abcd", 1450.5, 16),
        ("count", 70_000, 16),
        ("recipe", "R-42", 16),
    ]
    for name, value, function in cases:
        before = len(bank.writes)
        outcome = await adapter.write(dev, name, value)
        assert (outcome.value, outcome.read_back) == (value, value), name
        assert bank.writes[before:] == [function], name  # one request, of this function
    holding = bank.tables["holding"]
    assert bank.tables["coil"][7] is True
    assert holding[10] == 1200
    assert holding[11] == 1453  # 145.3 with scale 0.1, exactly
    assert floats([holding[20], holding[21]]) == 1450.5
    assert [holding[24], holding[25]] == [0x0001, 0x1170]
    assert [holding[40], holding[41]] == [ord("R") << 8 | ord("-"), ord("4") << 8 | ord("2")]


async def test_word_order_is_honoured_on_the_wire(served) -> None:
    server, bank, adapter = served
    await adapter.write(device(server.port), "sp_cdab", 1450.5)
    holding = bank.tables["holding"]
    assert floats([holding[23], holding[22]]) == 1450.5  # low word first


async def test_a_device_without_5_and_6_gets_15_and_16(served) -> None:
    server, bank, adapter = served
    dev = device(server.port, write_multiple=True)
    await adapter.write(dev, "reset", True)
    await adapter.write(dev, "speed", 9)
    assert bank.writes == [15, 16]
    assert bank.tables["coil"][7] is True and bank.tables["holding"][10] == 9


async def test_a_bit_is_read_changed_and_written_back(served) -> None:
    server, bank, adapter = served
    outcome = await adapter.write(device(server.port), "door", True)
    assert outcome.read_back is True
    assert bank.tables["holding"][30] == 0b1000_0000_0001_0001  # the other bits kept
    assert bank.functions[-3:] == [3, 6, 3]  # read, write, read back


async def test_a_value_the_signal_cannot_hold_is_refused_and_nothing_is_sent(served) -> None:
    server, bank, adapter = served
    dev = device(server.port)
    for name, value in [("power", 145.35), ("speed", -1), ("reset", 1), ("melt", 3.0)]:
        with pytest.raises(WriteRefused):
            await adapter.write(dev, name, value)
    assert bank.functions == []


async def test_a_unit_that_ignores_the_write_is_a_mismatch_naming_both_values(served) -> None:
    server, bank, adapter = served
    bank.tables["holding"][11] = 1400
    bank.ignore_writes = True
    with pytest.raises(WriteMismatch) as caught:
        await adapter.write(device(server.port), "power", 145.3)
    assert isinstance(caught.value, ReadBackMismatch)
    assert (caught.value.written, caught.value.read_back) == (145.3, 140.0)
    assert "wrote 145.3 to power (holding 11) but read back 140.0" in str(caught.value)


async def test_a_refused_address_is_an_exception_of_the_write(served) -> None:
    server, _bank, adapter = served
    with pytest.raises(ExceptionResponse, match=r"illegal data address .* writing holding 90"):
        await adapter.write(device(server.port), "gone", 1)


async def test_a_dead_unit_is_unreachable_within_its_timeout(served) -> None:
    server, bank, adapter = served
    bank.silent = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(NoResponse) as caught:
        await adapter.write(device(server.port), "speed", 5)
    assert isinstance(caught.value, DeviceUnreachable)
    assert loop.time() - started < 2.0


async def test_writes_while_polled_every_100ms_lose_no_scan_and_keep_their_order(
    tmp_path: Path,
) -> None:
    bank = fresh_bank()
    config = Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "gw"},
            "mqtt": {"enabled": False},
            "buffer": {"path": str(tmp_path / "buffer")},
            "devices": [],
        }
    )
    async with write_server({1: bank}) as server:
        config.devices = [device(server.port, interval="100ms")]  # type: ignore[list-item]
        gateway = Gateway(config)
        sink = CollectingSink()
        gateway.sinks.append(sink)
        gateway.pipeline.sinks.append(sink)
        await gateway.start()
        try:
            status = gateway.devices["press-1"].status
            await sink.wait_for(lambda: len(sink.batches_of("press-1")) >= 3)
            adapter = gateway.adapters.get("modbus-tcp")
            dev = config.devices[0]
            # Ten writes at once to one register: each read back as written, in order.
            results = await asyncio.gather(
                *(adapter.write(dev, "speed", n) for n in range(1, 11))  # type: ignore[attr-defined]
            )
            assert [r.read_back for r in results] == list(range(1, 11))
            assert bank.tables["holding"][10] == 10
            seen = len(sink.batches_of("press-1"))
            await sink.wait_for(lambda: len(sink.batches_of("press-1")) >= seen + 5)
            batches = sink.batches_of("press-1")
            assert status.polls_failed == 0 and status.overruns == 0
            assert all(s.quality is GOOD for b in batches for s in b.samples if s.signal != "gone")
            latest = {s.signal: s.value for s in batches[-1].samples}
            assert latest["speed"] == 10
            gaps = [b.ts - a.ts for a, b in itertools.pairwise(batches)]
            assert max(gaps) < 250  # no scan skipped at 100 ms
        finally:
            await gateway.stop(deadline=2)
