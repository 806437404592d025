"""The OPC UA adapter against a real asyncua server on loopback: subscription and polling deliver
exact values, a written value arrives within about one interval, an unknown node or an array is
isolated, a restart with renumbered namespaces is survived, Sign&Encrypt works end to end, and
reconnects leak no tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from asyncua import ua

from gateway.config.models import OpcUaDevice
from gateway.config.nodeids import parse_node_id
from gateway.model import BAD, DeviceState
from tests.support.opcua_server import URI, OpcServer, make_pki
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

SIGNALS = [
    {"name": "temperature", "node": f"nsu={URI};s=Furnace.Temperature", "unit": "degC"},
    {"name": "pressure", "node": f"nsu={URI};s=Furnace.Pressure"},
    {"name": "parts", "node": f"nsu={URI};s=Furnace.Parts"},
    {"name": "running", "node": f"nsu={URI};s=Furnace.Running"},
    {"name": "recipe", "node": f"nsu={URI};s=Furnace.Recipe"},
    {"name": "label", "node": f"nsu={URI};s=Furnace.Label"},
]
EXPECTED = {
    "temperature": 1452.5,
    "pressure": -12,
    "parts": 4000000000,
    "running": True,
    "recipe": "PP-ABS",
    "label": "Tungku 1",
}


def client_tasks() -> int:
    """Tasks of the client side (the test server runs in the same loop)."""
    count = 0
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code else ""
        if "asyncua/server" not in filename:
            count += 1
    return count


@pytest.fixture
async def server() -> AsyncIterator[OpcServer]:
    opc = OpcServer()
    await opc.start()
    yield opc
    await opc.stop()


@pytest.mark.parametrize("subscribe", [True, False])
async def test_exact_values_of_every_type(server, reader, subscribe) -> None:
    reader.start(server.endpoint, SIGNALS, subscribe=subscribe)
    await reader.sink.wait_for(lambda: reader.good() == EXPECTED)
    sample = reader.pipeline.board.latest("roaster-1")["temperature"]
    assert sample.unit == "degC"
    batches = reader.sink.batches_of("roaster-1")
    assert all(b.source_ts for b in batches)
    state = reader.sink.last_state("roaster-1")
    assert state is not None and state.state is DeviceState.ONLINE


@pytest.mark.parametrize("subscribe", [True, False])
async def test_a_written_value_arrives_within_about_one_interval(server, reader, subscribe) -> None:
    reader.start(server.endpoint, SIGNALS[:1], subscribe=subscribe)
    await reader.sink.wait_for(lambda: reader.good().get("temperature") == 1452.5)
    loop = asyncio.get_running_loop()
    written = loop.time()
    await server.write("Temperature", 1500.25)
    await reader.sink.wait_for(lambda: reader.good().get("temperature") == 1500.25, 5)
    assert loop.time() - written < 0.2 * 3 + 0.3, "more than about one interval late"


@pytest.mark.parametrize("subscribe", [True, False])
async def test_unknown_nodes_arrays_and_bad_status_are_isolated(server, reader, subscribe) -> None:
    signals = [
        *SIGNALS[:2],
        {"name": "ghost", "node": f"nsu={URI};s=Furnace.NoSuchThing"},
        {"name": "profile", "node": f"nsu={URI};s=Furnace.Profile"},
        {"name": "broken", "node": f"nsu={URI};s=Furnace.Broken"},
        {"name": "elsewhere", "node": "nsu=urn:not-here;s=X"},
    ]
    poller = reader.start(server.endpoint, signals, subscribe=subscribe)
    await reader.sink.wait_for(
        lambda: (
            set(poller.status.signal_errors) == {"ghost", "profile", "broken", "elsewhere"}
            and reader.good() == {"temperature": 1452.5, "pressure": -12}
        )
    )
    errors = poller.status.signal_errors
    assert "Furnace.NoSuchThing" in errors["ghost"] and "BadNodeIdUnknown" in errors["ghost"]
    assert "array" in errors["profile"]
    assert "BadSensorFailure" in errors["broken"]
    assert "urn:not-here" in errors["elsewhere"]
    latest = reader.pipeline.board.latest("roaster-1")
    assert {n for n, s in latest.items() if s.quality is BAD} == set(errors)
    assert poller.status.state is DeviceState.ONLINE, "one bad node does not fail the device"
    summary = poller.status.last_error or ""
    assert "bad signals" in summary and "roaster-1" in summary


@pytest.mark.parametrize("subscribe", [True, False])
async def test_a_restart_with_renumbered_namespaces_is_survived(server, reader, subscribe) -> None:
    poller = reader.start(server.endpoint, SIGNALS, subscribe=subscribe)
    await reader.sink.wait_for(lambda: reader.good() == EXPECTED)
    before = await server.namespace_index()
    await server.stop()
    await reader.sink.wait_for(lambda: poller.status.state is DeviceState.ERROR, 10)
    assert "roaster-1" in (poller.status.last_error or "")
    await server.start(renumber=True)
    assert await server.namespace_index() != before, "the test must renumber"
    await server.write("Temperature", 1300.0)
    await reader.sink.wait_for(lambda: reader.good().get("temperature") == 1300.0, 15)
    assert reader.good() == {**EXPECTED, "temperature": 1300.0}
    assert poller.status.state is DeviceState.ONLINE


async def test_reconnects_leak_no_tasks_or_sessions(server, reader) -> None:
    poller = reader.start(server.endpoint, SIGNALS[:1])
    await reader.sink.wait_for(lambda: reader.good().get("temperature") == 1452.5)
    baseline = client_tasks()
    for round_ in range(5):
        await server.stop()
        await reader.sink.wait_for(lambda: poller.status.state is DeviceState.ERROR, 10)
        await server.start()
        await server.write("Temperature", 100.0 + round_)
        await reader.sink.wait_for(
            lambda r=round_: reader.good().get("temperature") == 100.0 + r, 15
        )
    # The old sessions' tasks finish shortly after the reconnect: wait for that (5 s at most).
    with contextlib.suppress(TimeoutError):
        await eventually(lambda: client_tasks() <= baseline, 5)
    assert client_tasks() <= baseline, "tasks left behind by old sessions"


async def test_sign_and_encrypt_with_the_documented_client_certificate(
    tmp_path: Path, reader
) -> None:
    server_pki = await make_pki(tmp_path / "pki", "server", "urn:gerbang:test-server", True)
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway.cli", "opcua", "cert", "--dir", str(tmp_path / "client")],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    opc = OpcServer(pki=server_pki)
    await opc.start()
    try:
        security = {
            "policy": "Basic256Sha256",
            "mode": "SignAndEncrypt",
            "certificate": str(tmp_path / "client" / "gerbang-client.der"),
            "private_key": str(tmp_path / "client" / "gerbang-client.pem"),
            "server_certificate": str(server_pki.cert),
        }
        reader.start(opc.endpoint, SIGNALS, security=security)
        await reader.sink.wait_for(lambda: reader.good() == EXPECTED, 20)
    finally:
        await reader.close()
        await opc.stop()


async def test_an_untrusted_server_certificate_is_refused_unless_trusted_on_first_use(
    tmp_path: Path, reader
) -> None:
    server_pki = await make_pki(tmp_path / "pki", "server", "urn:gerbang:test-server", True)
    client_pki = await make_pki(tmp_path / "pki", "client", "urn:gerbang:client", False)
    opc = OpcServer(pki=server_pki)
    await opc.start()
    security = {
        "policy": "Basic256Sha256",
        "mode": "SignAndEncrypt",
        "certificate": str(client_pki.cert),
        "private_key": str(client_pki.key),
    }
    try:
        refused = reader.start(opc.endpoint, SIGNALS[:1], security=security)
        await reader.sink.wait_for(lambda: refused.status.state is DeviceState.ERROR)
        assert "not trusted" in refused.status.last_error
        await reader.close()
        reader.pollers.clear()
        trust = tmp_path / "trust"
        trusting = reader.start(
            opc.endpoint,
            SIGNALS[:1],
            security={**security, "trust_on_first_use": True},
            trust_dir=trust,
        )
        await reader.sink.wait_for(lambda: reader.good().get("temperature") == 1452.5, 20)
        assert (trust / "roaster-1.der").read_bytes()
        assert trusting.status.state is DeviceState.ONLINE
    finally:
        await reader.close()
        await opc.stop()


async def test_browse_lists_variables_with_config_ready_node_ids(server) -> None:
    from adapters.opcua.browse import browse
    from adapters.opcua.session import open_session

    device = OpcUaDevice(id="b", protocol="opcua", endpoint=server.endpoint)
    session = await open_session(device, None)
    try:
        nodes = {n.path: n for n in await browse(session.client, "i=85", depth=3)}
    finally:
        await session.close()
    temperature = nodes["Furnace/Temperature"]
    assert temperature.node == f"nsu={URI};s=Furnace.Temperature"
    assert (temperature.kind, temperature.data_type, temperature.value) == (
        "variable",
        "Double",
        1452.5,
    )
    assert nodes["Furnace"].kind == "object" and nodes["Furnace"].children >= 7
    assert not nodes["Furnace/Profile"].readable and "array" in nodes["Furnace/Profile"].error
    assert not nodes["Furnace/Broken"].readable
    assert "BadSensorFailure" in nodes["Furnace/Broken"].error
    # The id it gives reads the same variable through the adapter.
    assert parse_node_id(temperature.node).uri == URI


def test_status_text_names_the_code() -> None:
    from adapters.opcua.values import status_text

    text = status_text(ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown))
    assert text.startswith("BadNodeIdUnknown (")


async def test_test_reads_and_browses_share_a_small_pool_per_endpoint(server, tmp_path) -> None:
    from adapters.opcua.adapter import PROBE_SESSIONS, OpcUaAdapter
    from gateway.adapter import AdapterContext

    adapter = OpcUaAdapter(AdapterContext(state_dir=tmp_path))
    device = OpcUaDevice.model_validate(
        {"id": "roaster-1", "protocol": "opcua", "endpoint": server.endpoint, "signals": SIGNALS}
    )
    asks = [adapter.test_read(device) for _ in range(6)]
    asks += [adapter.browse(device, "i=85", 1) for _ in range(6)]
    results = await asyncio.gather(*asks)
    assert all(results), "every caller got its answer, in turn"
    assert {s.signal: s.value for s in results[0]} == EXPECTED
    assert 1 <= adapter.probes_peak <= PROBE_SESSIONS
    assert adapter.probes_open == 0
