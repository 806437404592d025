"""The HTTP API with a Siemens S7 and a MELSEC device: a technician's test read, over real HTTP,
against python-snap7's server and our MC server, with a running gateway polling both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulators.frontends.mc_server import McMemory, McServer
from simulators.frontends.s7_server import S7Memory
from tests.support.api import RunningGateway, config_data, running_gateway
from tests.support.modbus_server import free_port
from tests.support.mosquitto import Mosquitto
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


def s7_entry(port: int) -> dict:
    return {
        "id": "press-3",
        "protocol": "s7",
        "host": "127.0.0.1",
        "port": port,
        "interval": "200ms",
        "timeout": "500ms",
        "signals": [
            {"name": "oil_temp", "address": "DB1.DBD0", "type": "float32", "unit": "degC"},
            {"name": "pressure", "address": "DB1.DBW8", "type": "int16", "scale": 0.1},
            {"name": "running", "address": "DB1.DBX10.0"},
            {"name": "recipe", "address": "DB1.DBB12", "type": "string", "length": 8},
            {
                "name": "speed_sp",
                "address": "DB1.DBW22",
                "type": "int16",
                "scale": 0.1,
                "writable": True,
                "min": 0,
                "max": 100,
            },
        ],
    }


def mc_entry(port: int) -> dict:
    return {
        "id": "welder-2",
        "protocol": "mc",
        "host": "127.0.0.1",
        "port": port,
        "interval": "200ms",
        "timeout": "500ms",
        "signals": [
            {"name": "current_a", "address": "D100", "type": "int16", "scale": 0.1},
            {"name": "welds", "address": "D200", "type": "uint32"},
            {"name": "running", "address": "M10"},
            {"name": "door", "address": "X1A"},
            {"name": "enable", "address": "M20", "writable": True},
        ],
    }


@pytest.fixture
async def plcs() -> AsyncIterator[tuple[S7Memory, McServer]]:
    s7 = S7Memory()
    s7.add_db(1, 32)
    s7.pack("DB", 1, 0, ">f", 812.5)
    s7.pack("DB", 1, 8, ">h", -153)
    s7.write("DB", 1, 10, b"\x01")
    s7.write("DB", 1, 12, bytes([8, 5]) + b"PN-42")
    s7.start()
    memory = McMemory({"D": 1000, "M": 100, "X": 64})
    memory.pack("D", 100, "<h", 1234)
    memory.pack("D", 200, "<I", 70_000)
    memory.set_bits("M", 10, [True])
    memory.set_bits("X", 0x1A, [True])
    mc = await McServer(memory).start()
    yield s7, mc
    await mc.stop()
    s7.stop()


@pytest.fixture
async def gw(
    tmp_path: Path, mosquitto: Mosquitto, plcs: tuple[S7Memory, McServer]
) -> AsyncIterator[RunningGateway]:
    s7, mc = plcs
    data = config_data(tmp_path, mosquitto.port, [s7_entry(s7.port), mc_entry(mc.port)])
    async with running_gateway(tmp_path / "gateway.yaml", data) as running:
        yield running


async def test_test_read_of_an_s7_device(gw: RunningGateway, plcs) -> None:
    s7, _ = plcs
    response = await gw.client.post("/api/v1/devices/press-3/test", headers=gw.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True, body
    values = {name: s["value"] for name, s in body["signals"].items()}
    assert values == {
        "oil_temp": 812.5,
        "pressure": -15.3,
        "running": True,
        "recipe": "PN-42",
        "speed_sp": 0.0,
    }
    assert body["signals"]["oil_temp"]["unit"] == "degC"
    # A candidate entry with an absent DB: that signal alone is bad, and it names the address.
    entry = s7_entry(s7.port)
    entry["signals"].append({"name": "ghost", "address": "DB9.DBW0", "type": "int16"})
    running = gw.gateway.devices["press-3"].status
    failed_before = running.polls_failed
    response = await gw.client.post("/api/v1/devices/press-3/test", json=entry, headers=gw.auth())
    body = response.json()
    assert body["ok"] is False and body["signals"]["oil_temp"]["value"] == 812.5
    assert body["signals"]["ghost"]["quality"] == "bad"
    assert "DB9" in body["signals"]["ghost"]["error"], body["signals"]["ghost"]
    assert running.polls_failed == failed_before and "ghost" not in running.signal_errors
    # A malformed address is refused as PUT would refuse it, naming what is valid.
    entry["signals"][-1]["address"] = "DB1.DBQ0"
    response = await gw.client.post("/api/v1/devices/press-3/test", json=entry, headers=gw.auth())
    assert response.status_code == 422, response.text
    # A PLC that does not answer: the error names the device.
    dead = {**s7_entry(free_port()), "timeout": "300ms"}
    response = await gw.client.post("/api/v1/devices/press-3/test", json=dead, headers=gw.auth())
    assert response.json()["ok"] is False and "press-3" in response.json()["error"]


async def test_test_read_of_an_mc_device(gw: RunningGateway, plcs) -> None:
    _, mc = plcs
    response = await gw.client.post("/api/v1/devices/welder-2/test", headers=gw.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True, body
    values = {name: s["value"] for name, s in body["signals"].items()}
    assert values == {
        "current_a": 123.4,
        "welds": 70_000,
        "running": True,
        "door": True,
        "enable": False,
    }
    entry = mc_entry(mc.port)
    entry["signals"].append({"name": "far", "address": "D5000"})
    response = await gw.client.post("/api/v1/devices/welder-2/test", json=entry, headers=gw.auth())
    body = response.json()
    assert body["ok"] is False and body["signals"]["welds"]["value"] == 70_000
    assert "D5000" in body["signals"]["far"]["error"], body["signals"]["far"]
    assert "out of range" in body["signals"]["far"]["error"]
    entry["signals"][-1]["address"] = "X1G"
    response = await gw.client.post("/api/v1/devices/welder-2/test", json=entry, headers=gw.auth())
    assert response.status_code == 422, response.text
    # The running devices kept reading through the same links meanwhile.
    await eventually(lambda: gw.gateway.board.latest("welder-2").get("welds") is not None)
    assert gw.gateway.board.latest("welder-2")["welds"].value == 70_000


async def test_writes_over_http_to_s7_and_mc(gw: RunningGateway, plcs) -> None:
    s7, mc = plcs
    url = "/api/v1/devices/{}/signals/{}/write"
    response = await gw.client.post(
        url.format("press-3", "speed_sp"), json={"value": 42.5}, headers=gw.auth()
    )
    assert response.status_code == 200, response.text
    assert response.json()["read_back"] == 42.5
    assert s7.dbs[1][22:24] == (425).to_bytes(2, "big")
    response = await gw.client.post(
        url.format("welder-2", "enable"), json={"value": True}, headers=gw.auth()
    )
    assert response.status_code == 200, response.text
    assert mc.memory.bits["M"][20] is True
    # The running device reads the new value.
    await eventually(lambda: gw.gateway.board.latest("welder-2")["enable"].value is True)
    # Beyond its max: refused by the service, nothing written.
    response = await gw.client.post(
        url.format("press-3", "speed_sp"), json={"value": 150}, headers=gw.auth()
    )
    assert response.status_code == 422, response.text
    assert s7.dbs[1][22:24] == (425).to_bytes(2, "big")
