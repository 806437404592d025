"""Alarms in the running gateway (SPEC "Alarms", issue 17): a real Modbus server, a real mosquitto,
the `Gateway` in this process. A limit crossed gives the retained `$alarms/{alarm}` with the SPEC
payload; hysteresis holds it; a dead device raises `offline`; a restart keeps an active alarm
active without raising it again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config.models import Config
from gateway.service import Gateway
from tests.support.modbus_server import BankServer, RegisterBank, bank_server
from tests.support.mosquitto import Mosquitto, Subscriber

pytestmark = pytest.mark.integration

DEVICE_TOPIC = "factory/pasuruan/casting/furnace-1"
VALUE_TOPIC = f"{DEVICE_TOPIC}/melt_temp"
TOO_HOT = f"{DEVICE_TOPIC}/$alarms/too_hot"
OFFLINE = f"{DEVICE_TOPIC}/$alarms/offline"


def config(tmp_path: Path, broker: Mosquitto, modbus_port: int) -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "alarm-test", "site": "pasuruan", "area": "casting"},
            "mqtt": {"port": broker.port, "retain": False},
            "buffer": {"path": str(tmp_path / "buffer")},
            "devices": [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": modbus_port,
                    "interval": "100ms",
                    "timeout": "300ms",
                    "signals": [
                        {
                            "name": "melt_temp",
                            "table": "holding",
                            "address": 0,
                            "type": "uint16",
                            "scale": 0.1,
                            "unit": "degC",
                            "alarms": [
                                {
                                    "name": "too_hot",
                                    "above": 1550,
                                    "clear_below": 1530,
                                    "severity": "high",
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    )


@pytest.fixture
def bank() -> RegisterBank:
    registers = RegisterBank()
    registers.set("holding", 0, [15000])  # 1500.0 degC: normal
    return registers


@pytest.fixture
async def server(bank: RegisterBank) -> AsyncIterator[BankServer]:
    async with bank_server({1: bank}) as running:
        yield running


async def scans_with(sub: Subscriber, value: float, count: int = 3) -> None:
    """Wait until `count` published scans have shown `value` (the engine saw each before)."""
    await sub.wait_for(lambda: [v["value"] for v in sub.values(VALUE_TOPIC)].count(value) >= count)


async def test_a_limit_crossed_publishes_the_retained_alarm_and_hysteresis_holds_it(
    tmp_path: Path,
    mosquitto: Mosquitto,
    subscriber: Subscriber,
    bank: RegisterBank,
    server: BankServer,
) -> None:
    gateway = Gateway(config(tmp_path, mosquitto, server.port))
    await gateway.start()
    try:
        await scans_with(subscriber, 1500.0)
        assert subscriber.on(TOO_HOT) == [], "never raised: nothing published"

        bank.set("holding", 0, [15532])
        await subscriber.wait_for(lambda: subscriber.on(TOO_HOT))
        raised = subscriber.on(TOO_HOT)[0].json()
        assert isinstance(raised["ts"], int)
        assert raised == {
            "alarm": "too_hot",
            "state": "active",
            "acknowledged": False,
            "device": "furnace-1",
            "signal": "melt_temp",
            "value": 1553.2,
            "severity": "high",
            "since": raised["ts"],
            "ts": raised["ts"],
        }

        # Between the clear limit and the trip limit: still active, nothing new published.
        bank.set("holding", 0, [15400])
        await scans_with(subscriber, 1540.0)
        bank.set("holding", 0, [15600])
        await scans_with(subscriber, 1560.0)
        assert len(subscriber.on(TOO_HOT)) == 1, subscriber.values(TOO_HOT)

        bank.set("holding", 0, [15290])
        await subscriber.wait_for(lambda: len(subscriber.on(TOO_HOT)) == 2)
        cleared = subscriber.values(TOO_HOT)[1]
        assert cleared["state"] == "cleared"
        assert cleared["value"] == 1529.0
        assert cleared["acknowledged"] is False
        assert cleared["since"] == cleared["ts"] > raised["ts"]

        # Retained: a client that comes later is told the alarm's present state at once.
        async with Subscriber(mosquitto, TOO_HOT) as late:
            await late.wait_for(lambda: late.on(TOO_HOT))
            message = late.on(TOO_HOT)[0]
            assert message.retain
            assert message.json() == cleared
    finally:
        await gateway.stop(2.0)


async def test_a_device_that_stops_answering_raises_offline_and_clears_it_when_back(
    tmp_path: Path,
    mosquitto: Mosquitto,
    subscriber: Subscriber,
    bank: RegisterBank,
    server: BankServer,
) -> None:
    gateway = Gateway(config(tmp_path, mosquitto, server.port))
    await gateway.start()
    try:
        await scans_with(subscriber, 1500.0, 1)
        bank.silent = True
        await subscriber.wait_for(lambda: subscriber.on(OFFLINE))
        raised = subscriber.values(OFFLINE)[0]
        assert raised["state"] == "active"
        assert raised["severity"] == "high"
        assert raised["signal"] is None
        assert raised["value"] is None
        assert raised["device"] == "furnace-1"

        bank.silent = False
        await subscriber.wait_for(lambda: len(subscriber.on(OFFLINE)) == 2, timeout=20)
        assert subscriber.values(OFFLINE)[1]["state"] == "cleared"
    finally:
        await gateway.stop(2.0)
    # A clean stop marks the device offline ($state), but that is not an alarm.
    assert len(subscriber.on(OFFLINE)) == 2
    assert subscriber.on(TOO_HOT) == []


async def test_an_alarm_active_before_a_restart_is_still_active_and_not_raised_again(
    tmp_path: Path,
    mosquitto: Mosquitto,
    subscriber: Subscriber,
    bank: RegisterBank,
    server: BankServer,
) -> None:
    bank.set("holding", 0, [15600])
    first = Gateway(config(tmp_path, mosquitto, server.port))
    await first.start()
    try:
        await subscriber.wait_for(lambda: subscriber.on(TOO_HOT))
        raised = subscriber.values(TOO_HOT)[0]
    finally:
        await first.stop(2.0)
    saved: dict[str, Any] = json.loads((tmp_path / "alarms.json").read_text())
    assert saved["alarms"]["furnace-1"]["too_hot"]["active"] is True

    published = len(subscriber.on(VALUE_TOPIC))
    second = Gateway(config(tmp_path, mosquitto, server.port))
    await second.start()
    try:
        await subscriber.wait_for(lambda: len(subscriber.on(VALUE_TOPIC)) >= published + 3)
        assert len(subscriber.on(TOO_HOT)) == 1, "raised a second time"
        [active] = second.alarms.service.active()
        assert (active.alarm, active.state, active.since) == ("too_hot", "active", raised["since"])

        bank.set("holding", 0, [15000])
        await subscriber.wait_for(lambda: len(subscriber.on(TOO_HOT)) == 2)
        cleared = subscriber.values(TOO_HOT)[1]
        assert cleared["state"] == "cleared"
        [outstanding] = second.alarms.service.active()  # cleared, nobody acknowledged it
        assert outstanding.state == "cleared"
    finally:
        await second.stop(2.0)


async def test_an_alarm_removed_from_the_config_withdraws_its_retained_message(
    tmp_path: Path,
    mosquitto: Mosquitto,
    subscriber: Subscriber,
    bank: RegisterBank,
    server: BankServer,
) -> None:
    first = config(tmp_path, mosquitto, server.port)
    gateway = Gateway(first)
    await gateway.start()
    try:
        bank.set("holding", 0, [15600])
        await subscriber.wait_for(lambda: subscriber.on(TOO_HOT))
        data = first.model_dump(mode="json", exclude_unset=True)
        data["devices"][0]["signals"][0]["alarms"] = []
        await gateway.reconcile(Config.model_validate(data))
        # The empty retained message: MQTT's way to delete the retained one.
        await subscriber.wait_for(lambda: [m.payload for m in subscriber.on(TOO_HOT)][-1:] == [b""])
        assert gateway.alarms.service.active() == []
        # A client that comes later is told of no such alarm: the broker hands it the device's
        # retained messages at once, its `$state` among them, and no `too_hot`.
        async with Subscriber(mosquitto, f"{DEVICE_TOPIC}/#") as late:
            await late.wait_for(lambda: late.on(f"{DEVICE_TOPIC}/$state"))
            assert late.on(TOO_HOT) == []
    finally:
        await gateway.stop(2.0)
