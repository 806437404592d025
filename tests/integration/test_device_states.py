"""What a consumer can rely on in the device `$state`s: each names its gateway, a clean stop
says offline for every device (and the gateway), and after a kill the gateway's last will is
the word that tells the retained device states are stale (README "What it publishes")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from tests.support.furnace import FURNACE_SIGNALS, furnace_bank
from tests.support.gateway_process import GatewayProcess
from tests.support.modbus_server import BankServer
from tests.support.mosquitto import Mosquitto, Subscriber

pytestmark = pytest.mark.integration

BASE = "factory/pasuruan/casting"
GATEWAY = "factory/pasuruan/$gateway/states-gw"
DEVICES = ("furnace-1", "furnace-2")


@pytest.fixture
async def furnaces() -> AsyncIterator[BankServer]:
    server = BankServer({1: furnace_bank(), 2: furnace_bank()})
    await server.start_tcp()
    yield server
    await server.stop()


def write_config(path: Path, broker: Mosquitto, server: BankServer) -> Path:
    devices = [
        {
            "id": device,
            "protocol": "modbus-tcp",
            "host": "127.0.0.1",
            "port": server.port,
            "unit": unit,
            "interval": "300ms",
            "signals": FURNACE_SIGNALS,
        }
        for unit, device in enumerate(DEVICES, start=1)
    ]
    config = {
        "version": 1,
        "gateway": {"id": "states-gw", "site": "pasuruan", "area": "casting"},
        "mqtt": {"host": broker.host, "port": broker.port},
        "buffer": {"path": str(path.parent / "buffer")},
        "devices": devices,
    }
    path.write_bytes(orjson.dumps(config))
    return path


def state(sub: Subscriber, topic: str) -> dict[str, object]:
    last = sub.last(topic)
    return {} if last is None else last.json()


async def all_online(sub: Subscriber) -> None:
    await sub.wait_for(
        lambda: (
            state(sub, GATEWAY).get("state") == "online"
            and all(state(sub, f"{BASE}/{d}/$state").get("state") == "online" for d in DEVICES)
        ),
        30,
    )


async def test_a_clean_stop_says_offline_for_every_device_each_naming_its_gateway(
    tmp_path, furnaces
) -> None:
    async with Mosquitto(tmp_path / "broker") as broker, Subscriber(broker) as sub:
        gateway = GatewayProcess(write_config(tmp_path / "gw.json", broker, furnaces))
        try:
            await all_online(sub)
            for device in DEVICES:
                assert state(sub, f"{BASE}/{device}/$state")["gateway"] == "states-gw"
        finally:
            code = await asyncio.to_thread(gateway.stop)
        assert code == 0, gateway.log.read_text()[-3000:]
        await sub.wait_for(
            lambda: (
                all(state(sub, f"{BASE}/{d}/$state").get("state") == "offline" for d in DEVICES)
                and state(sub, GATEWAY).get("state") == "offline"
            )
        )
        for device in DEVICES:
            assert state(sub, f"{BASE}/{device}/$state")["gateway"] == "states-gw"
        assert "will" not in state(sub, GATEWAY), "a clean stop is not the last will"


async def test_after_a_kill_the_will_is_what_tells_the_device_states_are_stale(
    tmp_path, furnaces
) -> None:
    async with Mosquitto(tmp_path / "broker") as broker, Subscriber(broker) as sub:
        gateway = GatewayProcess(write_config(tmp_path / "gw.json", broker, furnaces))
        try:
            await all_online(sub)
            gateway.proc.kill()  # no goodbye: only the broker's last will speaks
            await asyncio.to_thread(gateway.proc.wait, 10)
        finally:
            await asyncio.to_thread(gateway.stop)
        await sub.wait_for(lambda: state(sub, GATEWAY).get("state") == "offline", 60)
        will = state(sub, GATEWAY)
        assert will["will"] is True and "ts" not in will
        async with Subscriber(broker) as late:
            await late.wait_for(lambda: all(late.last(f"{BASE}/{d}/$state") for d in DEVICES))
            for device in DEVICES:
                retained = state(late, f"{BASE}/{device}/$state")
                # Stale but retained: the consumer reads `gateway`, finds its will, and knows.
                assert retained["state"] == "online" and retained["gateway"] == "states-gw"
                gateway_topic = f"factory/pasuruan/$gateway/{retained['gateway']}"
                await late.wait_for(lambda t=gateway_topic: late.last(t))
                assert state(late, gateway_topic)["state"] == "offline"
