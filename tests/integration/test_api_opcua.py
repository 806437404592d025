"""The HTTP API with an OPC UA device: a technician's test read and browse, over real HTTP, with
a real asyncua server and a running gateway subscribed to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.api import RunningGateway, config_data, running_gateway
from tests.support.mosquitto import Mosquitto
from tests.support.opcua_server import URI, OpcServer
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def gw(tmp_path: Path, mosquitto: Mosquitto, opc: OpcServer) -> AsyncIterator[RunningGateway]:
    roaster = {
        "id": "roaster-1",
        "protocol": "opcua",
        "endpoint": opc.endpoint,
        "interval": "200ms",
        "signals": [
            {"name": "temperature", "node": f"nsu={URI};s=Furnace.Temperature", "unit": "degC"},
            {"name": "ghost", "node": f"nsu={URI};s=Furnace.Nothing"},
        ],
    }
    async with running_gateway(
        tmp_path / "gateway.yaml", config_data(tmp_path, mosquitto.port, [roaster])
    ) as running:
        yield running


async def test_test_read_of_an_opcua_device(gw: RunningGateway, opc: OpcServer) -> None:
    response = await gw.client.post("/api/v1/devices/roaster-1/test", headers=gw.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["signals"]["temperature"]["value"] == 1452.5
    assert body["signals"]["temperature"]["unit"] == "degC"
    assert body["signals"]["ghost"]["quality"] == "bad"
    assert "BadNodeIdUnknown" in body["signals"]["ghost"]["error"]
    assert body["ok"] is False and body["error"] is None
    # The running device was not disturbed: its subscription still delivers a new value.
    await opc.write("Temperature", 1500.0)
    latest = gw.gateway.board.latest("roaster-1")
    await eventually(lambda: latest["temperature"].value == 1500.0)


async def test_browse_an_opcua_device(gw: RunningGateway, opc: OpcServer) -> None:
    response = await gw.client.get("/api/v1/devices/roaster-1/browse", params={"depth": 2})
    assert response.status_code == 200, response.text
    items = {item["path"]: item for item in response.json()}
    temperature = items["Furnace/Temperature"]
    assert temperature["node"] == f"nsu={URI};s=Furnace.Temperature"
    assert (temperature["data_type"], temperature["value"]) == ("Double", 1452.5)
    assert items["Furnace/Profile"]["readable"] is False
    below = await gw.client.get(
        "/api/v1/devices/roaster-1/browse", params={"node": f"nsu={URI};s=Furnace", "depth": 1}
    )
    assert {item["name"] for item in below.json()} >= {"Temperature", "Recipe", "Parts"}
    bad = await gw.client.get("/api/v1/devices/roaster-1/browse", params={"node": "nonsense"})
    assert bad.status_code == 400 and "node id" in bad.json()["detail"]
    missing = await gw.client.get("/api/v1/devices/nope/browse")
    assert missing.status_code == 404
    await opc.stop()
    down = await gw.client.get("/api/v1/devices/roaster-1/browse")
    assert down.status_code == 502 and "roaster-1" in down.json()["detail"]
