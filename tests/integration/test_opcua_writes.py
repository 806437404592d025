"""OPC UA writes and method calls against a real asyncua server: each value written with its
node's own data type and read back, refusals before anything is sent, a server that answers
Good and keeps its value, a dead endpoint, and method calls with typed arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua

from adapters.opcua.adapter import OpcUaAdapter
from gateway.adapter import AdapterContext, DeviceUnreachable, ReadBackMismatch, WriteRefused
from gateway.config.models import OpcUaDevice
from tests.support.opcua_server import URI, OpcServer, free_port

pytestmark = pytest.mark.integration

NAMES = ("Temperature", "Pressure", "Parts", "Running", "Recipe", "Label")


def device(endpoint: str, **extra: Any) -> OpcUaDevice:
    signals = [
        {"name": name.lower(), "node": f"nsu={URI};s=Furnace.{name}", "writable": True}
        for name in NAMES
    ]
    signals.append({"name": "setpoint", "node": f"nsu={URI};s=Furnace.Setpoint", "writable": True})
    signals.append({"name": "locked", "node": f"nsu={URI};s=Furnace.Temperature"})
    return OpcUaDevice.model_validate(
        {
            "id": "roaster-1",
            "protocol": "opcua",
            "endpoint": endpoint,
            "timeout": "1s",
            "signals": signals,
            "methods": [
                {
                    "name": "start_batch",
                    "object": f"nsu={URI};s=Furnace",
                    "method": f"nsu={URI};s=Furnace.StartBatch",
                }
            ],
            **extra,
        }
    )


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[OpcServer, OpcUaAdapter, list[Any]]]:
    opc = OpcServer()
    await opc.start()
    assert opc.server is not None
    idx = await opc.namespace_index()
    furnace = opc.server.get_node(ua.NodeId("Furnace", idx))
    setpoint = await furnace.add_variable(
        ua.NodeId("Furnace.Setpoint", idx),
        ua.QualifiedName("Setpoint", idx),
        ua.Variant(200.0, ua.VariantType.Float),
    )
    await setpoint.set_writable()
    calls: list[Any] = []

    def start_batch(parent: ua.NodeId, recipe: ua.Variant, size: ua.Variant) -> list[ua.Variant]:
        calls.append((recipe.VariantType, recipe.Value, size.VariantType, size.Value))
        return [ua.Variant(f"batch {recipe.Value} x{size.Value}", ua.VariantType.String)]

    await furnace.add_method(
        ua.NodeId("Furnace.StartBatch", idx),
        ua.QualifiedName("StartBatch", idx),
        start_batch,
        [
            ua.Argument(Name="recipe", DataType=ua.NodeId(ua.ObjectIds.String), ValueRank=-1),
            ua.Argument(Name="size", DataType=ua.NodeId(ua.ObjectIds.UInt16), ValueRank=-1),
        ],
        [ua.VariantType.String],
    )
    adapter = OpcUaAdapter(AdapterContext(state_dir=tmp_path))
    try:
        yield opc, adapter, calls
    finally:
        await opc.stop()


async def server_value(opc: OpcServer, name: str) -> ua.Variant:
    data = await opc.nodes[name].read_data_value()
    return data.Value


WRITES: list[tuple[str, Any, ua.VariantType]] = [
    ("temperature", 1450, ua.VariantType.Double),  # an int written to a Double node
    ("pressure", -7, ua.VariantType.Int32),  # not the Int64 Python's ints become
    ("parts", 4_000_000_001, ua.VariantType.UInt32),
    ("running", False, ua.VariantType.Boolean),
    ("recipe", "PP-XL", ua.VariantType.String),
]
REFUSED: list[tuple[str, Any, str]] = [
    ("pressure", 2**31, "outside what an Int32 holds"),
    ("pressure", 1.5, "write a whole number"),
    ("running", 1, "write true or false"),
    ("temperature", "hot", "write a number"),
    ("locked", 3.0, "not writable"),
]


async def test_each_value_is_written_with_its_nodes_type_and_read_back(served) -> None:
    opc, adapter, _ = served
    dev = device(opc.endpoint)
    for signal, value, kind in WRITES:
        outcome = await adapter.write(dev, signal, value)
        assert outcome.read_back == value, signal
        written = await server_value(opc, signal.capitalize())
        assert (written.VariantType, written.Value) == (kind, value)
    outcome = await adapter.write(dev, "setpoint", 145.3)  # a Float node
    assert (outcome.value, outcome.read_back) == (145.3, 145.3)
    outcome = await adapter.write(dev, "label", "Tungku 2")
    assert outcome.read_back == "Tungku 2"
    assert (await server_value(opc, "Label")).VariantType == ua.VariantType.LocalizedText


async def test_a_value_the_node_cannot_hold_is_refused_before_sending(served) -> None:
    opc, adapter, _ = served
    before = {name: (await server_value(opc, name)).Value for name in NAMES}
    for signal, value, reason in REFUSED:
        with pytest.raises(WriteRefused, match=reason):
            await adapter.write(device(opc.endpoint), signal, value)
    assert {name: (await server_value(opc, name)).Value for name in NAMES} == before


async def test_a_server_that_keeps_its_value_is_a_mismatch(served) -> None:
    opc, adapter, _ = served
    assert opc.server is not None
    node = opc.nodes["Pressure"]

    # The server's own logic puts the old value back as soon as a client writes (a PLC
    # program that owns the variable): the Write itself answers Good.
    async def keep_old(_node_id: Any, _attr: Any) -> None:
        await node.write_value(ua.Variant(-12, ua.VariantType.Int32))

    opc.server.iserver.aspace.add_datachange_callback(node.nodeid, ua.AttributeIds.Value, keep_old)
    with pytest.raises(ReadBackMismatch, match=r"wrote 99 to pressure but read back -12"):
        await adapter.write(device(opc.endpoint), "pressure", 99)


async def test_an_endpoint_that_does_not_answer_is_unreachable(tmp_path: Path) -> None:
    adapter = OpcUaAdapter(AdapterContext(state_dir=tmp_path))
    dead = f"opc.tcp://127.0.0.1:{free_port()}/"
    with pytest.raises(DeviceUnreachable):
        await adapter.write(device(dead), "temperature", 1.0)


async def test_a_method_is_called_with_its_declared_argument_types(served) -> None:
    opc, adapter, calls = served
    dev = device(opc.endpoint)
    assert await adapter.call(dev, "start_batch", ["PP-ABS", 12]) == ["batch PP-ABS x12"]
    assert calls == [(ua.VariantType.String, "PP-ABS", ua.VariantType.UInt16, 12)]
    with pytest.raises(WriteRefused, match=r"takes 2 arguments \(recipe \(String\), size"):
        await adapter.call(dev, "start_batch", ["PP-ABS"])
    with pytest.raises(WriteRefused, match="outside what an UInt16 holds"):
        await adapter.call(dev, "start_batch", ["PP-ABS", 70_000])
    with pytest.raises(WriteRefused, match="lists no method"):
        await adapter.call(dev, "stop", [])
    assert len(calls) == 1
