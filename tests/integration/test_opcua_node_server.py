"""The OPC UA adapter against a server not built on asyncua: node-opcua's (Node.js).

Subscription and polling deliver exact values, a value written at the server arrives, and
browse finds the variables with node ids the adapter reads.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import Client, ua

from adapters.opcua.browse import browse
from adapters.opcua.session import open_session
from gateway.config.models import OpcUaDevice
from gateway.model import DeviceState
from tests.support.node_opcua_server import URI, NodeOpcuaServer

pytestmark = pytest.mark.integration

SIGNALS = [
    {"name": "speed", "node": f"nsu={URI};s=Loom.Speed", "unit": "picks/min"},
    {"name": "picks", "node": f"nsu={URI};s=Loom.Picks"},
    {"name": "running", "node": f"nsu={URI};s=Loom.Running"},
    {"name": "article", "node": f"nsu={URI};s=Loom.Article"},
]
EXPECTED = {"speed": 312.5, "picks": 123456, "running": True, "article": "Songket"}


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeOpcuaServer]:
    server = NodeOpcuaServer(tmp_path_factory.mktemp("node-opcua"))
    server.start()
    yield server
    server.stop()


async def write(endpoint: str, name: str, value: float) -> None:
    async with Client(endpoint) as client:
        idx = await client.get_namespace_index(URI)
        node = client.get_node(ua.NodeId(f"Loom.{name}", idx))
        await node.write_value(ua.Variant(value, ua.VariantType.Double))


@pytest.mark.parametrize("subscribe", [True, False])
async def test_exact_values_and_a_write_from_node_opcua(node_server, reader, subscribe) -> None:
    reader.start(node_server.endpoint, SIGNALS, subscribe=subscribe)
    await reader.sink.wait_for(lambda: reader.good() == EXPECTED, 20)
    await write(node_server.endpoint, "Speed", 288.0 if subscribe else 277.0)
    expected = 288.0 if subscribe else 277.0
    await reader.sink.wait_for(lambda: reader.good().get("speed") == expected, 5)
    await write(node_server.endpoint, "Speed", 312.5)


async def test_browse_a_node_opcua_server(node_server, tmp_path: Path) -> None:
    device = OpcUaDevice(id="b", protocol="opcua", endpoint=node_server.endpoint)
    session = await open_session(device, None)
    try:
        nodes = {n.path: n for n in await browse(session.client, "i=85", depth=2)}
    finally:
        await session.close()
    speed = nodes["Loom/Speed"]
    assert speed.node == f"nsu={URI};s=Loom.Speed" and speed.data_type == "Double"
    assert speed.value == 312.5


async def test_a_frozen_server_is_noticed_within_seconds_and_recovered(node_server, reader) -> None:
    """SIGSTOP: the socket stays open but nothing answers, as with a hung PLC or a cut cable."""
    poller = reader.start(node_server.endpoint, SIGNALS[:1])
    await reader.sink.wait_for(lambda: reader.good().get("speed") == 312.5, 20)
    assert node_server.proc is not None
    loop = asyncio.get_running_loop()
    node_server.proc.send_signal(signal.SIGSTOP)
    try:
        frozen = loop.time()
        await reader.sink.wait_for(lambda: poller.status.state is DeviceState.ERROR, 10)
        assert loop.time() - frozen < 5.0, "keep-alive loss noticed too late"
    finally:
        node_server.proc.send_signal(signal.SIGCONT)
    await reader.sink.wait_for(lambda: poller.status.state is DeviceState.ONLINE, 20)
