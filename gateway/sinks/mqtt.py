"""The MQTT sink: publishes samples, device states and the gateway's status with paho-mqtt 2.x.

paho runs its network loop in its own thread (`loop_start`); the asyncio side only calls the
thread-safe `publish` and learns about acknowledgements through a thread-safe deque plus one
wake-up per burst, so the event loop is never blocked and a PUBACK costs no task.

Delivery is at least once. A message counts as delivered on its PUBACK (QoS 1/2) or when
written (QoS 0). We keep at most `max_inflight` messages unacknowledged and never let paho
queue more: while disconnected, messages wait in our bounded queue (oldest dropped and counted
when full). Each connection gets a fresh paho client with paho's own reconnect turned off; when
it drops, the messages in flight go back to the front of the queue in their order and are sent
again after we reconnect (with capped, jittered backoff).

Device states are retained and kept apart from data (latest per device), and sent first after
every connect, so a backlog of samples never hides a device that went offline.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from gateway.backoff import Backoff
from gateway.config.models import GatewayIdentity, MqttConfig
from gateway.model import Batch, StateChange, now_ms
from gateway.sinks.base import BoundedQueue, SinkStatus
from gateway.sinks.topics import (
    TopicBuilder,
    device_payload,
    gateway_payload,
    signal_payload,
    state_payload,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0


@dataclass(slots=True)
class Message:
    """One MQTT publication, with the number of samples it carries (for `delivered`)."""

    topic: str
    payload: bytes
    retain: bool
    samples: int = 0
    state_of: str | None = None
    """The device whose `$state` this is (states are tracked apart from data)."""


@dataclass(slots=True)
class _Connection:
    """The paho client of one connection and what the paho thread reports about it."""

    client: paho.Client
    connack: asyncio.Future[Any]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    acks: deque[int] = field(default_factory=deque)
    ack_wake_scheduled: bool = False
    inflight: dict[int, Message] = field(default_factory=dict)
    order: dict[int, int] = field(default_factory=dict)
    """mid -> our send sequence, to put unacknowledged messages back in order."""


class MqttError(Exception):
    """A connection could not be made or was refused; the message says why, for humans."""


class MqttSink:
    """Publishes to one MQTT broker (SPEC "MQTT"): per_signal or per_device, states, status."""

    name = "mqtt"

    def __init__(self, config: MqttConfig, identity: GatewayIdentity, version: str) -> None:
        self.config = config
        self.identity = identity
        self.version = version
        self.topics = TopicBuilder(config.topic_prefix, identity)
        self._queue: BoundedQueue[Message] = BoundedQueue(config.queue_size, "mqtt sink")
        self._states: dict[str, Message] = {}
        self._wake = asyncio.Event()
        self._conn: _Connection | None = None
        self._seq = 0
        self._closing = False
        self.connected = False
        self.delivered = 0
        self.last_error: str | None = None
        self._per_device = config.mode == "per_device"

    # -- the pipeline's side (event loop thread, never blocks) ---------------------------

    def submit(self, batch: Batch) -> None:
        """Encode one scan into its messages and queue them."""
        retain = self.config.retain
        if self._per_device:
            self._queue.put(
                Message(
                    self.topics.device(batch.device),
                    device_payload(batch),
                    retain,
                    len(batch.samples),
                )
            )
        else:
            topic = self.topics.signal
            device = batch.device
            put = self._queue.put
            for sample in batch.samples:
                put(Message(topic(device, sample.signal), signal_payload(sample), retain, 1))
        self._wake.set()

    def state_changed(self, change: StateChange) -> None:
        """Queue a device's new `$state` (only the latest per device is kept)."""
        self._states[change.device] = Message(
            self.topics.state(change.device), state_payload(change), True, state_of=change.device
        )
        self._wake.set()

    def status(self) -> SinkStatus:
        """Connected, backlog (queued + in flight), delivered samples, dropped, last error."""
        inflight = len(self._conn.inflight) if self._conn is not None else 0
        return SinkStatus(
            self.name,
            connected=self.connected,
            backlog=len(self._queue) + inflight,
            delivered=self.delivered,
            dropped=self._queue.dropped,
            last_error=self.last_error,
        )

    # -- the sink's task ----------------------------------------------------------------

    async def run(self) -> None:
        """Connect, publish, reconnect with backoff, until cancelled."""
        backoff = Backoff(initial=1.0, maximum=30.0)
        while True:
            try:
                await self._session(backoff)
            except MqttError as exc:
                if self._closing:
                    return
                if self.last_error != str(exc):
                    log.error("mqtt %s:%d: %s", self.config.host, self.config.port, exc)
                self.last_error = str(exc)
            if self._closing:
                return
            delay = backoff.next_delay()
            log.debug("mqtt: reconnecting in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _session(self, backoff: Backoff) -> None:
        """One connection, from connect to loss."""
        conn = await self._connect()
        self._conn = conn
        self.connected = True
        backoff.reset()
        if self.last_error is not None:
            log.warning("mqtt %s:%d: connected again", self.config.host, self.config.port)
        else:
            log.info("mqtt %s:%d: connected", self.config.host, self.config.port)
        self.last_error = None
        try:
            self._publish(conn, Message(self.topics.gateway, self._gateway_status("online"), True))
            await self._pump(conn)
        finally:
            self.connected = False
            self._conn = None
            self._requeue(conn)
            await self._teardown(conn)

    async def _pump(self, conn: _Connection) -> None:
        """Publish queued states and messages within the in-flight window until the link drops."""
        limit = self.config.max_inflight if self.config.qos else 1_000
        while not conn.lost.is_set():
            self._take_acks(conn)
            for device, message in list(self._states.items()):
                if len(conn.inflight) >= limit:
                    break
                del self._states[device]
                self._publish(conn, message)
            room = limit - len(conn.inflight)
            if room > 0 and len(self._queue):
                for message in self._queue.take(room):
                    self._publish(conn, message)
                    if conn.lost.is_set():
                        break
                continue
            self._wake.clear()
            if conn.acks or (len(self._queue) and len(conn.inflight) < limit) or self._states:
                continue
            await self._wake.wait()
        reason = self.last_error or "connection lost"
        raise MqttError(reason)

    def _publish(self, conn: _Connection, message: Message) -> None:
        qos = self.config.qos
        info = conn.client.publish(message.topic, message.payload, qos=qos, retain=message.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            # Not written (the connection is going down): keep it for the next connection.
            self._queue.put_front([message]) if message.state_of is None else self._restate(message)
            conn.lost.set()
            return
        if qos == 0:
            self.delivered += message.samples
            return
        self._seq += 1
        conn.inflight[info.mid] = message
        conn.order[info.mid] = self._seq

    def _restate(self, message: Message) -> None:
        if message.state_of is not None:
            self._states.setdefault(message.state_of, message)

    def _take_acks(self, conn: _Connection) -> None:
        while conn.acks:
            mid = conn.acks.popleft()
            message = conn.inflight.pop(mid, None)
            conn.order.pop(mid, None)
            if message is not None:
                self.delivered += message.samples

    def _requeue(self, conn: _Connection) -> None:
        """Put what was in flight and not acknowledged back, in its original order."""
        self._take_acks(conn)
        pending = sorted(conn.inflight, key=conn.order.__getitem__)
        data = [conn.inflight[mid] for mid in pending if conn.inflight[mid].state_of is None]
        for mid in pending:
            self._restate(conn.inflight[mid])
        conn.inflight.clear()
        conn.order.clear()
        if data:
            self._queue.put_front(data)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        client = self._new_client()
        conn = _Connection(client, loop.create_future())
        self._wire(conn, loop)
        try:
            await asyncio.wait_for(
                loop.run_in_executor(
                    None,
                    client.connect,
                    self.config.host,
                    self.config.port,
                    max(5, int(self.config.keepalive)),
                ),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError, ssl.SSLError, ValueError) as exc:
            await self._teardown(conn)
            raise MqttError(f"cannot connect: {exc or type(exc).__name__}") from exc
        client.loop_start()
        try:
            reason = await asyncio.wait_for(conn.connack, CONNECT_TIMEOUT)
        except TimeoutError:
            await self._teardown(conn)
            raise MqttError("no CONNACK from the broker within 10 s") from None
        if reason.is_failure:
            await self._teardown(conn)
            raise MqttError(f"broker refused the connection: {reason}")
        return conn

    def _new_client(self) -> paho.Client:
        config = self.config
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"gerbang-{self.identity.id}",
            clean_session=True,
            reconnect_on_failure=False,
        )
        client.max_inflight_messages_set(config.max_inflight)
        if config.username:
            password = config.password.get_secret_value() if config.password else None
            client.username_pw_set(config.username, password)
        if config.tls is not None:
            client.tls_set(
                ca_certs=config.tls.ca_file,
                certfile=config.tls.cert_file,
                keyfile=config.tls.key_file,
            )
            client.tls_insecure_set(config.tls.insecure)
        client.will_set(self.topics.gateway, self._gateway_status("offline"), qos=1, retain=True)
        return client

    def _wire(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Connect paho's callbacks (paho's thread) to this connection's asyncio state."""
        wake = self._wake

        def notify() -> None:
            conn.ack_wake_scheduled = False
            wake.set()

        def on_connect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
            loop.call_soon_threadsafe(_settle, conn.connack, reason)

        def on_disconnect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
            def lost() -> None:
                if not self._closing and reason is not None and reason.is_failure:
                    self.last_error = f"disconnected: {reason}"
                conn.lost.set()
                wake.set()
                _settle(conn.connack, reason)

            loop.call_soon_threadsafe(lost)

        def on_publish(_c: Any, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
            # One wake-up per burst of acks: the flag is cleared by the wake-up itself, which
            # runs after this append, so no ack is ever left unseen.
            conn.acks.append(mid)
            if not conn.ack_wake_scheduled:
                conn.ack_wake_scheduled = True
                loop.call_soon_threadsafe(notify)

        conn.client.on_connect = on_connect
        conn.client.on_disconnect = on_disconnect
        conn.client.on_publish = on_publish

    async def _teardown(self, conn: _Connection) -> None:
        client = conn.client
        client.on_connect = client.on_disconnect = client.on_publish = None
        await asyncio.get_running_loop().run_in_executor(None, _stop_client, client)

    def _gateway_status(self, state: str) -> bytes:
        return gateway_payload(state, self.version, now_ms())

    async def close(self, deadline: float = 5.0) -> None:
        """Clean shutdown: deliver what we can, publish the gateway offline, disconnect."""
        conn = self._conn
        if conn is None or conn.lost.is_set():
            self._closing = True
            return
        try:
            async with asyncio.timeout(deadline):
                while (
                    len(self._queue) or self._states or conn.inflight
                ) and not conn.lost.is_set():
                    self._wake.set()
                    await asyncio.sleep(0.05)
                self._closing = True
                self._publish(
                    conn, Message(self.topics.gateway, self._gateway_status("offline"), True)
                )
                while conn.inflight and not conn.lost.is_set():
                    self._take_acks(conn)
                    await asyncio.sleep(0.02)
        except TimeoutError:
            log.warning(
                "mqtt: %d messages not delivered at shutdown", len(self._queue) + len(conn.inflight)
            )
        self._closing = True
        conn.client.disconnect()
        conn.lost.set()
        self._wake.set()


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _stop_client(client: paho.Client) -> None:
    """Disconnect and join paho's thread (blocking: run in an executor)."""
    try:
        client.disconnect()
    finally:
        client.loop_stop()
