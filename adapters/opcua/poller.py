"""Reads one OPC UA device: a subscription (default) or one batched read per interval.

`subscribe: true`: one subscription whose publishing interval is the device `interval`, one
monitored item per signal with that sampling interval and, where the signal has a `deadband`,
a server-side absolute deadband. Notifications are consumed raw, one publish response at a
time (asyncua's handler style would make a task per notification), and each response becomes
one batch: the samples that changed, each with its source timestamp.

A subscription reports changes only, so an unchanged value would be published once and never
again; the SPEC's heartbeat holds whatever the protocol. The poller therefore keeps the last
sample of every subscribed signal and, checking at most once a second (`HEARTBEAT_TICK`),
publishes again each good or uncertain one that has not been published for its `heartbeat`
(default 60 s), with the same value and quality and the time of republishing as its
timestamp: the server has reported no change since, over a subscription that is alive (its
keep-alives arrive). A bad signal is not repeated (its error is in status), and nothing is
repeated while the session is lost.

`subscribe: false`: every interval, one Read request for all the device's nodes (split only at
the server's per-request limit), never one request per node.

Node ids in the `nsu=<uri>` form are resolved against the server's namespace array at every
connect, so a server that renumbers its namespaces on restart is read correctly. A node that is
unknown, unreadable, or holds an array or a structure makes that signal bad with a message that
names the node; every other signal keeps flowing. A lost connection (socket closed, or the
keep-alive probe unanswered for about two seconds) puts the device in `error`; it is reconnected
with capped, jittered backoff and its subscription created again, in a new session, the old
one closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asyncua import ua

from gateway.adapter import Publisher
from gateway.backoff import Backoff
from gateway.config.models import OpcUaDevice, OpcUaSignal
from gateway.config.nodeids import NodeIdError, parse_node_id
from gateway.device_state import DeviceStateReport
from gateway.model import BAD, Batch, DeviceState, Sample, now_ms
from gateway.numbers import rounder
from gateway.portprobe import until_port_returns
from gateway.status import DeviceStatus

from .errors import OpcUaError, SessionLost, wrapped
from .session import Session, open_session
from .values import status_text, to_sample

log = logging.getLogger(__name__)

PROBE_INTERVAL = 1.0
"""Seconds between bare TCP checks of a dead server's port."""

HEARTBEAT_TICK = 1.0
"""Seconds between checks for subscribed values due for their heartbeat."""

READ_CHUNK = 1000
"""Nodes per Read request when the server does not say its limit."""


class OpcUaPoller:
    """The task of one OPC UA device (see the module docstring)."""

    def __init__(
        self,
        device: OpcUaDevice,
        publisher: Publisher,
        status: DeviceStatus,
        trust_dir: Path | None = None,
    ) -> None:
        self.device = device
        self.publisher = publisher
        self.status = status
        self.trust_dir = trust_dir
        self._signals: list[OpcUaSignal] = list(device.signals)
        self._refs = [parse_node_id(s.node) for s in self._signals]
        self._fixes = [rounder(None, decimals=s.decimals) for s in self._signals]
        """Per signal, its `decimals` rounding; a Float variant is written shortest anyway."""
        self._beats = [int(s.heartbeat * 1000) for s in self._signals]
        """Per signal, its heartbeat in ms: how long a subscribed value goes unrepeated."""
        self._held: list[Sample | None] = []
        """Per subscribed signal, the last sample the server sent."""
        self._sent: list[int] = []
        """Per subscribed signal, when it was last published (ms)."""
        self._next_beat = 0
        self.backoff = Backoff(initial=1.0, maximum=max(30.0, device.interval))
        """Between reconnects; the endpoint's port is watched meanwhile (`gateway.portprobe`)."""
        where = urlsplit(device.endpoint)
        self._host, self._port = where.hostname or "", where.port or 4840
        self._never = asyncio.Event()
        self._state = DeviceStateReport(device.id, status, publisher, log)
        self._session: Session | None = None
        status.requests_per_scan = 0 if device.subscribe else 1

    async def run(self) -> None:
        """Connect, read and reconnect until cancelled. Never raises for device faults."""
        while True:
            try:
                await self._connected_session()
            except OpcUaError as exc:
                self._state.failed(str(exc))
            # A server that went away is reconnected to as soon as its port answers again,
            # however long the backoff has grown; one that answers but refuses waits it out.
            await until_port_returns(
                self._host, self._port, self.backoff.next_delay(), PROBE_INTERVAL, self._never
            )

    def stopped(self) -> None:
        """Mark the device offline (removed from the config or shutting down)."""
        self._state.stopped()

    # -- one session ----------------------------------------------------------------------

    async def _connected_session(self) -> None:
        session = await open_session(self.device, self.trust_dir)
        self._session = session
        self.status.signal_errors = {}
        try:
            async with wrapped(self.device.endpoint):
                await self._use(session)
        finally:
            self._session = None
            await session.close()

    async def _use(self, session: Session) -> None:
        namespaces = await session.client.get_namespace_array()
        nodes, errors = self._resolve(namespaces)
        if self.device.subscribe:
            await self._subscribe(session, nodes, errors)
            while not session.lost.is_set():
                try:
                    async with asyncio.timeout(HEARTBEAT_TICK):
                        await session.lost.wait()
                except TimeoutError:
                    self._heartbeat()
        else:
            await self._poll(session, nodes, errors)
        raise SessionLost(session.reason or "connection lost")

    def _resolve(self, namespaces: list[str]) -> tuple[list[ua.NodeId | None], dict[int, str]]:
        nodes: list[ua.NodeId | None] = []
        errors: dict[int, str] = {}
        for index, ref in enumerate(self._refs):
            try:
                nodes.append(ref.resolve(namespaces))
            except NodeIdError as exc:
                nodes.append(None)
                errors[index] = f"node {ref.text}: {exc}"
        return nodes, errors

    # -- subscription ---------------------------------------------------------------------

    async def _subscribe(
        self, session: Session, nodes: list[ua.NodeId | None], errors: dict[int, str]
    ) -> None:
        client = session.client
        interval_ms = self.device.interval * 1000
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=interval_ms,
            RequestedLifetimeCount=10_000,
            RequestedMaxKeepAliveCount=max(1, int(3000 / interval_ms) + 1),
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
            Priority=0,
        )
        signals = self._signals
        unit_of = [s.unit for s in signals]
        name_of = [s.name for s in signals]
        node_of = [r.text for r in self._refs]
        fix_of = self._fixes
        held = self._held = [None] * len(signals)
        sent = self._sent = [0] * len(signals)
        self._next_beat = 0
        device_id = self.device.id

        def on_publish(result: ua.PublishResult) -> None:
            data = result.NotificationMessage.NotificationData
            arrival = now_ms()
            if not data:
                # A keep-alive: the server says nothing changed, as of now. That is a read as
                # good as a poll's (status "last read"; the page tells "unchanged" from stale).
                self.status.last_poll = arrival
                return
            samples: list[Sample] = []
            for notification in data:
                if isinstance(notification, ua.DataChangeNotification):
                    for item in notification.MonitoredItems:
                        i = item.ClientHandle
                        sample = to_sample(
                            name_of[i], unit_of[i], item.Value, arrival, node_of[i], fix_of[i]
                        )
                        samples.append(sample)
                        held[i] = sample
                        sent[i] = arrival
                elif isinstance(notification, ua.StatusChangeNotification):
                    text = status_text(notification.Status)
                    session.reason = f"the server ended the subscription: {text}"
                    session.lost.set()
            if samples:
                self._published(samples, arrival, None)

        response = await client.uaclient.create_subscription(params, on_publish)
        requests = []
        handles = []
        for index, node in enumerate(nodes):
            if node is None:
                continue
            signal = signals[index]
            parameters = ua.MonitoringParameters(
                ClientHandle=index,
                SamplingInterval=interval_ms,
                QueueSize=1,
                DiscardOldest=True,
            )
            if signal.deadband is not None:
                parameters.Filter = ua.DataChangeFilter(
                    Trigger=ua.DataChangeTrigger.StatusValue,
                    DeadbandType=ua.DeadbandType.Absolute,
                    DeadbandValue=signal.deadband,
                )
            requests.append(
                ua.MonitoredItemCreateRequest(
                    ItemToMonitor=ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.Value),
                    MonitoringMode=ua.MonitoringMode.Reporting,
                    RequestedParameters=parameters,
                )
            )
            handles.append(index)
        results: list[ua.MonitoredItemCreateResult] = []
        for start in range(0, len(requests), READ_CHUNK):
            results += await client.uaclient.create_monitored_items(
                ua.CreateMonitoredItemsParameters(
                    SubscriptionId=response.SubscriptionId,
                    TimestampsToReturn=ua.TimestampsToReturn.Both,
                    ItemsToCreate=requests[start : start + READ_CHUNK],
                )
            )
        for index, result in zip(handles, results, strict=True):
            if not result.StatusCode.is_good():
                errors[index] = f"node {self._refs[index].text}: {status_text(result.StatusCode)}"
        self._connected(len(results), errors)
        if errors:
            # The good signals arrive with the first publish; the bad ones are said once.
            ts = now_ms()
            bad = [
                Sample(signals[i].name, None, BAD, ts, signals[i].unit, error)
                for i, error in sorted(errors.items())
            ]
            self._published(bad, ts, None)
        log.debug("device %s: subscribed to %d nodes", device_id, len(results))

    def _heartbeat(self) -> None:
        """Publish again the held samples whose heartbeat has passed (module docstring)."""
        now = now_ms()
        if now < self._next_beat:
            return
        held, sent, beats = self._held, self._sent, self._beats
        due: list[Sample] = []
        next_beat = now + 86_400_000
        for i, sample in enumerate(held):
            if sample is None or sample.quality is BAD:
                continue
            if now - sent[i] >= beats[i]:
                due.append(Sample(sample.signal, sample.value, sample.quality, now, sample.unit))
                sent[i] = now
            next_beat = min(next_beat, sent[i] + beats[i])
        self._next_beat = next_beat
        if due:
            self._published(due, now, None)

    # -- polling --------------------------------------------------------------------------

    async def _poll(
        self, session: Session, nodes: list[ua.NodeId | None], errors: dict[int, str]
    ) -> None:
        loop = asyncio.get_running_loop()
        self._connected(sum(1 for node in nodes if node is not None), errors)
        interval = self.device.interval
        next_tick = loop.time()
        while not session.lost.is_set():
            started = time.perf_counter()
            samples = await self._read_all(session, nodes, errors)
            self._published(samples, now_ms(), (time.perf_counter() - started) * 1000.0)
            next_tick += interval
            now = loop.time()
            if next_tick < now:
                self.status.overruns += 1
                next_tick = now + interval - ((now - next_tick) % interval)
            try:
                async with asyncio.timeout(max(0.0, next_tick - loop.time())):
                    await session.lost.wait()
            except TimeoutError:
                pass

    async def _read_all(
        self, session: Session, nodes: list[ua.NodeId | None], errors: dict[int, str]
    ) -> list[Sample]:
        """One batched Read of every node (split only at READ_CHUNK), as samples in order."""
        readable = [(i, node) for i, node in enumerate(nodes) if node is not None]
        reads = [
            ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.Value) for _, node in readable
        ]
        values: list[ua.DataValue] = []
        for start in range(0, len(reads), READ_CHUNK):
            params = ua.ReadParameters(
                MaxAge=0,
                TimestampsToReturn=ua.TimestampsToReturn.Both,
                NodesToRead=reads[start : start + READ_CHUNK],
            )
            values += await session.client.uaclient.read(params)
        arrival = now_ms()
        signals = self._signals
        fixes = self._fixes
        samples: list[Sample | None] = [None] * len(signals)
        for (index, _), value in zip(readable, values, strict=True):
            signal = signals[index]
            samples[index] = to_sample(
                signal.name, signal.unit, value, arrival, self._refs[index].text, fixes[index]
            )
        for index, error in errors.items():
            signal = signals[index]
            samples[index] = Sample(signal.name, None, BAD, arrival, signal.unit, error)
        return [s for s in samples if s is not None]

    async def read_once(self) -> list[Sample]:
        """Connect, read every signal once, disconnect: for a technician's test read.

        Raises OpcUaError; nothing is published and the status is not touched.
        """
        session = await open_session(self.device, self.trust_dir)
        try:
            async with wrapped(self.device.endpoint):
                namespaces = await session.client.get_namespace_array()
                nodes, errors = self._resolve(namespaces)
                return await self._read_all(session, nodes, errors)
        finally:
            await session.close()

    # -- status ---------------------------------------------------------------------------

    def _connected(self, nodes: int, errors: dict[int, str]) -> None:
        self.backoff.reset()
        status = self.status
        # Notifications may have come in already: add to what they said, do not replace it.
        status.signal_errors.update({self._signals[i].name: e for i, e in errors.items()})
        down_for = self._state.outage.recovered()
        if down_for is not None:
            log.warning("device %s: connected again after %.0f s", self.device.id, down_for)
        else:
            log.info(
                "device %s: connected (%s, %d nodes)",
                self.device.id,
                "subscription" if self.device.subscribe else "polling",
                nodes,
            )
        for index, error in errors.items():
            log.error("device %s: signal %s: %s", self.device.id, self._signals[index].name, error)
        status.last_error = self.status.signal_summary()
        self._state.set(DeviceState.ONLINE, None)

    def _published(self, samples: list[Sample], ts: int, latency_ms: float | None) -> None:
        status = self.status
        status.polls_ok += 1
        status.last_poll = ts
        # The batch carries the newest source timestamp (per_device payloads show it).
        newest = max(sample.ts for sample in samples)
        if latency_ms is not None:
            status.latency_ms = round(latency_ms, 2)
        errors = status.signal_errors
        for sample in samples:
            if sample.error is not None:
                errors[sample.signal] = sample.error
            elif sample.signal in errors:
                del errors[sample.signal]
        status.last_error = self.status.signal_summary()
        self.publisher.publish(Batch(self.device.id, newest, samples, source_ts=True))

    # -- for tests and the API ------------------------------------------------------------

    @property
    def session(self) -> Any:
        """The live session, if connected (tests and browse use it)."""
        return self._session
