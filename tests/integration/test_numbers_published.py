"""Numbers as a person would write them, everywhere they are published (SPEC "What a reading
becomes"): `gerbang run` reads a real Modbus server and publishes to a real mosquitto, a real
InfluxDB 1.x and its HTTP API; raw 513 × 0.1 is `51.3` and the float32 of 1.1 is `1.1` in the
MQTT payload's bytes, in the database and in GET /api/v1/values.
"""

from __future__ import annotations

import asyncio
import json
import struct
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from asyncua import ua

from tests.support.gateway_process import GatewayProcess
from tests.support.influx import Influxd
from tests.support.modbus_server import BankServer, RegisterBank, free_port
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.opcua_server import URI, OpcServer
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

BASE = "factory/pasuruan/numbers-1"


def f32(value: float) -> list[int]:
    return list(struct.unpack(">2H", struct.pack(">f", value)))


SIGNALS: list[dict[str, Any]] = [
    {"name": "power_kw", "table": "input", "address": 10, "type": "uint16", "scale": 0.1},
    {
        "name": "temp_c",
        "table": "holding",
        "address": 2,
        "type": "int16",
        "scale": 0.01,
        "offset": -40,
    },
    {"name": "ratio", "table": "holding", "address": 0, "type": "float32"},
    {"name": "level", "table": "holding", "address": 4, "type": "float32", "decimals": 2},
]
WRITTEN = {"power_kw": "51.3", "temp_c": "30.01", "ratio": "1.1", "level": "2.35"}


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


@pytest.fixture
async def machine() -> AsyncIterator[BankServer]:
    bank = RegisterBank()
    bank.set("input", 10, [513])
    bank.set("holding", 2, [7001])
    bank.set("holding", 0, f32(1.1))
    bank.set("holding", 4, f32(2.345678))
    server = BankServer({1: bank})
    await server.start_tcp()
    yield server
    await server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    server = Mosquitto(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[Influxd]:
    server = Influxd(tmp_path / "influxd")
    server.start()
    server.execute("CREATE DATABASE telemetry")
    yield server
    server.stop()


async def test_numbers_are_written_as_a_person_would_everywhere(
    tmp_path: Path, machine: BankServer, broker: Mosquitto, influxd: Influxd
) -> None:
    api_port = free_port()
    config = {
        "version": 1,
        "gateway": {"id": "numbers", "site": "pasuruan"},
        "api": {"listen": f"127.0.0.1:{api_port}"},
        "mqtt": {"host": broker.host, "port": broker.port, "retain": False},
        "influxdb": {"enabled": True, "url": influxd.url, "api": "v1", "database": "telemetry"},
        "buffer": {"path": str(tmp_path / "buffer")},
        "devices": [
            {
                "id": "numbers-1",
                "protocol": "modbus-tcp",
                "host": "127.0.0.1",
                "port": machine.port,
                "interval": "200ms",
                "measurement": "numbers",
                "signals": SIGNALS,
            }
        ],
    }
    path = tmp_path / "gw.json"
    path.write_bytes(orjson.dumps(config))
    sub = await Subscriber(broker, f"{BASE}/#").ready()
    gateway = GatewayProcess(path)
    try:
        await sub.wait_for(lambda: all(sub.last(f"{BASE}/{n}") for n in WRITTEN), timeout=30)
        for name, written in WRITTEN.items():
            payload = sub.last(f"{BASE}/{name}").payload  # the bytes, not a parse of them
            assert f'"value":{written},'.encode() in payload, payload

        def rows() -> list[dict[str, Any]]:
            return influxd.query("SELECT * FROM numbers")

        await eventually(rows, timeout=30)
        row = rows()[0]
        assert {name: repr(row[name]) for name in WRITTEN} == WRITTEN

        body = await asyncio.to_thread(get, f"http://127.0.0.1:{api_port}/api/v1/values")
        values = json.loads(body)["devices"]["numbers-1"]
        assert {name: repr(values[name]["value"]) for name in WRITTEN} == WRITTEN
        for written in WRITTEN.values():
            assert f'"value":{written},' in body
    finally:
        sub.close()
        assert gateway.stop() == 0, gateway.log.read_text()[-3000:]


@pytest.mark.parametrize("subscribe", [True, False])
async def test_an_opcua_float_is_its_shortest_decimal_and_decimals_round(reader, subscribe) -> None:
    opc = OpcServer()
    opc.values["Ratio"] = (1.1, ua.VariantType.Float)
    opc.values["Level"] = (2.345678, ua.VariantType.Double)
    await opc.start()
    try:
        reader.start(
            opc.endpoint,
            [
                {"name": "ratio", "node": f"nsu={URI};s=Furnace.Ratio"},
                {"name": "level", "node": f"nsu={URI};s=Furnace.Level", "decimals": 2},
                {"name": "temperature", "node": f"nsu={URI};s=Furnace.Temperature"},
            ],
            subscribe=subscribe,
        )
        await reader.sink.wait_for(lambda: len(reader.good()) == 3)
        written = {name: repr(value) for name, value in reader.good().items()}
        assert written == {"ratio": "1.1", "level": "2.35", "temperature": "1452.5"}
    finally:
        await opc.stop()
