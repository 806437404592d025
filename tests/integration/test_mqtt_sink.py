"""The MQTT sink against a real mosquitto: topics, payloads, states, auth, restarts, overflow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config.models import GatewayIdentity, MqttConfig
from gateway.model import BAD, GOOD, Batch, DeviceState, Sample, StateChange
from gateway.sinks.mqtt import MqttSink
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

IDENTITY = GatewayIdentity(id="casting-01", site="pasuruan", area="casting", line="line-1")
BASE = "factory/pasuruan/casting/line-1"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def subscriber(broker: Mosquitto) -> AsyncIterator[Subscriber]:
    sub = Subscriber(broker)
    await sub.ready()
    yield sub
    sub.close()


class Running:
    """A started sink whose task is cancelled and whose client is closed at the end."""

    def __init__(self) -> None:
        self.items: list[tuple[MqttSink, asyncio.Task[None]]] = []

    def start(self, broker: Mosquitto, **fields: Any) -> MqttSink:
        config = MqttConfig.model_validate({"host": broker.host, "port": broker.port, **fields})
        sink = MqttSink(config, IDENTITY, "9.9.9")
        self.items.append((sink, asyncio.create_task(sink.run())))
        return sink

    async def close(self) -> None:
        for sink, task in self.items:
            await sink.close(deadline=2)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    holder = Running()
    yield holder
    await holder.close()


def scan(device: str, ts: int, **values: Any) -> Batch:
    samples = [
        Sample(name, None, BAD, ts, None, "broken")
        if value is None
        else Sample(name, value, GOOD, ts)
        for name, value in values.items()
    ]
    return Batch(device, ts, samples)


async def test_per_signal_topics_and_exact_payloads(broker, subscriber, running) -> None:
    sink = running.start(broker)
    sink.submit(
        Batch(
            "furnace-1",
            1000,
            [
                Sample("melt_temp", 1452.5, GOOD, 1000, "degC"),
                Sample("parts", 123456789, GOOD, 1000),
                Sample("door_open", True, GOOD, 1000),
                Sample("recipe", "PP-ABS", GOOD, 1000),
                Sample("broken", None, BAD, 1000, "kW", "not a finite number: nan"),
            ],
        )
    )
    topic = f"{BASE}/furnace-1/"
    await subscriber.wait_for(lambda: subscriber.last(topic + "broken"))
    assert subscriber.last(topic + "melt_temp").json() == {
        "value": 1452.5,
        "ts": 1000,
        "quality": "good",
        "unit": "degC",
    }
    assert subscriber.last(topic + "parts").json() == {
        "value": 123456789,
        "ts": 1000,
        "quality": "good",
    }
    assert subscriber.last(topic + "door_open").json()["value"] is True
    assert subscriber.last(topic + "recipe").json()["value"] == "PP-ABS"
    assert subscriber.last(topic + "broken").json() == {
        "value": None,
        "ts": 1000,
        "quality": "bad",
        "unit": "kW",
    }
    assert subscriber.last(topic + "melt_temp").retain is False, (
        "live message, not the retained copy"
    )
    await eventually(lambda: sink.status().delivered == 5)


async def test_per_device_one_message_per_scan(broker, subscriber, running) -> None:
    sink = running.start(broker, mode="per_device", retain=False)
    sink.submit(scan("loom-01", 5, picks=100, speed_ppm=312.5, tension=None))
    await subscriber.wait_for(lambda: subscriber.last(f"{BASE}/loom-01"))
    assert subscriber.last(f"{BASE}/loom-01").json() == {
        "ts": 5,
        "values": {"picks": 100, "speed_ppm": 312.5},
        "bad": ["tension"],
    }
    assert len(subscriber.on(f"{BASE}/loom-01")) == 1


async def test_states_and_gateway_status_are_retained_with_a_last_will(
    broker, subscriber, running
) -> None:
    sink = running.start(broker)
    sink.state_changed(
        StateChange("furnace-1", DeviceState.ERROR, 7, "device furnace-1: no answer")
    )
    state_topic = f"{BASE}/furnace-1/$state"
    gateway_topic = "factory/pasuruan/$gateway/casting-01"
    await subscriber.wait_for(
        lambda: subscriber.last(state_topic) and subscriber.last(gateway_topic)
    )
    assert subscriber.last(state_topic).json() == {
        "state": "error",
        "ts": 7,
        "error": "device furnace-1: no answer",
    }
    status = subscriber.last(gateway_topic).json()
    assert status["state"] == "online"
    assert status["version"] == "9.9.9"
    # A late subscriber gets both retained.
    late = Subscriber(broker)
    try:
        await late.ready()
        await late.wait_for(lambda: late.last(state_topic) and late.last(gateway_topic))
        assert late.last(state_topic).retain
        assert late.last(gateway_topic).json()["state"] == "online"
    finally:
        late.close()
    # The gateway dies without a goodbye: the broker publishes the last will.
    sink._conn.client.socket().close()
    await subscriber.wait_for(
        lambda: subscriber.last(gateway_topic).json()["state"] == "offline", timeout=20
    )


async def test_clean_close_publishes_offline(broker, subscriber, running) -> None:
    sink = running.start(broker)
    gateway_topic = "factory/pasuruan/$gateway/casting-01"
    await subscriber.wait_for(lambda: subscriber.last(gateway_topic))
    await sink.close(deadline=3)
    await subscriber.wait_for(lambda: subscriber.last(gateway_topic).json()["state"] == "offline")


async def test_password_broker_accepts_the_right_password_only(tmp_path) -> None:
    broker = Mosquitto(tmp_path, users={"gerbang": "s3cret"})
    broker.start()
    holder = Running()
    try:
        good = holder.start(broker, username="gerbang", password="s3cret", client_id="good")
        bad = holder.start(broker, username="gerbang", password="wrong", client_id="bad")
        sub = Subscriber(broker, username="gerbang", password="s3cret")
        try:
            await sub.ready()
            good.submit(scan("d", 1, x=1))
            await sub.wait_for(lambda: sub.last(f"{BASE}/d/x"))
            await eventually(lambda: bad.last_error is not None)
            assert not bad.status().connected
            assert "not authori" in bad.status().last_error.lower()
            assert (
                "s3cret" not in bad.status().last_error and "wrong" not in bad.status().last_error
            )
        finally:
            sub.close()
    finally:
        await holder.close()
        broker.stop()


async def test_broker_restart_loses_nothing_and_keeps_order(broker, running) -> None:
    sink = running.start(broker, qos=1)
    sub = Subscriber(broker, topic=f"{BASE}/d/seq")
    await sub.ready()
    for i in range(20):
        sink.submit(scan("d", i, seq=i))
    await sub.wait_for(lambda: len(sub.on(f"{BASE}/d/seq")) == 20)
    sub.close()
    broker.kill()
    await eventually(lambda: not sink.status().connected, 15)
    for i in range(20, 120):
        sink.submit(scan("d", i, seq=i))
    assert sink.status().backlog >= 100
    broker.start()
    sub = Subscriber(broker, topic=f"{BASE}/d/seq")
    try:
        await sub.ready()
        await sub.wait_for(
            lambda: any(m.json()["value"] == 119 for m in sub.on(f"{BASE}/d/seq")), 40
        )
        values = [m.json()["value"] for m in sub.on(f"{BASE}/d/seq")]
        assert values == list(range(20, 120)), "every sample queued while down, once, in order"
        assert sink.status().connected
        await eventually(lambda: sink.status().backlog == 0)
    finally:
        sub.close()


async def test_queue_overflow_while_down_drops_oldest_and_counts(tmp_path, running) -> None:
    broker = Mosquitto(tmp_path)  # never started: the sink cannot connect
    sink = running.start(broker, queue_size=10)
    for i in range(25):
        sink.submit(scan("d", i, seq=i))
    status = sink.status()
    assert status.dropped == 15
    assert status.backlog == 10
    assert not status.connected
