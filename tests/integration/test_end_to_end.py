"""The whole chain as a user runs it: `gerbang run` in its own process, real Modbus servers
(TCP, and RTU over a socat pty pair), a real mosquitto, and a subscriber checking exact values.

Faults: a device that stops answering (the others keep publishing at their interval, its `$state`
says error, it recovers), and the broker restarting (publishing resumes by itself).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.furnace import FURNACE_EXPECTED, FURNACE_SIGNALS, furnace_bank
from tests.support.gateway_process import GatewayProcess
from tests.support.modbus_server import BankServer
from tests.support.mosquitto import Mosquitto, Subscriber

pytestmark = pytest.mark.integration

BASE = "factory/pasuruan/casting"


def write_config(path: Path, broker: Mosquitto, devices: list[dict[str, Any]], **mqtt: Any) -> Path:
    """A config file (JSON is valid YAML) for `gerbang run`."""
    config = {
        "version": 1,
        "gateway": {"id": "e2e", "site": "pasuruan", "area": "casting"},
        "mqtt": {"host": broker.host, "port": broker.port, "retain": False, **mqtt},
        "buffer": {"path": str(path.parent / "buffer")},
        "devices": devices,
    }
    path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    return path


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    server = Mosquitto(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def furnace_server() -> AsyncIterator[BankServer]:
    server = BankServer({1: furnace_bank(), 2: furnace_bank()})
    await server.start_tcp()
    yield server
    await server.stop()


@pytest.fixture
def gateways() -> Iterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    yield started
    for gateway in started:
        code = gateway.stop()
        assert code == 0, f"gerbang run exited {code}:\n{gateway.log.read_text()[-3000:]}"


def values(sub: Subscriber, device: str) -> dict[str, Any]:
    """The latest value of every signal of `device`, as published per signal."""
    out = {}
    prefix = f"{BASE}/{device}/"
    for message in list(sub.messages):
        if message.topic.startswith(prefix) and not message.topic.endswith("$state"):
            payload = message.json()
            if payload["quality"] == "good":
                out[message.topic[len(prefix) :]] = payload["value"]
    return out


async def test_every_type_arrives_exactly_over_tcp_and_rtu(
    tmp_path,
    broker,
    furnace_server,
    gateways,
    pty_pair,
) -> None:
    server_end, client_end = pty_pair
    rtu = BankServer({3: furnace_bank()})
    await rtu.start_rtu(server_end)
    try:
        sub = await Subscriber(broker, f"{BASE}/#").ready()
        config = write_config(
            tmp_path / "gw.json",
            broker,
            [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": furnace_server.port,
                    "interval": "300ms",
                    "signals": FURNACE_SIGNALS,
                },
                {
                    "id": "boiler-3",
                    "protocol": "modbus-rtu",
                    "serial_port": client_end,
                    "baudrate": 19200,
                    "unit": 3,
                    "interval": "500ms",
                    "signals": FURNACE_SIGNALS,
                },
            ],
        )
        gateways.append(GatewayProcess(config))
        expected = FURNACE_EXPECTED
        try:
            await sub.wait_for(
                lambda: (
                    values(sub, "furnace-1") == expected and values(sub, "boiler-3") == expected
                ),
                timeout=30,
            )
            state = sub.last(f"{BASE}/furnace-1/$state")
            assert state is not None
            assert state.json()["state"] == "online"
            broken = sub.last(f"{BASE}/furnace-1/broken").json()
            assert broken["quality"] == "bad"
            assert broken["value"] is None
            unit = sub.last(f"{BASE}/furnace-1/melt_temp").json()["unit"]
            assert unit == "degC"
        finally:
            sub.close()
    finally:
        await rtu.stop()


async def test_dead_device_and_broker_restart(tmp_path, broker, furnace_server, gateways) -> None:
    common = {
        "protocol": "modbus-tcp",
        "host": "127.0.0.1",
        "port": furnace_server.port,
        "interval": "250ms",
        "timeout": "300ms",
        "signals": FURNACE_SIGNALS[:2],
    }
    config = write_config(
        tmp_path / "gw.json",
        broker,
        [{"id": "loom-1", "unit": 1, **common}, {"id": "loom-2", "unit": 2, **common}],
        mode="per_device",
    )
    sub = await Subscriber(broker, f"{BASE}/#").ready()
    gateways.append(GatewayProcess(config))
    try:
        await sub.wait_for(lambda: sub.on(f"{BASE}/loom-1") and sub.on(f"{BASE}/loom-2"), 30)

        # loom-2 stops answering: its $state says error; loom-1 keeps its interval.
        furnace_server.banks[2].silent = True
        await sub.wait_for(
            lambda: (m := sub.last(f"{BASE}/loom-2/$state")) and m.json()["state"] == "error", 20
        )
        error = sub.last(f"{BASE}/loom-2/$state").json()["error"]
        assert "loom-2" in error
        before = len(sub.on(f"{BASE}/loom-1"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await sub.wait_for(lambda: len(sub.on(f"{BASE}/loom-1")) >= before + 8, 10)
        assert loop.time() - started < 8 * 0.25 + 2.0, "loom-1 slowed down by its dead neighbour"

        # It comes back.
        furnace_server.banks[2].silent = False
        await sub.wait_for(
            lambda: sub.last(f"{BASE}/loom-2/$state").json()["state"] == "online", 30
        )
    finally:
        sub.close()

    # The broker restarts: the gateway reconnects and publishing resumes by itself.
    broker.stop()
    broker.start()
    sub = await Subscriber(broker, f"{BASE}/#").ready()
    try:
        await sub.wait_for(lambda: len(sub.on(f"{BASE}/loom-1")) >= 3, 40)
        scan = sub.last(f"{BASE}/loom-1").json()
        assert scan["values"] == {
            "melt_temp": FURNACE_EXPECTED["melt_temp"],
            "parts": FURNACE_EXPECTED["parts"],
        }
        assert scan["bad"] == []
    finally:
        sub.close()
