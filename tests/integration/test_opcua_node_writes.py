"""OPC UA writes against a server not built on asyncua: node-opcua's (Node.js).

Each value goes out with the node's own data type and reads back; the value is checked at the
server with a separate client; what a node cannot hold is refused before anything is sent; and
the write service (the path HTTP and MQTT share) carries a write to a polled node-opcua device.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, ua

from adapters.opcua.adapter import OpcUaAdapter
from gateway.adapter import AdapterContext, WriteRefused
from gateway.config.models import Config, OpcUaDevice
from gateway.model import DeviceState
from gateway.service import Gateway
from tests.support.node_opcua_server import URI, NodeOpcuaServer
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

NAMES = ("Speed", "Picks", "Running", "Article")


def signals() -> list[dict[str, Any]]:
    return [
        {"name": name.lower(), "node": f"nsu={URI};s=Loom.{name}", "writable": True}
        for name in NAMES
    ]


def device(endpoint: str) -> dict[str, Any]:
    return {
        "id": "loom-1",
        "protocol": "opcua",
        "endpoint": endpoint,
        "interval": "200ms",
        "timeout": "2s",
        "signals": signals(),
    }


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeOpcuaServer]:
    server = NodeOpcuaServer(tmp_path_factory.mktemp("node-opcua-writes"))
    server.start()
    yield server
    server.stop()


async def at_server(endpoint: str) -> dict[str, tuple[ua.VariantType, Any]]:
    """Every Loom variable's type and value, read by a client of its own."""
    async with Client(endpoint) as client:
        idx = await client.get_namespace_index(URI)
        out = {}
        for name in NAMES:
            data = await client.get_node(ua.NodeId(f"Loom.{name}", idx)).read_data_value()
            assert data.Value is not None
            out[name] = (data.Value.VariantType, data.Value.Value)
        return out


WRITES: list[tuple[str, Any, ua.VariantType]] = [
    ("speed", 300, ua.VariantType.Double),  # an int written to a Double node
    ("picks", 4_000_000_001, ua.VariantType.UInt32),
    ("running", False, ua.VariantType.Boolean),
    ("article", "Tenun ikat", ua.VariantType.String),
]


async def test_node_opcua_takes_each_value_with_its_nodes_type(
    node_server: NodeOpcuaServer, tmp_path: Path
) -> None:
    adapter = OpcUaAdapter(AdapterContext(state_dir=tmp_path))
    dev = OpcUaDevice.model_validate(device(node_server.endpoint))
    for signal, value, kind in WRITES:
        outcome = await adapter.write(dev, signal, value)
        assert outcome.read_back == value, signal
        assert (await at_server(node_server.endpoint))[signal.capitalize()] == (kind, value)

    before = await at_server(node_server.endpoint)
    refused = [
        ("picks", -1, "outside what an UInt32 holds"),
        ("picks", 2.5, "write a whole number"),
        ("running", 1, "write true or false"),
        ("speed", "fast", "write a number"),
    ]
    for signal, value, reason in refused:
        with pytest.raises(WriteRefused, match=reason):
            await adapter.write(dev, signal, value)
    assert await at_server(node_server.endpoint) == before  # nothing was sent


async def test_the_write_service_writes_to_a_polled_node_opcua_device(
    node_server: NodeOpcuaServer, tmp_path: Path
) -> None:
    config = Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "gw"},
            "mqtt": {"enabled": False},
            "buffer": {"path": str(tmp_path / "buffer")},
            "devices": [device(node_server.endpoint)],
        }
    )
    gateway = Gateway(config)
    await gateway.start()
    try:
        status = gateway.devices["loom-1"].status
        await eventually(lambda: status.state is DeviceState.ONLINE, timeout=20)
        await eventually(lambda: "speed" in gateway.board.latest("loom-1"), timeout=20)
        written = await gateway.writes.write("loom-1", "speed", 312.5, "technician")
        assert (written.value, written.read_back) == (312.5, 312.5)
        assert (await at_server(node_server.endpoint))["Speed"] == (ua.VariantType.Double, 312.5)

        def polled_speed() -> object:
            sample = gateway.board.latest("loom-1").get("speed")
            return sample is not None and sample.value == 312.5

        await eventually(polled_speed)  # the next scans read what was written
        entry = gateway.writes.record.latest(1)[0]
        assert (entry["device"], entry["signal"], entry["result"]) == ("loom-1", "speed", "ok")
    finally:
        await gateway.stop(deadline=2)
