"""The MQTT sink: publishes samples, device states and the gateway's own state with paho-mqtt 2.x.

Threads. paho runs its network loop in its own thread (`loop_start`): measured, that is 2-5x
faster than driving paho from asyncio sockets (LIBRARIES.md: 16-17k vs 3-7k QoS 1 messages/s).
The event loop only calls paho's thread-safe `publish`, in bursts of at most one in-flight
window, and learns about acknowledgements from a deque the paho thread appends to, with one
wake-up per burst of acks. Blocking calls (TCP connect, TLS handshake, joining paho's thread) go
to the default executor. The event loop is never blocked.

Delivery is at least once. Each batch is encoded once, at `submit`, into its messages (one per
signal or one per scan), and those go into the sink's store-and-forward outbox
(`gateway.buffer.Outbox`), which keeps them, on disk when they wait longer than a second, until
the broker acknowledged every message of the batch: PUBACK (QoS 1), PUBCOMP (QoS 2) or, at
QoS 0, paho having written it to the socket (paho's `on_publish`). At most `max_inflight`
messages are unacknowledged at any time, at every QoS, so paho's own queue, which has no bound,
never holds more than that window. Each connection gets a fresh paho client with paho's
reconnect turned off; when a connection drops, the outbox is rewound to the first batch not
wholly acknowledged, and everything from there is sent again, in the original order, after we
reconnect with capped, jittered backoff. The broker may therefore see a message twice, never
zero times, even across a restart of the gateway.

Device states travel apart from data (only the latest per device is kept) and go first on every
connection, so a long backlog of samples never hides a device that went offline. The gateway's
retained state is `online` after every connect, `offline` by the broker's last will when the
gateway dies, and `offline` again from `close()` on a clean shutdown.

Errors: `MqttError` (the one exception of this module) says, for a technician, why a connection
could not be made or was lost; `run()` catches it, keeps it as `last_error` and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from gateway.backoff import Backoff
from gateway.buffer import Entry, Outbox, open_outbox
from gateway.config.models import BufferConfig, GatewayIdentity, MqttConfig
from gateway.model import Batch, StateChange, now_ms
from gateway.sinks.base import SinkStatus, buffer_errors
from gateway.sinks.topics import (
    TopicCache,
    device_payload,
    gateway_payload,
    signal_payload,
    state_payload,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
"""Seconds allowed for the TCP connect plus TLS handshake, and again for the broker's CONNACK."""

CLOSE_FLUSH_SHARE = 0.7
"""Share of `close()`'s deadline spent delivering the backlog before the goodbye is sent."""

# What paho's generic reason names mean for someone looking at the status page.
_LOST = {
    "Unspecified error": "connection lost (the broker went away or the network failed)",
    "Keep alive timeout": "the broker did not answer within the keepalive",
}
_REFUSAL_HINTS = {
    "Not authorized": "check mqtt.username and mqtt.password, and the broker's ACL",
    "Bad user name or password": "check mqtt.username and mqtt.password",
    "Client identifier not valid": "check mqtt.client_id",
    "Server unavailable": "the broker is up but not accepting clients yet",
}


class MqttError(Exception):
    """A connection could not be made, was refused or was lost; the text says why, for humans."""


class Kind(IntEnum):
    """What a message carries, which decides what happens to it when its connection drops."""

    DATA = 0
    """Samples: their outbox entry is taken again, in order."""
    STATE = 1
    """A device's `$state`: back into the latest-per-device map, unless a newer one came."""
    GATEWAY = 2
    """The gateway's own state: re-published by the next connect anyway, so dropped."""


@dataclass(slots=True)
class Message:
    """One MQTT publication, with the number of samples it carries (for `delivered`)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    samples: int = 0
    kind: Kind = Kind.DATA
    device: str = ""
    entry: Entry[list[Message]] | None = None
    """The outbox entry a data message belongs to, set when it is sent."""


_FRAME = struct.Struct("<HIH")
"""A stored data message: topic length, payload length, samples; then topic and payload."""


def dump_messages(messages: list[Message]) -> bytes:
    """A batch's data messages as bytes for the outbox's disk tier (QoS and retain are not
    stored: they are the config's when the message is sent)."""
    parts: list[bytes] = []
    for message in messages:
        topic = message.topic.encode()
        parts.append(_FRAME.pack(len(topic), len(message.payload), message.samples))
        parts.append(topic)
        parts.append(message.payload)
    return b"".join(parts)


def load_messages(raw: bytes, qos: int, retain: bool) -> list[Message]:
    """The inverse of `dump_messages`."""
    out: list[Message] = []
    offset = 0
    size = _FRAME.size
    while offset < len(raw):
        topic_len, payload_len, samples = _FRAME.unpack_from(raw, offset)
        offset += size
        topic = raw[offset : offset + topic_len].decode()
        offset += topic_len
        payload = raw[offset : offset + payload_len]
        offset += payload_len
        if len(payload) != payload_len:
            raise ValueError("truncated message")
        out.append(Message(topic, payload, qos, retain, samples))
    return out


@dataclass(slots=True, eq=False)
class _Connection:
    """The paho client of one connection and what its thread reports, handed over to asyncio."""

    client: paho.Client
    connack: asyncio.Future[Any]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None
    """Why the connection ended, once it has."""
    acks: deque[int] = field(default_factory=deque)
    """mids acknowledged by the broker (or written, at QoS 0); appended by paho's thread."""
    ack_wake_pending: bool = False
    inflight: dict[int, Message] = field(default_factory=dict)
    """mid -> message, in the order sent (dicts keep insertion order)."""
    unacked: dict[int, int] = field(default_factory=dict)
    """Outbox entry seq -> its messages sent on this connection and not yet acknowledged."""


class MqttSink:
    """Publishes to one MQTT broker (SPEC "MQTT"): per_signal or per_device, states, status.

    MQTT 3.1.1, clean session. `submit` and `state_changed` only queue and return; `run()`
    connects, publishes and reconnects until cancelled or closed; `close()` says goodbye.
    `outbox` is the sink's store-and-forward buffer (`MqttSink.open` makes one).
    """

    name = "mqtt"

    def __init__(
        self,
        config: MqttConfig,
        identity: GatewayIdentity,
        version: str,
        outbox: Outbox[list[Message]],
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.identity = identity
        self.version = version
        self.topics = TopicCache(config.topic_prefix, identity)
        self.outbox = outbox
        self._pending: deque[Message] = deque()
        """Messages of outbox entries taken and not yet handed to paho; always sent first."""
        self._states: dict[str, Message] = {}
        self._backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self._data_qos = config.qos
        # A state must not be lost even when the user accepts losing samples (QoS 0).
        self._state_qos = max(config.qos, 1)
        self._encode: Callable[[Batch], list[Message]] = (
            self._encode_device if config.mode == "per_device" else self._encode_signals
        )
        self._wake = asyncio.Event()
        """Set when there is something for the pump to do: data, states, acks, a lost link."""
        self._progress = asyncio.Event()
        """Set on every ack burst and on connection loss; `close()` waits on it."""
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._conn: _Connection | None = None
        self._closing = False
        self._closed = False
        self._sealed = False
        """No new publications on the current connection: `close()` is saying goodbye."""
        self._down_since: float | None = None
        self.delivered = 0
        self.last_error: str | None = None

    # -- the pipeline's side (event loop thread, never blocks, never raises) -------------

    @classmethod
    def open(
        cls,
        config: MqttConfig,
        identity: GatewayIdentity,
        version: str,
        buffer: BufferConfig,
        share: int,
        *,
        backoff: Backoff | None = None,
    ) -> MqttSink:
        """A sink with its outbox in `{buffer.path}/mqtt`, at most `share` bytes, loaded with
        what a previous run left there."""
        qos, retain = config.qos, config.retain
        outbox = open_outbox(
            buffer, cls.name, share, dump_messages, lambda raw: load_messages(raw, qos, retain)
        )
        return cls(config, identity, version, outbox, backoff=backoff)

    def submit(self, batch: Batch) -> None:
        """Encode one device scan and put it in the outbox (never blocks)."""
        messages = self._encode(batch)
        if messages:
            size = sum(len(m.topic) + len(m.payload) + 8 for m in messages)
            self.outbox.put(messages, len(batch.samples), size)
            self._wake.set()

    def state_changed(self, change: StateChange) -> None:
        """Queue a device's new `$state`; only the latest per device is kept until sent."""
        self._states[change.device] = Message(
            self.topics.state(change.device),
            state_payload(change),
            self._state_qos,
            True,
            kind=Kind.STATE,
            device=change.device,
        )
        self._wake.set()

    def status(self) -> SinkStatus:
        """Connected; backlog = samples not yet acknowledged + device states waiting;
        delivered = samples acknowledged; dropped = samples dropped from the full buffer."""
        conn = self._conn
        box = self.outbox.status()
        return SinkStatus(
            self.name,
            connected=conn is not None and not conn.lost.is_set(),
            backlog=box.backlog + len(self._states),
            backlog_bytes=box.backlog_bytes,
            delivered=self.delivered,
            dropped=box.dropped,
            last_error=self.last_error,
            buffer_errors=buffer_errors(box),
        )

    # -- the sink's task ----------------------------------------------------------------

    async def run(self) -> None:
        """Connect, publish and reconnect with capped, jittered backoff until closed/cancelled.

        The outbox's flush to disk runs beside it, as a task of its own.
        """
        flusher = asyncio.create_task(self.outbox.run(), name="mqtt buffer flush")
        try:
            while not self._closing:
                try:
                    await self._session()
                except MqttError as exc:
                    self._failed(str(exc))
                if self._closing:
                    return
                delay = self._backoff.next_delay()
                log.debug("mqtt: next connection attempt in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    def _failed(self, error: str) -> None:
        """Log a failure once; the same failure again only at debug (no log storm)."""
        if self._down_since is None:
            self._down_since = time.monotonic()
        if error != self.last_error:
            log.error("mqtt: %s", error)
        else:
            log.debug("mqtt: still failing: %s", error)
        self.last_error = error

    async def _session(self) -> None:
        """One connection, from connect to loss or close."""
        self._idle.clear()
        try:
            conn = await self._connect()
            if self._closing:
                await self._teardown(conn)
                return
            self._connected(conn)
            try:
                self._send(conn, self._gateway_message("online"))
                await self._pump(conn)
            finally:
                self._conn = None
                self._requeue(conn)
                await self._teardown(conn)
            if conn.reason is not None and not self._closing:
                log.warning(
                    "mqtt %s:%d: %s; %d items waiting for the broker",
                    self.config.host,
                    self.config.port,
                    conn.reason,
                    self.status().backlog,
                )
                self._down_since = time.monotonic()
                self.last_error = conn.reason
        finally:
            self._idle.set()

    def _connected(self, conn: _Connection) -> None:
        self._conn = conn
        self._sealed = False
        self._backoff.reset()
        where = f"{self.config.host}:{self.config.port}"
        if self._down_since is None:
            log.info(
                "mqtt %s: connected (MQTT 3.1.1, QoS %d, %s)",
                where,
                self.config.qos,
                self.config.mode,
            )
        else:
            log.warning(
                "mqtt %s: connected again after %.0f s; sending %d waiting items",
                where,
                time.monotonic() - self._down_since,
                self.status().backlog,
            )
        self._down_since = None
        self.last_error = None

    async def _pump(self, conn: _Connection) -> None:
        """Publish states, then data, within the in-flight window, until the connection ends."""
        while True:
            self._take_acks(conn)
            if conn.lost.is_set():
                return
            if not self._sealed:
                self._fill(conn)
            self._wake.clear()
            if conn.acks:
                # Acks arrived during the burst: process them, but let other tasks run first.
                await asyncio.sleep(0)
                continue
            await self._wake.wait()

    def _fill(self, conn: _Connection) -> None:
        """Publish until the window is full or nothing is left: states, then data in order."""
        inflight = conn.inflight
        window = self.config.max_inflight
        states = self._states
        while states and len(inflight) < window:
            device = next(iter(states))
            if not self._send(conn, states.pop(device)):
                return
        pending = self._pending
        outbox = self.outbox
        unacked = conn.unacked
        while len(inflight) < window:
            if not pending:
                entries = outbox.take(1)
                if not entries:
                    return
                entry = entries[0]
                unacked[entry.seq] = len(entry.item)
                for message in entry.item:
                    message.entry = entry
                pending.extend(entry.item)
                continue
            if not self._send(conn, pending.popleft()):
                return

    def _encode_signals(self, batch: Batch) -> list[Message]:
        topic = self.topics.signal
        device = batch.device
        qos = self._data_qos
        retain = self.config.retain
        return [
            Message(topic(device, s.signal), signal_payload(s), qos, retain, 1)
            for s in batch.samples
        ]

    def _encode_device(self, batch: Batch) -> list[Message]:
        if not batch.samples:
            return []
        return [
            Message(
                self.topics.device(batch.device),
                device_payload(batch),
                self._data_qos,
                self.config.retain,
                len(batch.samples),
            )
        ]

    def _send(self, conn: _Connection, message: Message) -> bool:
        """Hand one message to paho; False when the link is gone (the caller rewinds)."""
        info = conn.client.publish(message.topic, message.payload, message.qos, message.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            if message.kind is Kind.STATE:
                self._states.setdefault(message.device, message)
            if not conn.lost.is_set():
                conn.reason = conn.reason or f"publish failed: {paho.error_string(info.rc)}"
                conn.lost.set()
            return False
        conn.inflight[info.mid] = message
        return True

    def _take_acks(self, conn: _Connection) -> None:
        acks = conn.acks
        inflight = conn.inflight
        unacked = conn.unacked
        outbox = self.outbox
        delivered = 0
        while acks:
            message = inflight.pop(acks.popleft(), None)
            if message is None:
                continue
            entry = message.entry
            if entry is None:
                continue
            delivered += message.samples
            left = unacked.get(entry.seq, 0) - 1
            if left > 0:
                unacked[entry.seq] = left
            else:
                unacked.pop(entry.seq, None)
                outbox.ack(entry)
        self.delivered += delivered

    def _requeue(self, conn: _Connection) -> None:
        """The connection ended: what it did not deliver will be sent again, in order."""
        self._take_acks(conn)
        for message in conn.inflight.values():
            if message.kind is Kind.STATE:
                self._states.setdefault(message.device, message)
        conn.inflight.clear()
        conn.unacked.clear()
        self._pending.clear()
        self.outbox.rewind()
        if len(self.outbox) or self._states:
            self._wake.set()

    def _gateway_message(self, state: str) -> Message:
        return Message(
            self.topics.gateway,
            gateway_payload(state, self.version, now_ms()),
            1,
            True,
            kind=Kind.GATEWAY,
        )

    # -- connecting ---------------------------------------------------------------------

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        config = self.config
        try:
            client = self._new_client()
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise MqttError(f"TLS set-up failed: {exc} (check mqtt.tls)") from exc
        conn = _Connection(client, loop.create_future())
        self._wire(conn, loop)
        keepalive = max(1, round(config.keepalive))
        connecting = loop.run_in_executor(None, client.connect, config.host, config.port, keepalive)
        try:
            await asyncio.shield(connecting)
        except asyncio.CancelledError:
            # paho's connect cannot be interrupted: let it finish, then close what it opened.
            with contextlib.suppress(Exception):
                await connecting
            await self._teardown(conn)
            raise
        except Exception as exc:
            await self._teardown(conn)
            raise MqttError(_describe_connect_error(exc, config)) from exc
        client.loop_start()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reason = await conn.connack
        except TimeoutError:
            await self._teardown(conn)
            raise MqttError(
                f"no answer (CONNACK) from the broker within {CONNECT_TIMEOUT:.0f} s"
            ) from None
        except BaseException:
            await self._teardown(conn)
            raise
        if reason is None:  # the connection dropped before the broker answered
            await self._teardown(conn)
            hint = (
                " (a TLS broker does this when it wants a client certificate: check "
                "mqtt.tls.cert_file and key_file)"
                if config.tls is not None
                else " (is this an MQTT listener? does it want TLS?)"
            )
            raise MqttError(f"the connection closed before the broker answered{hint}")
        if reason.is_failure:
            await self._teardown(conn)
            text = str(reason)
            hint = _REFUSAL_HINTS.get(text)
            raise MqttError(
                f"the broker refused the connection: {text}" + (f" ({hint})" if hint else "")
            )
        return conn

    def _new_client(self) -> paho.Client:
        config = self.config
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"gerbang-{self.identity.id}",
            clean_session=True,
            protocol=MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=False,
        )
        client.connect_timeout = CONNECT_TIMEOUT
        # Our window bounds what paho holds; its own limit only has to let the window through.
        client.max_inflight_messages_set(config.max_inflight + 1)
        if config.username:
            password = config.password.get_secret_value() if config.password else None
            client.username_pw_set(config.username, password)
        if config.tls is not None:
            client.tls_set_context(_tls_context(config))
            if config.tls.insecure:
                client.tls_insecure_set(True)
        # The broker cannot know when we die: the will's `ts` is the moment we connected.
        will = gateway_payload("offline", self.version, now_ms())
        client.will_set(self.topics.gateway, will, qos=1, retain=True)
        return client

    def _wire(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Connect paho's callbacks (run in paho's thread) to this connection's asyncio state."""
        wake = self._wake
        progress = self._progress

        def acks_ready() -> None:
            conn.ack_wake_pending = False
            wake.set()
            progress.set()

        def lost(reason: str) -> None:
            if not conn.lost.is_set():
                conn.reason = conn.reason or reason
                conn.lost.set()
            wake.set()
            progress.set()
            _settle(conn.connack, None)

        def on_connect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
            _call(loop, _settle, conn.connack, reason)

        def on_disconnect(_c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
            text = str(reason)
            if flags.is_disconnect_packet_from_server:
                text = f"the broker closed the connection: {text}"
            else:
                text = _LOST.get(text, text)
            _call(loop, lost, text)

        def on_publish(_c: Any, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
            # One wake-up per burst of acks. `acks_ready` clears the flag before the pump reads
            # the deque, so an ack appended after that schedules a wake-up of its own.
            conn.acks.append(mid)
            if not conn.ack_wake_pending:
                conn.ack_wake_pending = True
                _call(loop, acks_ready)

        conn.client.on_connect = on_connect
        conn.client.on_disconnect = on_disconnect
        conn.client.on_publish = on_publish

    async def _teardown(self, conn: _Connection) -> None:
        """Disconnect (if still connected) and join paho's thread, off the event loop."""
        client = conn.client
        client.on_connect = client.on_disconnect = client.on_publish = None
        await asyncio.get_running_loop().run_in_executor(None, _stop_client, client)

    # -- shutting down ------------------------------------------------------------------

    async def close(self, deadline: float = 5.0) -> None:
        """Clean shutdown within `deadline` seconds: deliver what is queued while 70% of it
        lasts, publish the gateway `offline` (retained), wait for the acks, disconnect and stop
        paho's thread. Idempotent; `run()` returns afterwards."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        # Keep a little of the deadline for DISCONNECT and joining paho's thread.
        acks_end = end - min(0.5, deadline * 0.1)
        self._closing = True
        self._stopping.set()
        conn = self._conn
        if conn is not None and not conn.lost.is_set():
            await self._until(
                lambda: conn.lost.is_set() or not (self._has_data() or conn.inflight),
                end - deadline * (1 - CLOSE_FLUSH_SHARE),
            )
            self._sealed = True
            if not conn.lost.is_set():
                self._send(conn, self._gateway_message("offline"))
                await self._until(lambda: conn.lost.is_set() or not conn.inflight, acks_end)
                self._take_acks(conn)
            if not conn.lost.is_set():
                conn.reason = "closed"
                conn.lost.set()
            self._wake.set()
        try:
            async with asyncio.timeout(max(0.1, end - loop.time())):
                await self._idle.wait()
        except TimeoutError:
            # A connection attempt still under way (paho's connect cannot be interrupted):
            # cancelling run() closes it once it returns.
            log.debug("mqtt: a connection attempt is still under way at close")
        self.outbox.close()
        left = self.status().backlog
        if left:
            log.warning("mqtt: closed; %d samples kept in the buffer for the next start", left)
        else:
            log.info("mqtt: closed; %d samples delivered", self.delivered)

    def _has_data(self) -> bool:
        return bool(len(self.outbox) or self._pending or self._states)

    async def _until(self, condition: Callable[[], bool], when: float) -> None:
        """Wait until `condition()` holds or the loop clock reaches `when`."""
        loop = asyncio.get_running_loop()
        while not condition():
            remaining = when - loop.time()
            if remaining <= 0:
                return
            self._progress.clear()
            if self._conn is not None:
                self._take_acks(self._conn)
                if condition():
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)


def _describe_connect_error(exc: BaseException, config: MqttConfig) -> str:
    where = f"cannot connect to {config.host}:{config.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{where}: TLS certificate not accepted: {exc.verify_message} (check mqtt.tls)"
    if isinstance(exc, ssl.SSLError):
        return f"{where}: TLS handshake failed: {exc.reason or exc} (check mqtt.tls)"
    if isinstance(exc, ConnectionRefusedError):
        return f"{where}: connection refused (is the broker running and listening there?)"
    if isinstance(exc, socket.gaierror):
        return f"{where}: unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"{where}: no answer within {CONNECT_TIMEOUT:.0f} s"
    if isinstance(exc, OSError):
        return f"{where}: {exc.strerror or exc}"
    return f"{where}: {exc}"


class _ClosingSSLSocket(ssl.SSLSocket):
    """An SSLSocket that closes itself when its handshake fails.

    paho 2.2 wraps the TCP socket and runs the handshake in `_ssl_wrap_socket` but drops the
    SSLSocket without closing it when the handshake raises (bad CA, missing client certificate):
    every failed attempt would leak a file descriptor until the garbage collector finds it.
    """

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def _tls_context(config: MqttConfig) -> ssl.SSLContext:
    """Verify the broker against `ca_file` (the system's CAs without it) and its host name
    (unless `insecure`); present a client certificate when one is configured."""
    tls = config.tls
    assert tls is not None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca_file)
    if tls.cert_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    context.sslsocket_class = _ClosingSSLSocket
    return context


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _call(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    """Run `fn` in the event loop's thread; nothing to do once that loop has closed."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


def _stop_client(client: paho.Client) -> None:
    """Disconnect (sends DISCONNECT if still connected) and join paho's thread. Blocking."""
    try:
        client.disconnect()
    finally:
        client.loop_stop()
