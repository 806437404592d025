"""S7 and MC writes through the real adapters (made by the wiring table), against python-snap7's
server (`S7Memory`) and our MC server on 127.0.0.1: every type written and read back exactly,
a bit written with its neighbours kept, a scaled setpoint, values refused with nothing sent,
an absent DB, a PLC that acknowledges and keeps its value, and a dead PLC."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.adapter import (
    AdapterContext,
    AdapterError,
    DeviceUnreachable,
    ReadBackMismatch,
    Writer,
    WriteRefused,
)
from gateway.config.models import Config
from gateway.protocols import Adapters
from simulators.frontends.mc_server import McMemory, McServer
from simulators.frontends.s7_server import S7Memory
from tests.support.modbus_server import free_port

pytestmark = pytest.mark.integration


def device(protocol: str, port: int, signals: list[dict[str, Any]]) -> Any:
    entry: dict[str, Any] = {
        "id": "plc-1",
        "protocol": protocol,
        "host": "127.0.0.1",
        "port": port,
        "timeout": "500ms",
        "signals": [{**s, "writable": True} for s in signals],
    }
    config = Config.model_validate(
        {"version": 1, "gateway": {"id": "gw"}, "mqtt": {"enabled": False}, "devices": [entry]}
    )
    return config.devices[0]


@pytest.fixture
async def adapters(tmp_path: Path) -> AsyncIterator[Adapters]:
    wiring = Adapters(AdapterContext(state_dir=tmp_path))
    yield wiring
    wiring.close()


S7_SIGNALS = [
    {"name": "b", "address": "DB1.DBX10.3"},
    {"name": "i8", "address": "DB1.DBB11", "type": "int8"},
    {"name": "i16", "address": "DB1.DBW12", "type": "int16"},
    {"name": "u16", "address": "DB1.DBW14", "type": "uint16"},
    {"name": "i32", "address": "DB1.DBD16", "type": "int32"},
    {"name": "u32", "address": "DB1.DBD20", "type": "uint32"},
    {"name": "f32", "address": "DB1.DBD24", "type": "float32"},
    {"name": "f64", "address": "DB1.DBD28", "type": "float64"},
    {"name": "setpoint", "address": "DB1.DBW36", "type": "int16", "scale": 0.1},
    {"name": "recipe", "address": "DB1.DBB40", "type": "string", "length": 10},
    {"name": "merker", "address": "MW20", "type": "uint16"},
    {"name": "ghost", "address": "DB7.DBW0", "type": "int16"},
]


@pytest.fixture
def s7() -> Any:
    mem = S7Memory()
    mem.add_db(1, 64)
    mem.write("DB", 1, 10, bytes([0b1000_0001]))  # bits 0 and 7 set: they must stay
    with mem:
        yield mem


async def test_s7_writes_every_type_and_reads_it_back(adapters: Adapters, s7: S7Memory) -> None:
    dev = device("s7", s7.port, S7_SIGNALS)
    writer = adapters.get("s7")
    assert isinstance(writer, Writer)
    cases = [
        ("b", True),
        ("i8", -100),
        ("i16", -12345),
        ("u16", 54321),
        ("i32", -2_000_000_000),
        ("u32", 4_000_000_000),
        ("f32", 812.5),
        ("f64", -0.1),
        ("setpoint", 145.3),
        ("recipe", "PN-42"),
        ("merker", 7),
    ]
    for name, value in cases:
        outcome = await writer.write(dev, name, value)
        assert (outcome.value, outcome.read_back) == (value, value), name
    db = s7.dbs[1]
    assert db[10] == 0b1000_1001  # bit 3 set, bits 0 and 7 kept
    assert struct.unpack_from(">h", db, 12)[0] == -12345
    assert struct.unpack_from(">I", db, 20)[0] == 4_000_000_000
    assert struct.unpack_from(">f", db, 24)[0] == 812.5
    assert struct.unpack_from(">h", db, 36)[0] == 1453  # 145.3 at scale 0.1
    assert bytes(db[40:47]) == bytes([10, 5]) + b"PN-42"  # STRING[10], 5 characters
    assert struct.unpack_from(">H", s7.areas["M"], 20)[0] == 7
    outcome = await writer.write(dev, "b", False)
    assert outcome.read_back is False and db[10] == 0b1000_0001


async def test_s7_refuses_before_sending_and_names_the_failures(
    adapters: Adapters, s7: S7Memory
) -> None:
    dev = device("s7", s7.port, S7_SIGNALS)
    writer = adapters.get("s7")
    assert isinstance(writer, Writer)
    before = s7.reads
    for name, value, words in [
        ("setpoint", 145.35, "whole numbers"),
        ("i8", 200, "out of range"),
        ("b", 1, "true or false"),
        ("recipe", "much too long for it", "10 characters"),
        ("u16", "7", "a number"),
    ]:
        with pytest.raises(WriteRefused, match=words):
            await writer.write(dev, name, value)
    assert s7.reads == before  # nothing was sent: not even a connect's read
    with pytest.raises(AdapterError) as refused:
        await writer.write(dev, "ghost", 1)
    assert "DB7.DBW0" in str(refused.value), refused.value
    assert not isinstance(refused.value, DeviceUnreachable)  # the PLC answered: this address
    outcome = await writer.write(dev, "u16", 9)  # the connection was kept
    assert outcome.read_back == 9
    dead = device("s7", free_port(), S7_SIGNALS[:1])
    with pytest.raises(DeviceUnreachable):
        await writer.write(dead, "b", True)


MC_SIGNALS = [
    {"name": "i16", "address": "D100", "type": "int16"},
    {"name": "u32", "address": "D200", "type": "uint32"},
    {"name": "i64", "address": "D210", "type": "int64"},
    {"name": "f32", "address": "D220", "type": "float32"},
    {"name": "setpoint", "address": "D230", "type": "int16", "scale": 0.1},
    {"name": "code", "address": "D240", "type": "string", "length": 4},
    {"name": "flag", "address": "D250.A"},
    {"name": "run", "address": "M10"},
    {"name": "out", "address": "Y1A"},
    {"name": "far", "address": "D5000"},
]


class KeepsItsValues(McMemory):
    """A CPU whose D registers the ladder program overwrites every scan: a write is
    acknowledged (end code 0) and the old value stays."""

    def write_words(self, device: str, number: int, points: int, data: bytes) -> None:
        self._check(device, number, points)


@pytest.fixture
async def mc() -> AsyncIterator[McServer]:
    memory = McMemory({"D": 1000, "M": 100, "Y": 64})
    memory.set_words("D", 250, [0b0000_0000_0000_0101])  # bits 0 and 2: they must stay
    memory.set_bits("M", 9, [True, False, True])
    async with McServer(memory) as server:
        yield server


async def test_mc_writes_every_type_and_reads_it_back(adapters: Adapters, mc: McServer) -> None:
    dev = device("mc", mc.port, MC_SIGNALS)
    writer = adapters.get("mc")
    assert isinstance(writer, Writer)
    cases = [
        ("i16", -321),
        ("u32", 70_000),
        ("i64", -(2**40)),
        ("f32", 0.25),
        ("setpoint", 12.7),
        ("code", "AB12XY"),
        ("flag", True),
        ("run", True),
        ("out", True),
    ]
    for name, value in cases:
        outcome = await writer.write(dev, name, value)
        assert (outcome.value, outcome.read_back) == (value, value), name
    words = mc.memory.words["D"]
    assert words[200:202] == [70_000 & 0xFFFF, 70_000 >> 16]  # low word first
    assert words[230] == 127
    assert words[240:244] == [ord("A") | ord("B") << 8, ord("1") | ord("2") << 8, 0x5958, 0]
    assert words[250] == 0b0000_0100_0000_0101  # bit A set, bits 0 and 2 kept
    assert mc.memory.bits["M"][9:12] == [True, True, True]
    assert mc.memory.bits["Y"][0x1A] is True
    outcome = await writer.write(dev, "run", False)
    assert outcome.read_back is False and mc.memory.bits["M"][9:12] == [True, False, True]
    before = mc.requests
    with pytest.raises(WriteRefused, match="whole numbers"):
        await writer.write(dev, "setpoint", 12.75)
    with pytest.raises(WriteRefused, match="out of range"):
        await writer.write(dev, "i16", 40_000)
    assert mc.requests == before  # nothing was sent
    with pytest.raises(AdapterError, match="address out of range") as far:
        await writer.write(dev, "far", 1)
    assert "D5000" in str(far.value)


async def test_mc_a_write_the_plc_does_not_keep_is_a_mismatch(adapters: Adapters) -> None:
    memory = KeepsItsValues({"D": 1000})
    memory.set_words("D", 230, [100])
    async with McServer(memory) as server:
        dev = device("mc", server.port, MC_SIGNALS)
        writer = adapters.get("mc")
        assert isinstance(writer, Writer)
        with pytest.raises(ReadBackMismatch, match=r"read back 10\.0") as mismatch:
            await writer.write(dev, "setpoint", 12.5)
    assert (mismatch.value.written, mismatch.value.read_back) == (12.5, 10.0)
    with pytest.raises(DeviceUnreachable):
        await writer.write(device("mc", free_port(), MC_SIGNALS), "i16", 1)
