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

Coming back. The backoff between full connects grows to 30 s, so that a broker that answers
but refuses us (a wrong password) is not hammered. When nothing answered on the broker's port
(refused, unreachable, or the connection was lost), the sink also tries a bare TCP connect to
the port every `probe_interval` (1 s) while it waits, and connects at once when the port goes
from dead to answering: a broker that is back gets its data within a second or two, not up to
30 s later, and a dead one costs one TCP handshake a second.

Device states travel apart from data (only the latest per device is kept) and go first on every
connection, so a long backlog of samples never hides a device that went offline. The gateway's
retained state is `online` after every connect, `offline` by the broker's last will when the
gateway dies, and `offline` again from `close()` on a clean shutdown.

Modules. This one is the sink (queueing, the in-flight window, reconnecting, closing);
`mqtt_messages` the messages, their encoding and their framing on disk; `mqtt_link` the
paho-thread bridge of one connection, its in-flight bookkeeping and the TLS set-up;
`gateway.portprobe` the port watch; `mqtt_errors` the one exception, `MqttError`, whose text
says, for a technician, why a connection could not be made or was lost. `run()` catches it,
keeps it as `last_error` and retries. `SinkBase` (`sinks.base`) holds what this sink shares
with InfluxDB's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.backoff import Backoff
from gateway.buffer import Outbox, open_outbox
from gateway.config.models import BufferConfig, GatewayIdentity, MqttConfig
from gateway.model import Batch, Report, StateChange
from gateway.portprobe import until_port_returns
from gateway.sinks.base import CLOSE_FLUSH_SHARE, SinkBase
from gateway.sinks.mqtt_errors import MqttError
from gateway.sinks.mqtt_link import Connection, Will, connect, teardown
from gateway.sinks.mqtt_messages import (
    Encoder,
    Kind,
    Message,
    dump_messages,
    load_messages,
    message_size,
)

__all__ = ["InFlight", "Message", "MqttError", "MqttSink"]

log = logging.getLogger(__name__)

PROBE_INTERVAL = 1.0
"""Seconds between bare TCP connects to a broker whose port did not answer."""


@dataclass(frozen=True, slots=True)
class InFlight:
    """The current connection's in-flight window, for diagnostics and tests."""

    sent: int
    """Messages handed to paho and not yet acknowledged (at most `max_inflight`)."""
    held_by_paho: int
    """Messages in paho's own outgoing queue (the window bounds it too)."""


class MqttSink(SinkBase):
    """Publishes to one MQTT broker (SPEC "MQTT"): per_signal or per_device, states, status.

    MQTT 3.1.1 or 5 (`mqtt.protocol`), clean session. With MQTT 5, a publication the broker
    refuses (a PUBACK reason code) ends the connection with that error; its batch stays in the
    outbox and is sent again after the backoff, which grows while the refusals last.
    `submit` and `state_changed` only queue and return; `run()`
    connects, publishes and reconnects until cancelled or closed; `close()` says goodbye.
    `outbox` is the sink's store-and-forward buffer (`MqttSink.open` makes one).
    """

    name = "mqtt"
    _log = log

    def __init__(
        self,
        config: MqttConfig,
        identity: GatewayIdentity,
        version: str,
        outbox: Outbox[list[Message]],
        *,
        backoff: Backoff | None = None,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        super().__init__(outbox, backoff)
        self.config = config
        self.identity = identity
        self.version = version
        self.encoder = Encoder(config, identity, version)
        self.topics = self.encoder.topics
        self._probe_interval = probe_interval
        self._pending: deque[Message] = deque()
        """Messages of outbox entries taken and not yet handed to paho; always sent first."""
        self._states: dict[str, Message] = {}
        self._wake = asyncio.Event()
        """Set when there is something for the pump to do: data, states, acks, a lost link."""
        self._progress = asyncio.Event()
        """Set on every ack burst and on connection loss; `close()` waits on it."""
        self._conn: Connection | None = None
        self._sealed = False
        """No new publications on the current connection: `close()` is saying goodbye."""
        self._refusing = False
        """The last connection ended because the broker refused a publication (MQTT 5): the
        outage, and the growing backoff, last until the broker accepts data again."""

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

    # -- the pipeline's side (event loop thread, never blocks, never raises) -------------

    def submit(self, batch: Batch) -> None:
        """Encode one device scan and put it in the outbox (never blocks)."""
        messages = self.encoder.batch(batch)
        if messages:
            self.outbox.put(messages, len(batch.samples), message_size(messages))
            self._wake.set()

    def report(self, report: Report) -> None:
        """Put a report (an alarm change, OEE figures) in the outbox, in order with the scans."""
        message = self.encoder.report(report)
        self.outbox.put([message], 1, message_size([message]))
        self._wake.set()

    def state_changed(self, change: StateChange) -> None:
        """Queue a device's new `$state`; only the latest per device is kept until sent."""
        self._states[change.device] = self.encoder.state(change)
        self._wake.set()

    @property
    def connected(self) -> bool:
        """A connection to the broker is up."""
        conn = self._conn
        return conn is not None and not conn.lost.is_set()

    def _extra_backlog(self) -> int:
        return len(self._states)  # device states waiting count as backlog

    def in_flight(self) -> InFlight | None:
        """The current connection's window; None while not connected."""
        conn = self._conn
        return None if conn is None else InFlight(len(conn.inflight), conn.held_by_paho())

    def socket(self) -> socket.socket | None:
        """The current connection's socket (tests cut it as a pulled cable would)."""
        conn = self._conn
        return None if conn is None else conn.socket()

    # -- the sink's task ----------------------------------------------------------------

    async def _serve(self) -> None:
        """Connect, publish and reconnect until closed (see "Coming back" above)."""
        while not self._closing:
            watch = True  # a connection that was lost: the broker may have gone
            try:
                await self._session()
            except MqttError as exc:
                self._failed(str(exc))
                watch = not exc.answered
            if self._closing:
                return
            delay = self._backoff.next_delay()
            log.debug("mqtt: next connection attempt in %.1f s", delay)
            await self._wait_to_reconnect(delay, watch)

    async def _wait_to_reconnect(self, delay: float, watch: bool) -> None:
        """Wait `delay` s; with `watch`, end early once the broker's port starts answering."""
        if watch:
            config = self.config
            await until_port_returns(
                config.host, config.port, delay, self._probe_interval, self._stopping
            )
        else:
            await self._pause(delay)

    async def _session(self) -> None:
        """One connection, from connect to loss or close."""
        self._idle.clear()
        try:
            will = Will(self.topics.gateway, self.encoder.will_payload())
            client_id = self.config.client_id or f"gerbang-{self.identity.id}"
            conn = await connect(self.config, client_id, will, self._wake, self._progress)
            if self._closing:
                await teardown(conn)
                return
            self._connected(conn)
            try:
                self._send(conn, self.encoder.gateway("online"))
                await self._pump(conn)
            finally:
                self._conn = None
                self._requeue(conn)
                await teardown(conn)
            if conn.refusal is not None and not self._closing:
                self._refusing = True
                raise MqttError(conn.refusal)
            if conn.reason is not None and not self._closing and self._outage.failed(conn.reason):
                log.warning(
                    "mqtt %s:%d: %s; %d items waiting for the broker",
                    self.config.host,
                    self.config.port,
                    conn.reason,
                    self.status().backlog,
                )
        finally:
            self._idle.set()

    def _connected(self, conn: Connection) -> None:
        self._conn = conn
        self._sealed = False
        where = f"{self.config.host}:{self.config.port}"
        if self._refusing:
            # Connected, but not recovered until the broker accepts what it refused.
            log.debug("mqtt %s: connected; sending again what the broker refused", where)
            return
        self._backoff.reset()
        down_for = self._outage.recovered()
        if down_for is None:
            log.info(
                "mqtt %s: connected (MQTT %s, QoS %d, %s)",
                where,
                self.config.protocol,
                self.config.qos,
                self.config.mode,
            )
        else:
            log.warning(
                "mqtt %s: connected again after %.0f s; sending %d waiting items",
                where,
                down_for,
                self.status().backlog,
            )

    async def _pump(self, conn: Connection) -> None:
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

    def _fill(self, conn: Connection) -> None:
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

    def _send(self, conn: Connection, message: Message) -> bool:
        """Hand one message to paho; False when the link is gone (the caller rewinds)."""
        if conn.publish(message):
            return True
        if message.kind is Kind.STATE:
            self._states.setdefault(message.device, message)
        return False

    def _take_acks(self, conn: Connection) -> None:
        delivered = conn.take_acks(self.outbox)
        self.delivered += delivered
        if delivered and self._refusing and conn.refusal is None:
            self._refusing = False
            self._backoff.reset()
            down_for = self._outage.recovered() or 0.0
            log.warning(
                "mqtt %s:%d: the broker accepts our publications again after %.0f s",
                self.config.host,
                self.config.port,
                down_for,
            )

    def _requeue(self, conn: Connection) -> None:
        """The connection ended: what it did not deliver will be sent again, in order."""
        self._take_acks(conn)
        for message in conn.abandon():
            if message.kind is Kind.STATE:
                self._states.setdefault(message.device, message)
        self._pending.clear()
        self.outbox.rewind()
        if len(self.outbox) or self._states:
            self._wake.set()

    # -- shutting down ------------------------------------------------------------------

    async def close(self, deadline: float = 5.0) -> None:
        """Clean shutdown within `deadline` seconds: deliver what is queued while 70% of it
        lasts, publish the gateway `offline` (retained), wait for the acks, disconnect and stop
        paho's thread. Idempotent; `run()` returns afterwards."""
        if not self._begin_close():
            return
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        # Keep a little of the deadline for DISCONNECT and joining paho's thread.
        acks_end = end - min(0.5, deadline * 0.1)
        conn = self._conn
        if conn is not None and not conn.lost.is_set():
            await self._until(
                lambda: conn.lost.is_set() or not (self._has_data() or conn.inflight),
                end - deadline * (1 - CLOSE_FLUSH_SHARE),
            )
            self._sealed = True
            if not conn.lost.is_set():
                self._send(conn, self.encoder.gateway("offline"))
                await self._until(lambda: conn.lost.is_set() or not conn.inflight, acks_end)
                self._take_acks(conn)
            conn.end("closed")
            self._wake.set()
        try:
            async with asyncio.timeout(max(0.1, end - loop.time())):
                await self._idle.wait()
        except TimeoutError:
            # A connection attempt still under way (paho's connect cannot be interrupted):
            # cancelling run() closes it once it returns.
            log.debug("mqtt: a connection attempt is still under way at close")
        self._finish_close()

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
