"""The MQTT sink against a real mosquitto on loopback, watched by a real paho subscriber.

Covers SPEC "MQTT" (topics, exact payloads, per_signal and per_device, retained `$state`, the
gateway's retained state, its last will and clean goodbye), authentication, TLS, and the
delivery guarantees: broker restarts and unacknowledged in-flight messages lose nothing and keep
the order, a full queue drops the oldest and counts them, the in-flight window bounds paho.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from signal import SIGHUP
from typing import Any

import pytest

from gateway.backoff import Backoff
from gateway.config.models import BufferConfig, GatewayIdentity, MqttConfig
from gateway.model import BAD, GOOD, UNCERTAIN, Batch, DeviceState, Report, Sample, StateChange
from gateway.sinks.mqtt import InFlight, MqttSink
from tests.support.mosquitto import (
    PASSWORD,
    USER,
    Mosquitto,
    Subscriber,
    free_port,
    make_certificates,
)
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
IDENTITY = GatewayIdentity(id="casting-01", site="pasuruan", area="casting", line="line-1")
BASE = "factory/pasuruan/casting/line-1"
GATEWAY = "factory/pasuruan/$gateway/casting-01"


def open_sink(
    config: MqttConfig,
    buffer: Path,
    identity: GatewayIdentity = IDENTITY,
    max_bytes: int = 100_000_000,
    backoff: Backoff | None = None,
) -> MqttSink:
    """A sink with its buffer in `buffer`; short backoff by default so restart tests stay
    quick (the production default starts at 1 s and grows to 30 s)."""
    return MqttSink.open(
        config,
        identity,
        "9.9.9",
        BufferConfig(path=str(buffer)),
        max_bytes,
        backoff=backoff or Backoff(initial=0.5, maximum=2.0),
    )


def mosquitto_config(broker: Mosquitto, **fields: Any) -> MqttConfig:
    return MqttConfig.model_validate({"host": broker.host, "port": broker.port, **fields})


class Sinks:
    """Starts sinks with their `run()` task; closes them and cancels the tasks at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.items: list[tuple[MqttSink, asyncio.Task[None]]] = []

    def start(self, broker: Mosquitto, max_bytes: int = 100_000_000, **fields: Any) -> MqttSink:
        return self.start_config(mosquitto_config(broker, **fields), max_bytes)

    def start_config(
        self, config: MqttConfig, max_bytes: int = 100_000_000, backoff: Backoff | None = None
    ) -> MqttSink:
        buffer = self.tmp_path / f"buffer-{len(self.items)}"
        sink = open_sink(config, buffer, max_bytes=max_bytes, backoff=backoff)
        self.items.append((sink, asyncio.create_task(sink.run(), name="test mqtt sink")))
        return sink

    def task(self, sink: MqttSink) -> asyncio.Task[None]:
        return next(task for s, task in self.items if s is sink)

    async def close(self) -> None:
        for sink, task in self.items:
            await sink.close(deadline=2)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def sinks(tmp_path: Path) -> AsyncIterator[Sinks]:
    holder = Sinks(tmp_path)
    yield holder
    await holder.close()


def scan(device: str, ts: int, **values: Any) -> Batch:
    """A batch of good samples; None makes a bad one."""
    samples = [
        Sample(name, v, GOOD, ts) if v is not None else Sample(name, None, BAD, ts, None, "x")
        for name, v in values.items()
    ]
    return Batch(device, ts, samples)


async def wait_connected(sink: MqttSink, timeout: float = 10.0) -> None:
    await eventually(lambda: sink.status().connected, timeout)


async def wait_refused(sink: MqttSink, timeout: float = 10.0) -> None:
    """Wait until a reconnect attempt has failed: the next one is a backoff delay away (≥0.4 s
    here), time enough to start the broker and subscribe before the sink comes back."""
    await eventually(lambda: "refused" in (sink.status().last_error or ""), timeout)


# -- topics and payloads -----------------------------------------------------------------------


async def test_per_signal_topics_and_exact_payloads(mosquitto, subscriber, sinks) -> None:
    sink = sinks.start(mosquitto)
    sink.submit(
        Batch(
            "furnace-1",
            1795389160779,
            [
                Sample("melt_temp", 1452.3, GOOD, 1795389160779, "degC"),
                Sample("parts", 123456789, GOOD, 1795389160779),
                Sample("door_open", True, GOOD, 1795389160779),
                Sample("recipe", "PP-ABS", UNCERTAIN, 1795389160779),
                Sample("power_kw", None, BAD, 1795389160779, "kW", "not a finite number: nan"),
            ],
        )
    )
    topic = f"{BASE}/furnace-1/"
    await subscriber.wait_for(lambda: subscriber.last(topic + "power_kw"))
    ts = 1795389160779
    expected = {
        "melt_temp": {"value": 1452.3, "ts": ts, "quality": "good", "unit": "degC"},
        "parts": {"value": 123456789, "ts": ts, "quality": "good"},
        "door_open": {"value": True, "ts": ts, "quality": "good"},
        "recipe": {"value": "PP-ABS", "ts": ts, "quality": "uncertain"},
        "power_kw": {
            "value": None,
            "ts": ts,
            "quality": "bad",
            "unit": "kW",
            "error": "not a finite number: nan",
        },
    }
    for signal, payload in expected.items():
        assert subscriber.values(topic + signal) == [payload], signal
    assert type(subscriber.last(topic + "parts").json()["value"]) is int
    assert subscriber.last(topic + "melt_temp").retain is False, "a live message, not a replay"
    await eventually(lambda: sink.status().delivered == 5)
    assert sink.status().backlog == 0


async def test_per_device_one_message_per_scan(mosquitto, subscriber, sinks) -> None:
    sink = sinks.start(mosquitto, mode="per_device", retain=False)
    sink.submit(scan("loom-01", 5, picks=100, speed_ppm=312.5, tension=None))
    sink.submit(scan("loom-01", 6, picks=101, speed_ppm=313.0, tension=7))
    await subscriber.wait_for(lambda: len(subscriber.on(f"{BASE}/loom-01")) == 2)
    assert subscriber.values(f"{BASE}/loom-01") == [
        {"ts": 5, "values": {"picks": 100, "speed_ppm": 312.5}, "bad": ["tension"]},
        {"ts": 6, "values": {"picks": 101, "speed_ppm": 313.0, "tension": 7}, "bad": []},
    ]
    await eventually(lambda: sink.status().delivered == 6)


async def test_empty_hierarchy_levels_are_left_out_of_topics(
    mosquitto, subscriber, tmp_path
) -> None:
    config = MqttConfig(host=mosquitto.host, port=mosquitto.port, topic_prefix="")
    identity = GatewayIdentity(id="gw-2", site="solo", area="", line="")
    sink = open_sink(config, tmp_path, identity)
    task = asyncio.create_task(sink.run())
    try:
        sink.submit(scan("roaster-1", 1, drum_temp=201.5))
        sink.state_changed(StateChange("roaster-1", DeviceState.ONLINE, 1))
        await subscriber.wait_for(
            lambda: (
                subscriber.last("solo/roaster-1/drum_temp")
                and subscriber.last("solo/roaster-1/$state")
                and subscriber.last("solo/$gateway/gw-2")
            )
        )
    finally:
        await sink.close(deadline=2)
        await asyncio.wait_for(task, 5)


# -- device and gateway state ------------------------------------------------------------------


async def test_device_state_is_retained_and_only_the_latest_is_sent(mosquitto, sinks) -> None:
    sink = sinks.start(mosquitto)
    # Queued before the first connect: the newer state replaces the older one.
    sink.state_changed(StateChange("furnace-1", DeviceState.ONLINE, 6))
    sink.state_changed(StateChange("furnace-1", DeviceState.ERROR, 7, "device furnace-1: timeout"))
    sink.state_changed(StateChange("boiler-2", DeviceState.OFFLINE, 8))
    await wait_connected(sink)
    await eventually(lambda: sink.status().backlog == 0)
    # A subscriber that comes later still learns every device's state.
    async with Subscriber(mosquitto) as late:
        furnace, boiler = f"{BASE}/furnace-1/$state", f"{BASE}/boiler-2/$state"
        await late.wait_for(lambda: late.last(furnace) and late.last(boiler))
        assert late.values(furnace) == [
            {
                "state": "error",
                "ts": 7,
                "gateway": "casting-01",
                "error": "device furnace-1: timeout",
            }
        ]
        assert late.values(boiler) == [{"state": "offline", "ts": 8, "gateway": "casting-01"}]
        assert late.last(furnace).retain and late.last(boiler).retain


async def test_gateway_online_retained_and_last_will_when_the_link_dies(
    mosquitto, subscriber, sinks
) -> None:
    sink = sinks.start(mosquitto)
    await subscriber.wait_for(lambda: subscriber.last(GATEWAY))
    online = subscriber.last(GATEWAY).json()
    assert online["state"] == "online" and online["version"] == "9.9.9"
    assert isinstance(online["ts"], int)
    async with Subscriber(mosquitto) as late:
        await late.wait_for(lambda: late.last(GATEWAY))
        assert late.last(GATEWAY).retain and late.last(GATEWAY).json()["state"] == "online"
    # The TCP connection dies without a DISCONNECT (as when a cable is pulled): the broker
    # publishes the last will; the sink notices, reconnects and says online again.
    sink.socket().shutdown(2)
    await subscriber.wait_for(lambda: subscriber.last(GATEWAY).json()["state"] == "offline")
    will = subscriber.last(GATEWAY)
    assert will.json()["version"] == "9.9.9"
    await subscriber.wait_for(lambda: subscriber.last(GATEWAY).json()["state"] == "online", 15)
    assert [m["state"] for m in subscriber.values(GATEWAY)] == ["online", "offline", "online"]


async def test_last_will_when_the_gateway_process_is_killed(
    mosquitto, subscriber, tmp_path
) -> None:
    script = (
        "import asyncio\n"
        "from gateway.config.models import BufferConfig, GatewayIdentity, MqttConfig\n"
        "from gateway.sinks.mqtt import MqttSink\n"
        f"config = MqttConfig(host='127.0.0.1', port={mosquitto.port}, client_id='victim')\n"
        "identity = GatewayIdentity(id='victim', site='pasuruan')\n"
        f"buffer = BufferConfig(path={str(tmp_path)!r})\n"
        "async def main():\n"
        "    await MqttSink.open(config, identity, '1.0.0', buffer, 10**6).run()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, env=env, cwd=REPO)
    topic = "factory/pasuruan/$gateway/victim"
    try:
        await subscriber.wait_for(lambda: subscriber.last(topic), 20)
        assert subscriber.last(topic).json()["state"] == "online"
    finally:
        proc.kill()  # SIGKILL: no DISCONNECT, no goodbye
        await asyncio.wait_for(proc.wait(), 10)
    await subscriber.wait_for(lambda: subscriber.last(topic).json()["state"] == "offline")
    # No ts: the will is set at connect, and the broker publishes it when it notices.
    assert subscriber.last(topic).json() == {"state": "offline", "version": "1.0.0", "will": True}


async def test_clean_close_delivers_the_queue_then_says_offline(
    mosquitto, subscriber, sinks
) -> None:
    sink = sinks.start(mosquitto)
    await wait_connected(sink)
    for i in range(300):
        sink.submit(scan("d", i, seq=i))
    await sink.close(deadline=5)
    await asyncio.wait_for(sinks.task(sink), 5)  # run() returns after close()
    assert sink.status().delivered == 300 and sink.status().backlog == 0
    assert not sink.status().connected
    await subscriber.wait_for(lambda: subscriber.last(GATEWAY).json()["state"] == "offline")
    assert [v["value"] for v in subscriber.values(f"{BASE}/d/seq")] == list(range(300))
    async with Subscriber(mosquitto, GATEWAY) as late:
        await late.wait_for(lambda: late.last(GATEWAY))
        assert late.last(GATEWAY).json()["state"] == "offline", "retained goodbye"


# -- authentication ----------------------------------------------------------------------------


async def test_password_broker_admits_the_right_password_only(mosquitto_auth, sinks) -> None:
    good = sinks.start(mosquitto_auth, username=USER, password=PASSWORD, client_id="good")
    bad = sinks.start(mosquitto_auth, username=USER, password="wrong-pw", client_id="bad")
    async with Subscriber(mosquitto_auth) as sub:
        good.submit(scan("d", 1, x=1))
        await sub.wait_for(lambda: sub.last(f"{BASE}/d/x"))
        await eventually(lambda: bad.status().last_error is not None)
        status = bad.status()
        assert not status.connected
        assert "not authori" in status.last_error.lower()
        assert "mqtt.password" in status.last_error, "tells the technician what to check"
        assert "wrong-pw" not in status.last_error and PASSWORD not in status.last_error
        assert good.status().connected and good.status().last_error is None


# -- delivery guarantees -----------------------------------------------------------------------


async def test_broker_restart_loses_nothing_and_keeps_order(mosquitto, sinks, caplog) -> None:
    caplog.set_level(logging.INFO, logger="gateway.sinks.mqtt")
    sink = sinks.start(mosquitto, qos=1)
    topic = f"{BASE}/d/seq"
    async with Subscriber(mosquitto, f"{BASE}/#") as sub:
        for i in range(50):
            sink.submit(scan("d", i, seq=i))
        await sub.wait_for(lambda: len(sub.on(topic)) == 50)
    mosquitto.kill()
    await eventually(lambda: not sink.status().connected)
    for i in range(50, 550):
        sink.submit(scan("d", i, seq=i))
    sink.state_changed(StateChange("d", DeviceState.OFFLINE, 549))
    assert sink.status().backlog == 501
    await wait_refused(sink)
    await asyncio.to_thread(mosquitto.start)
    async with Subscriber(mosquitto, f"{BASE}/#") as sub:
        await sub.wait_for(lambda: len(sub.on(topic)) >= 500, 30)
        assert [v["value"] for v in sub.values(topic)] == list(range(50, 550)), (
            "every sample queued while the broker was down, once, in order"
        )
        assert sub.messages[0].topic == f"{BASE}/d/$state", "states go before the backlog"
    await eventually(lambda: sink.status().backlog == 0)
    assert sink.status().delivered == 550
    assert sink.status().dropped == 0
    # One line per connect, loss and failed reconnect, however many messages and retries.
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.sinks.mqtt"]
    assert len(lines) == 4, lines
    assert "connected (MQTT 3.1.1" in lines[0]
    assert "connection lost" in lines[1] and "items waiting" in lines[1]
    assert "connection refused" in lines[2]
    assert "connected again after" in lines[3] and "sending 501 waiting items" in lines[3]


async def test_unacknowledged_in_flight_messages_are_sent_again(mosquitto, sinks) -> None:
    sink = sinks.start(mosquitto, qos=1, max_inflight=10)
    async with Subscriber(mosquitto, GATEWAY) as sub:
        await sub.wait_for(lambda: sub.last(GATEWAY))
    mosquitto.pause()  # connection open, no PUBACK will come
    for i in range(30):
        sink.submit(scan("d", i, seq=i))
    await eventually(lambda: sink.in_flight() == InFlight(sent=10, held_by_paho=10))
    assert sink.status().backlog == 30 and sink.status().delivered == 0
    mosquitto.kill()  # the paused broker never read them
    await wait_refused(sink)
    assert sink.status().backlog == 30, "the 10 in flight are back in the queue"
    await asyncio.to_thread(mosquitto.start)
    async with Subscriber(mosquitto, f"{BASE}/d/seq") as sub:
        await sub.wait_for(lambda: len(sub.on(f"{BASE}/d/seq")) >= 30, 30)
        assert [v["value"] for v in sub.values(f"{BASE}/d/seq")] == list(range(30))
    await eventually(lambda: sink.status().delivered == 30)


async def test_a_full_buffer_while_down_drops_the_oldest_and_counts(tmp_path, sinks) -> None:
    broker = Mosquitto(tmp_path / "later")  # not started yet: the sink cannot connect
    try:
        sink = sinks.start(broker, max_bytes=16 * 1024 * 8)  # 128 KiB of buffer
        await wait_refused(sink)
        for i in range(3000):  # about 130 bytes each: more than the buffer holds
            sink.submit(scan("d", i, seq=i))
            if i % 500 == 499:
                await sink.outbox.flush()
        status = sink.status()
        assert status.dropped > 0 and not status.connected
        assert status.dropped + status.backlog == 3000
        assert status.backlog_bytes <= 128 * 1024
        assert "connection refused" in status.last_error
        kept = status.backlog
        await asyncio.to_thread(broker.start)
        async with Subscriber(broker, f"{BASE}/d/seq") as sub:
            await sub.wait_for(lambda: len(sub.on(f"{BASE}/d/seq")) >= kept, 15)
            assert [v["value"] for v in sub.values(f"{BASE}/d/seq")] == list(
                range(3000 - kept, 3000)
            ), "the newest samples, in order, the oldest dropped"
        assert sink.status().dropped == status.dropped
    finally:
        await sinks.close()
        broker.stop()


@pytest.mark.parametrize("qos", [0, 1])
async def test_a_burst_stays_within_the_window_and_arrives_in_order(mosquitto, sinks, qos) -> None:
    count, window = 5000, 20
    sink = sinks.start(mosquitto, qos=qos, max_inflight=window)
    await wait_connected(sink)
    async with Subscriber(mosquitto, f"{BASE}/d/seq") as sub:
        peak = 0
        started = time.perf_counter()
        for i in range(count):
            sink.submit(Batch("d", i, [Sample("seq", i, GOOD, i)]))
        while sink.status().delivered < count:
            flight = sink.in_flight()
            assert flight is not None
            peak = max(peak, flight.sent, flight.held_by_paho)
            await asyncio.sleep(0.001)
            assert time.perf_counter() - started < 30, "burst not delivered within 30 s"
        rate = count / (time.perf_counter() - started)
        print(f"\nMQTT sink, QoS {qos}, window {window}: {rate:,.0f} messages/s")
        assert peak <= window
        await sub.wait_for(lambda: len(sub.on(f"{BASE}/d/seq")) == count, 30)
        assert [v["value"] for v in sub.values(f"{BASE}/d/seq")] == list(range(count))


# -- TLS ---------------------------------------------------------------------------------------


async def test_tls_with_the_right_ca_and_a_client_certificate(tmp_path, sinks) -> None:
    certs = make_certificates(tmp_path / "pki")
    broker = Mosquitto(tmp_path / "tls", tls=certs, require_certificate=True)
    broker.start()
    try:
        tls = {"ca_file": str(certs.ca), "cert_file": str(certs.client_cert)}
        sink = sinks.start(broker, tls={**tls, "key_file": str(certs.client_key)})
        async with Subscriber(broker) as sub:
            sink.submit(scan("d", 1, x=1.5))
            await sub.wait_for(lambda: sub.last(f"{BASE}/d/x"))
            assert sub.last(f"{BASE}/d/x").json()["value"] == 1.5
        # Without a client certificate the broker refuses the handshake.
        anonymous = sinks.start(broker, tls={"ca_file": str(certs.ca)}, client_id="no-cert")
        await eventually(lambda: anonymous.status().last_error is not None)
        assert "before the broker answered" in anonymous.status().last_error
        assert "mqtt.tls.cert_file" in anonymous.status().last_error
        assert not anonymous.status().connected
    finally:
        await sinks.close()
        broker.stop()


async def test_tls_server_not_trusted_without_its_ca(tmp_path, sinks) -> None:
    certs = make_certificates(tmp_path / "pki")
    broker = Mosquitto(tmp_path / "tls", tls=certs)
    broker.start()
    try:
        sink = sinks.start(broker, tls={})  # the system's CAs do not know our test CA
        await eventually(lambda: sink.status().last_error is not None)
        error = sink.status().last_error
        assert "certificate" in error and "check mqtt.tls" in error, error
        assert not sink.status().connected
        missing = sinks.start(broker, tls={"ca_file": str(tmp_path / "nope.pem")}, client_id="x")
        await eventually(lambda: missing.status().last_error is not None)
        assert missing.status().last_error.startswith("TLS set-up failed")
    finally:
        await sinks.close()
        broker.stop()


# -- coming back, and restarts -----------------------------------------------------------------


async def test_a_broker_that_returns_gets_its_data_within_seconds(tmp_path) -> None:
    """Issue 19: with the production backoff grown long (here 20 s already), a broker that is
    back is noticed by the port probe, not at the end of the backoff."""
    broker = Mosquitto(tmp_path / "later")  # not started yet: nothing listens on its port
    config = MqttConfig(host=broker.host, port=broker.port)
    sink = MqttSink.open(
        config,
        IDENTITY,
        "9.9.9",
        BufferConfig(path=str(tmp_path / "buffer")),
        10**7,
        backoff=Backoff(initial=20.0, maximum=30.0),
    )
    task = asyncio.create_task(sink.run())
    try:
        sink.submit(scan("d", 1, seq=1))
        await wait_refused(sink)
        await asyncio.to_thread(broker.start)
        started = time.monotonic()
        await eventually(lambda: sink.status().delivered == 1, 5)
        assert time.monotonic() - started < 5, "delivered within a few seconds"
    finally:
        await sink.close(deadline=2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.stop()


async def test_a_broker_that_refuses_is_not_hammered(mosquitto_auth, sinks) -> None:
    """A broker that answers and refuses (a wrong password) is tried at the backoff's pace
    only: the port probe never turns into a connect a second."""
    config = mosquitto_config(mosquitto_auth, username=USER, password="wrong-pw")
    backoff = Backoff(initial=3.0, maximum=3.0, jitter=0.1)  # >= 2.7 s between attempts
    sink = sinks.start_config(config, backoff=backoff)

    def connections() -> int:
        """TCP connections the broker saw, probes included, but for its start-up check."""
        return mosquitto_auth.log().count("New connection from") - 1

    await eventually(lambda: connections() >= 1)
    started = time.monotonic()
    await eventually(lambda: connections() >= 3, 15)
    assert time.monotonic() - started >= 5.0, mosquitto_auth.log()[-2000:]
    assert "not authori" in (sink.status().last_error or "").lower()


async def test_restarted_sinks_leave_no_task_behind(mosquitto, tmp_path) -> None:
    """Closed and cancelled as the service restarts a sink, connected or not: every task the
    sink made is done (a pending one is logged "Task was destroyed but it is pending")."""
    before = asyncio.all_tasks()
    dead = MqttConfig(host="127.0.0.1", port=free_port())
    for round_, config in enumerate([mosquitto_config(mosquitto), dead] * 2):
        holder = Sinks(tmp_path / f"round-{round_}")
        sink = holder.start_config(config)
        if config is dead:
            await wait_refused(sink)
        else:
            await wait_connected(sink)
        await holder.close()  # close(), then cancel run() at once
        left = [t for t in asyncio.all_tasks() - before if not t.done()]
        assert left == [], f"round {round_}: tasks left behind: {left}"


# -- reports (alarms, OEE) -------------------------------------------------------------------


def alarm_report(ts: int) -> Report:
    payload = {"alarm": "too_hot", "state": "active", "device": "furnace-1", "ts": ts}
    return Report("furnace-1", "$alarms/too_hot", payload, "alarms", {}, {"active": True}, ts)


async def test_a_report_is_retained_even_from_the_buffer_after_a_restart(
    mosquitto, tmp_path
) -> None:
    # retain false and QoS 0 for samples: a report is retained and QoS 1 all the same, also
    # when it was kept on disk by a sink that closed while the broker was down.
    config = mosquitto_config(mosquitto, retain=False, qos=0)
    mosquitto.stop()
    first = open_sink(config, tmp_path / "buffer")
    task = asyncio.create_task(first.run())
    first.report(alarm_report(1795389160779))
    await first.close(deadline=1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    mosquitto.start()
    second = open_sink(config, tmp_path / "buffer")
    task = asyncio.create_task(second.run())
    try:
        await eventually(lambda: second.status().backlog == 0 and second.status().connected)
        topic = f"{BASE}/furnace-1/$alarms/too_hot"
        async with Subscriber(mosquitto) as late:
            await late.wait_for(lambda: late.last(topic))
            assert late.last(topic).retain
            assert late.values(topic) == [
                {"alarm": "too_hot", "state": "active", "device": "furnace-1", "ts": 1795389160779}
            ]
    finally:
        await second.close(deadline=1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# -- MQTT 5: refusals ------------------------------------------------------------------------


def acl_broker(tmp_path: Path) -> Mosquitto:
    """A broker whose ACL lets anonymous clients publish the gateway's state and device `ok`'s
    topics only: every other device's data is refused ("not authorized")."""
    acl = tmp_path / "acl"
    acl.write_text(
        f"topic readwrite {GATEWAY}\ntopic readwrite {BASE}/ok/#\ntopic readwrite {BASE}/ok\n"
    )
    return Mosquitto(tmp_path / "acl-broker", options=[f"acl_file {acl}"])


@pytest.mark.parametrize("qos", [1, 2])
async def test_mqtt5_a_refused_publish_is_an_error_and_stays_buffered(
    tmp_path, sinks, caplog, qos
) -> None:
    async with acl_broker(tmp_path) as broker, Subscriber(broker) as sub:
        sink = sinks.start(broker, protocol=5, qos=qos)
        sink.submit(scan("ok", 1, x=1))
        await sub.wait_for(lambda: sub.last(f"{BASE}/ok/x"))
        await eventually(lambda: sink.status().delivered == 1)
        sink.submit(scan("secret", 2, x=2, y=3))
        await eventually(lambda: sink.status().last_error is not None)
        status = sink.status()
        assert "refused a publication to" in status.last_error
        assert f"{BASE}/secret/" in status.last_error
        assert "not authorized" in status.last_error.lower()
        assert status.delivered == 1, "a refused publication is never counted as delivered"
        assert status.backlog == 2, "the refused scan stays in the buffer"
        errors = [r for r in caplog.records if r.levelname == "ERROR" and "refused" in r.message]
        assert errors, "the refusal is logged"


async def test_mqtt311_is_the_default_and_5_is_spoken_when_asked(tmp_path, sinks) -> None:
    async with Mosquitto(tmp_path / "b") as broker, Subscriber(broker) as sub:
        v5 = sinks.start(broker, protocol="5", client_id="v5")
        v3 = sinks.start(broker, client_id="v3")
        v5.submit(scan("d", 1, a=1))
        v3.submit(scan("d", 1, b=1))
        await sub.wait_for(lambda: sub.last(f"{BASE}/d/a") and sub.last(f"{BASE}/d/b"))
        # mosquitto logs the protocol as p5 (MQTT 5) and p2 (3.1.1).
        await eventually(lambda: "v5 (p5" in broker.log() and "v3 (p2" in broker.log())


async def test_mqtt5_refused_data_is_delivered_once_the_broker_allows_it(
    tmp_path, sinks, caplog
) -> None:
    async with acl_broker(tmp_path) as broker, Subscriber(broker) as sub:
        sink = sinks.start(broker, protocol=5)
        sink.submit(scan("secret", 1, x=1))
        await eventually(lambda: sink.status().last_error is not None)
        assert sink.status().delivered == 0 and sink.status().backlog == 1
        # The administrator fixes the ACL; mosquitto reads it again on SIGHUP.
        (tmp_path / "acl").write_text(f"topic readwrite {GATEWAY}\ntopic readwrite {BASE}/#\n")
        os.kill(broker.pid, SIGHUP)
        await sub.wait_for(lambda: sub.last(f"{BASE}/secret/x"), 20)
        await eventually(lambda: sink.status().delivered == 1)
        status = sink.status()
        assert status.backlog == 0 and status.last_error is None and status.connected
        assert any("accepts our publications again" in r.message for r in caplog.records)
