"""The bridge between paho-mqtt's network thread and asyncio: one `Connection` per broker
connection, opened by `connect`, ended by `teardown`, and the TLS set-up.

paho runs its network loop in its own thread (`loop_start`); its callbacks run there. They only
append to a deque or hand a call to the event loop with `call_soon_threadsafe`: one wake-up per
burst of acknowledgements, one when the connection ends. Blocking paho calls (the TCP connect
and TLS handshake, DISCONNECT and joining the thread) go to the default executor, so the event
loop never waits on the network. Each connection gets a fresh paho client with paho's own
reconnect turned off: the sink decides when to connect again.

How the sink waits to reconnect to a broker whose port did not answer is in
`gateway.portprobe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from gateway.buffer import Outbox
from gateway.config.models import MqttConfig
from gateway.sinks.mqtt_errors import (
    CONNECT_TIMEOUT,
    closed_before_connack,
    connect_failed,
    lost,
    no_connack,
    publish_refused,
    refused,
    tls_setup_failed,
)
from gateway.sinks.mqtt_messages import Message


@dataclass(slots=True)
class Will:
    """The last will the broker publishes when the connection dies without DISCONNECT."""

    topic: str
    payload: bytes


@dataclass(slots=True, eq=False)
class Connection:
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
    refusal: str | None = None
    """Why the broker refused a publication (an MQTT 5 PUBACK/PUBCOMP reason code), if it did:
    the connection is then ended, and the refused message's batch stays in the outbox."""
    refused_messages: list[Message] = field(default_factory=list)

    def end(self, reason: str) -> None:
        """Mark the connection over (the first reason given is kept)."""
        if not self.lost.is_set():
            self.reason = self.reason or reason
            self.lost.set()

    def publish(self, message: Message) -> bool:
        """Hand one message to paho (thread-safe, never blocks); False, and the connection
        marked over, when paho refuses it because the link is gone."""
        info = self.client.publish(message.topic, message.payload, message.qos, message.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.end(f"publish failed: {paho.error_string(info.rc)}")
            return False
        self.inflight[info.mid] = message
        return True

    def take_acks(self, outbox: Outbox[list[Message]]) -> int:
        """Process the acknowledgements paho reported: acknowledge in `outbox` each entry
        whose messages all arrived; the number of samples delivered."""
        acks = self.acks
        inflight = self.inflight
        unacked = self.unacked
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
        return delivered

    def refused(self, mid: int, reason: str) -> None:
        """The broker refused the publication `mid`: say which and why, and end the connection
        (the sink reconnects with a growing backoff and sends the batch again from there)."""
        # Out of the window now: the PUBCOMP paho still gets after a refused PUBREC must not
        # count it as delivered. `abandon` hands it back with the rest.
        message = self.inflight.pop(mid, None)
        if message is None:
            return
        self.refused_messages.append(message)
        if self.refusal is None:
            self.refusal = publish_refused(message.topic, reason)
            self.end(self.refusal)

    def abandon(self) -> list[Message]:
        """Forget what is in flight (the connection ended); the messages that were."""
        messages = [*self.refused_messages, *self.inflight.values()]
        self.refused_messages.clear()
        self.inflight.clear()
        self.unacked.clear()
        return messages

    def held_by_paho(self) -> int:
        """Messages in paho's own outgoing queue (sent or waiting, not yet acknowledged)."""
        # paho 2.2 has no public count of it; the sink's window must bound it (tests check).
        return len(self.client._out_messages)

    def socket(self) -> socket.socket | ssl.SSLSocket | None:
        """The connection's socket while it is open."""
        sock = self.client.socket()
        return sock if isinstance(sock, socket.socket) else None


async def connect(
    config: MqttConfig,
    client_id: str,
    will: Will,
    wake: asyncio.Event,
    progress: asyncio.Event,
) -> Connection:
    """Connect to the broker and wait for its CONNACK; raises `MqttError` saying why not.

    `wake` and `progress` are set from paho's thread on every burst of acks and on loss.
    Cancelled while paho's connect runs, it lets that finish and closes what it opened.
    """
    loop = asyncio.get_running_loop()
    try:
        client = _new_client(config, client_id, will)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise tls_setup_failed(exc) from exc
    conn = Connection(client, loop.create_future())
    _wire(conn, loop, wake, progress)
    keepalive = max(1, round(config.keepalive))
    if config.protocol == "5":
        # MQTT 5 has clean_start where 3.1.1 has clean_session (which paho refuses for 5).
        start = functools.partial(
            client.connect, config.host, config.port, keepalive, clean_start=True
        )
    else:
        start = functools.partial(client.connect, config.host, config.port, keepalive)
    connecting = loop.run_in_executor(None, start)
    try:
        await asyncio.shield(connecting)
    except asyncio.CancelledError:
        # paho's connect cannot be interrupted: let it finish, then close what it opened.
        with contextlib.suppress(Exception):
            await connecting
        await teardown(conn)
        raise
    except Exception as exc:
        await teardown(conn)
        raise connect_failed(exc, config) from exc
    client.loop_start()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reason = await conn.connack
    except TimeoutError:
        await teardown(conn)
        raise no_connack() from None
    except BaseException:
        await teardown(conn)
        raise
    if reason is None:  # the connection dropped before the broker answered
        await teardown(conn)
        raise closed_before_connack(config.tls is not None)
    if reason.is_failure:
        await teardown(conn)
        raise refused(str(reason))
    return conn


async def teardown(conn: Connection) -> None:
    """Disconnect (if still connected) and join paho's thread, off the event loop."""
    client = conn.client
    # The callbacks hold the connection, which holds the client: break the cycle, or paho's
    # socket pair may be collected before the client can close it (a ResourceWarning).
    client.on_connect = client.on_disconnect = client.on_publish = None
    if isinstance(client, _Client):
        client.on_pubrec_refused = None
    await asyncio.get_running_loop().run_in_executor(None, _stop_client, client)


def _new_client(config: MqttConfig, client_id: str, will: Will) -> paho.Client:
    v5 = config.protocol == "5"
    client = _Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else True,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
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
    client.will_set(will.topic, will.payload, qos=1, retain=True)
    return client


def _wire(
    conn: Connection,
    loop: asyncio.AbstractEventLoop,
    wake: asyncio.Event,
    progress: asyncio.Event,
) -> None:
    """Connect paho's callbacks (run in paho's thread) to this connection's asyncio state."""

    def acks_ready() -> None:
        conn.ack_wake_pending = False
        wake.set()
        progress.set()

    def ended(reason: str) -> None:
        conn.end(reason)
        wake.set()
        progress.set()
        _settle(conn.connack, None)

    def refused(mid: int, reason: str) -> None:
        conn.refused(mid, reason)
        wake.set()
        progress.set()

    def on_connect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        _call(loop, _settle, conn.connack, reason)

    def on_disconnect(_c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        _call(loop, ended, lost(str(reason), flags.is_disconnect_packet_from_server))

    def on_publish(_c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            # MQTT 5 only (3.1.1 acks carry no reason): the broker refused this publication
            # in its PUBACK or PUBCOMP (a refusing PUBREC: `_Client`).
            _call(loop, refused, mid, str(reason))
            return
        # One wake-up per burst of acks. `acks_ready` clears the flag before the pump reads
        # the deque, so an ack appended after that schedules a wake-up of its own.
        conn.acks.append(mid)
        if not conn.ack_wake_pending:
            conn.ack_wake_pending = True
            _call(loop, acks_ready)

    client = conn.client
    if isinstance(client, _Client):
        client.on_pubrec_refused = lambda mid, reason: _call(loop, refused, mid, reason)
    conn.client.on_connect = on_connect
    conn.client.on_disconnect = on_disconnect
    conn.client.on_publish = on_publish


class _Client(paho.Client):
    """paho's client, told about a PUBREC (QoS 2) that refuses the publication.

    paho 2.2 ignores PUBREC's reason code (a TODO in `_handle_pubrec`), sends PUBREL anyway,
    and mosquitto answers with a successful PUBCOMP: a refused QoS 2 message would look
    delivered. This reads the reason first, with paho's own decoder, and reports a refusal
    to `on_pubrec_refused` (in paho's thread) before paho carries on as before.
    """

    on_pubrec_refused: Callable[[int, str], None] | None = None

    def _handle_pubrec(self) -> MQTTErrorCode:
        hook = self.on_pubrec_refused
        if hook is not None and self._protocol == MQTTProtocolVersion.MQTTv5:
            packet = self._in_packet
            result = _packet.decode_pubrec(packet["command"], packet["packet"], self._protocol)
            if result.reason.is_failure:
                hook(result.mid, str(result.reason))
        return super()._handle_pubrec()


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
