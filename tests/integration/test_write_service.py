"""The write service and its record against a real pymodbus server and a running gateway:
refusals with nothing written (checked at the server), offline, no answer, read-back mismatch,
the record across a restart and its bound; and MQTT `$set` commands through mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.api.live import status_of
from gateway.config.models import Config
from gateway.model import DeviceState, now_ms
from gateway.service import Gateway
from gateway.writes.record import WriteEntry, WriteRecord
from gateway.writes.service import Mismatch, NotFound, Offline, Refused, Unreachable
from tests.support.mosquitto import Mosquitto, Subscriber, free_port
from tests.support.wait import eventually
from tests.support.write_server import WriteBank, write_server

pytestmark = pytest.mark.integration

SIGNALS: list[dict[str, Any]] = [
    {
        "name": "temp_setpoint",
        "table": "holding",
        "address": 50,
        "type": "float32",
        "writable": True,
        "min": 20,
        "max": 1600,
    },
    {"name": "power", "table": "holding", "address": 52, "scale": 0.1, "writable": True},
    {"name": "counter_reset", "table": "coil", "address": 7, "writable": True},
    {"name": "melt_temp", "table": "holding", "address": 60, "type": "float32"},
]


def bank() -> WriteBank:
    b = WriteBank()
    b.set("holding", 50, [0x4348, 0, 0])  # 200.0, power 0
    b.set("holding", 60, [0x44B5, 0x4000])
    b.set("coil", 7, [False])
    return b


def config(tmp_path: Path, port: int, mqtt: dict[str, Any] | None = None, **extra: Any) -> Config:
    return Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "gw", "site": "pasuruan", "area": "casting"},
            "mqtt": mqtt or {"enabled": False},
            "buffer": {"path": str(tmp_path / "state" / "buffer")},
            "devices": [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": port,
                    "interval": "100ms",
                    "timeout": "300ms",
                    "signals": SIGNALS,
                    **extra,
                },
                {
                    "id": "spare",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": port,
                    "enabled": False,
                    "signals": SIGNALS,
                },
            ],
        }
    )


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Gateway, WriteBank]]:
    unit = bank()
    async with write_server({1: unit}) as server:
        gateway = Gateway(config(tmp_path, server.port))
        await gateway.start()
        status = gateway.devices["furnace-1"].status
        await eventually(lambda: status.state is DeviceState.ONLINE)
        try:
            yield gateway, unit
        finally:
            await gateway.stop(deadline=2)


async def test_a_write_reads_back_and_is_recorded_with_the_old_value(running) -> None:
    gateway, unit = running
    await eventually(lambda: "temp_setpoint" in gateway.board.latest("furnace-1"))
    written = await gateway.writes.write("furnace-1", "temp_setpoint", 1450, "technician")
    assert (written.value, written.read_back) == (1450, 1450.0)
    assert unit.writes == [16]
    entry = gateway.writes.record.latest(1)[0]
    assert entry["who"] == "technician" and entry["old"] == 200.0
    assert (entry["value"], entry["read_back"], entry["result"]) == (1450, 1450.0, "ok")


@pytest.mark.parametrize(
    ("signal", "value", "error", "reason"),
    [
        ("melt_temp", 3.0, Refused, "not writable"),
        ("temp_setpoint", 1601, Refused, "above its max 1600"),
        ("temp_setpoint", 19.5, Refused, "below its min 20"),
        ("temp_setpoint", "hot", Refused, "write a number"),
        ("counter_reset", 1, Refused, "write true or false"),
        ("power", 14.55, Refused, "cannot be written exactly with scale 0.1"),
        ("nope", 1, NotFound, "no signal 'nope'"),
    ],
)
async def test_refusals_write_nothing(running, signal, value, error, reason) -> None:
    gateway, unit = running
    with pytest.raises(error, match=reason):
        await gateway.writes.write("furnace-1", signal, value, "technician")
    assert unit.writes == []  # checked at the server
    assert gateway.writes.record.latest(1)[0]["result"] == "refused"


async def test_unknown_and_disabled_devices(running) -> None:
    gateway, unit = running
    with pytest.raises(NotFound):
        await gateway.writes.write("ghost", "power", 1, "technician")
    with pytest.raises(Offline, match="disabled"):
        await gateway.writes.write("spare", "power", 1, "technician")
    assert unit.writes == []


async def test_a_unit_that_stops_answering_is_504(running) -> None:
    gateway, unit = running
    unit.silent = True
    with pytest.raises(Unreachable) as caught:
        await gateway.writes.write("furnace-1", "power", 1.5, "technician")
    assert caught.value.status == 504
    assert gateway.writes.record.latest(1)[0]["result"] == "unreachable"


async def test_a_unit_that_ignores_the_write_is_502_with_both_values(running) -> None:
    gateway, unit = running
    unit.ignore_writes = True
    with pytest.raises(Mismatch, match=r"wrote 1450 .* but read back 200\.0") as caught:
        await gateway.writes.write("furnace-1", "temp_setpoint", 1450, "technician")
    assert caught.value.status == 502
    assert caught.value.extra == {"written": 1450, "read_back": 200.0}
    assert gateway.writes.record.latest(1)[0]["result"] == "mismatch"


async def test_the_record_survives_a_restart_and_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "writes.jsonl"
    record = WriteRecord(path, max_entries=3)
    for n in range(8):
        await record.add(WriteEntry(n, "technician", "d", "s", n, n - 1, "ok", read_back=n))
    with path.open("a") as file:
        file.write('{"ts": 99, "torn')  # a crash while appending
    again = WriteRecord(path, max_entries=3)
    assert [e["value"] for e in again.latest(10)] == [7, 6, 5, 4, 3]  # newest first, bounded
    await again.add(WriteEntry(9, "mqtt", "d", "s", 9, 7, "refused", error="expired"))
    assert [e["value"] for e in WriteRecord(path, max_entries=3).latest(2)] == [9, 7]
    assert (
        len(path.read_text().splitlines())
        + len(path.with_name("writes.jsonl.1").read_text().splitlines())
        <= 6 + 1
    )


# -- MQTT commands -------------------------------------------------------------------------

TOPIC = "factory/pasuruan/casting/furnace-1/temp_setpoint/$set"


def publish(broker: Mosquitto, topic: str, payload: object, retain: bool = False) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"cmd-{id(payload)}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    client.publish(topic, body, qos=1, retain=retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


async def test_mqtt_commands_are_carried_out_once_and_refused_when_they_cannot_be(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    unit = bank()
    async with write_server({1: unit}) as server:
        mqtt = {"host": "127.0.0.1", "port": mosquitto.port, "commands": True}
        gateway = Gateway(config(tmp_path, server.port, mqtt))
        await gateway.start()
        try:
            status = gateway.devices["furnace-1"].status
            await eventually(lambda: status.state is DeviceState.ONLINE)
            assert gateway.commands is not None
            async with asyncio.timeout(10):
                await gateway.commands.subscribed.wait()
            async with Subscriber(mosquitto, TOPIC + "/result") as results:
                await results.ready()
                await asyncio.to_thread(publish, mosquitto, TOPIC, {"value": 1450, "id": "a1"})
                await results.wait_for(lambda: len(results.messages) >= 1)
                assert results.messages[0].json() == {
                    "id": "a1",
                    "ok": True,
                    "value": 1450,
                    "read_back": 1450.0,
                }
                assert unit.writes == [16]
                cases = [
                    ({"value": 1500, "id": "old", "expires": now_ms() - 1000}, "expired"),
                    (b"not json", "not JSON"),
                    ({"value": 1500}, "no id"),
                    ({"value": 5000, "id": "hi"}, "above its max 1600"),
                ]
                for payload, _ in cases:
                    await asyncio.to_thread(publish, mosquitto, TOPIC, payload)
                await results.wait_for(lambda: len(results.messages) >= 1 + len(cases))
                for message, (_, reason) in zip(results.messages[1:], cases, strict=True):
                    answer = message.json()
                    assert answer["ok"] is False and reason in answer["error"]
                assert [m.json()["id"] for m in results.messages[1:]] == ["old", None, None, "hi"]
                unit.silent = True  # the device goes down: commands are refused, never queued
                await eventually(lambda: status.state is not DeviceState.ONLINE, timeout=10)
                await asyncio.to_thread(publish, mosquitto, TOPIC, {"value": 1200, "id": "down"})
                await results.wait_for(lambda: len(results.messages) >= 6)
                answer = results.messages[5].json()
                assert answer["id"] == "down" and answer["ok"] is False
                assert "refused, not queued" in answer["error"]
                unit.silent = False  # back: nothing is replayed
                await eventually(lambda: status.state is DeviceState.ONLINE, timeout=10)
                await eventually(lambda: len(unit.functions) > 40)  # polls flowing again
                assert unit.writes == [16]
                assert [e["who"] for e in gateway.writes.record.latest(6)] == ["mqtt"] * 6
        finally:
            await gateway.stop(deadline=2)


async def test_a_repeated_command_id_is_carried_out_once_and_commands_follow_the_config(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    unit = bank()
    async with write_server({1: unit}) as server:
        mqtt = {"host": "127.0.0.1", "port": mosquitto.port, "commands": True}
        first = config(tmp_path, server.port, mqtt)
        gateway = Gateway(first)
        await gateway.start()
        try:
            status = gateway.devices["furnace-1"].status
            await eventually(lambda: status.state is DeviceState.ONLINE)
            assert gateway.commands is not None
            async with asyncio.timeout(10):
                await gateway.commands.subscribed.wait()
            shown = status_of(gateway).commands
            assert shown is not None and (shown.listening, shown.last_error) == (True, None)
            async with Subscriber(mosquitto, TOPIC + "/result") as results:
                await results.ready()
                # The same command twice (a QoS 1 duplicate, a sender's retry): written once,
                # its result sent twice.
                for _ in range(2):
                    await asyncio.to_thread(publish, mosquitto, TOPIC, {"value": 1450, "id": "r1"})
                await results.wait_for(lambda: len(results.messages) >= 2)
                assert [m.json()["ok"] for m in results.messages] == [True, True]
                assert unit.writes == [16]
                assert len(gateway.writes.record.latest(10)) == 1

                # Commands turned off over a config change: a command is no longer carried out.
                data = first.model_dump(mode="json", exclude_unset=True)
                data["mqtt"]["commands"] = False
                await gateway.reconcile(Config.model_validate(data))
                assert gateway.commands is None and status_of(gateway).commands is None
                await asyncio.to_thread(publish, mosquitto, TOPIC, {"value": 1300, "id": "r2"})
                # Nothing answers, nothing is written: wait out a few polls to be sure.
                seen = len(unit.functions)
                await eventually(lambda: len(unit.functions) > seen + 10, timeout=10)
                assert unit.writes == [16]
                assert len(results.messages) == 2
        finally:
            await gateway.stop(deadline=2)


async def test_a_command_listener_that_cannot_connect_says_why_in_status(tmp_path: Path) -> None:
    unit = bank()
    async with write_server({1: unit}) as server:
        mqtt = {"host": "127.0.0.1", "port": free_port(), "commands": True}  # nothing there
        gateway = Gateway(config(tmp_path, server.port, mqtt))
        await gateway.start()
        try:
            shown = await eventually(lambda: (c := status_of(gateway).commands) and c.last_error)
            assert "cannot connect to 127.0.0.1" in shown
            commands = status_of(gateway).commands
            assert commands is not None and commands.listening is False
        finally:
            await gateway.stop(deadline=2)
