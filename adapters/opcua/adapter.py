"""The OPC UA adapter behind the core's interface (`gateway.adapter.Adapter`, `Browser`).

Test reads and browses open a session of their own, so a running device keeps its
subscription undisturbed; each is bounded in time. They share a small pool per endpoint
(`PROBE_SESSIONS` at once, the rest wait their turn within their time budget): a machine's
server may allow as few as 10 sessions, and a page full of browse clicks, or a client in a
loop, must never use them up and lock the running poller out. Writes and method calls take a
session from the same pool (`writes.py` converts values to each node's own data type).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gateway.adapter import AdapterContext, BrowsedNode, Publisher, WriteOutcome, WriteRefused
from gateway.config.models import OpcUaDevice
from gateway.config.nodeids import NodeIdError, parse_node_id
from gateway.model import Sample, Value, now_ms
from gateway.status import DeviceStatus

from .browse import browse
from .errors import BadNode, ConnectFailed, wrapped
from .poller import OpcUaPoller
from .session import Session, open_session
from .values import convert
from .writes import TypeCache, to_variant, write_and_read_back

PROBE_SESSIONS = 2
"""Test-read and browse sessions open at once per endpoint, beside each device's own."""


class _Discard:
    """The publisher of a test read: nothing it reads is published."""

    def publish(self, batch: object) -> None:
        pass

    def state_changed(self, change: object) -> None:
        pass


class OpcUaAdapter:
    """OPC UA devices (`protocol: opcua`)."""

    def __init__(self, context: AdapterContext) -> None:
        self.trust_dir = context.state_dir / "opcua-trust"
        """Server certificates trusted on first use (`/var/lib/gerbang/opcua-trust`)."""
        self._pools: dict[str, asyncio.Semaphore] = {}
        self.probes_open = 0
        """Test-read and browse sessions open now, every endpoint together."""
        self.probes_peak = 0
        """The most that were ever open at once (status and tests)."""
        self.types = TypeCache()

    @contextlib.asynccontextmanager
    async def _probe_slot(self, endpoint: str) -> AsyncIterator[None]:
        pool = self._pools.setdefault(endpoint, asyncio.Semaphore(PROBE_SESSIONS))
        async with pool:
            self.probes_open += 1
            self.probes_peak = max(self.probes_peak, self.probes_open)
            try:
                yield
            finally:
                self.probes_open -= 1

    def poller(
        self, device: OpcUaDevice, publisher: Publisher, status: DeviceStatus
    ) -> OpcUaPoller:
        """The device's subscription (or polling) task."""
        return OpcUaPoller(device, publisher, status, self.trust_dir)

    def release(self, poller: OpcUaPoller) -> None:
        """Nothing is shared between OPC UA devices."""

    async def test_read(self, device: OpcUaDevice) -> list[Sample]:
        """A session of its own and one batched Read of every node."""
        poller = OpcUaPoller(
            device, _Discard(), DeviceStatus(device.id, device.protocol), self.trust_dir
        )
        budget = device.timeout * 4 + 2.0
        try:
            async with asyncio.timeout(budget), self._probe_slot(device.endpoint):
                return await poller.read_once()
        except TimeoutError:
            raise ConnectFailed(
                f"device {device.id}: no complete answer within {budget:.1f} s"
            ) from None

    async def browse(self, device: OpcUaDevice, node: str, depth: int) -> list[BrowsedNode]:
        """The tree below `node` in a session of its own."""
        try:
            parse_node_id(node)
        except NodeIdError as exc:
            raise BadNode(str(exc)) from None
        try:
            async with (
                asyncio.timeout(device.timeout * 4 + 20.0),
                self._probe_slot(device.endpoint),
            ):
                session = await open_session(device, self.trust_dir)
                try:
                    async with wrapped(device.endpoint):
                        try:
                            return await browse(session.client, node, depth)
                        except NodeIdError as exc:
                            raise BadNode(f"node {node}: {exc}") from None
                finally:
                    await session.close()
        except TimeoutError:
            raise ConnectFailed(f"device {device.id}: the server did not answer in time") from None

    @contextlib.asynccontextmanager
    async def _session(self, device: OpcUaDevice, what: str) -> AsyncIterator[Session]:
        """A session of its own from the probe pool, bounded in time, errors wrapped."""
        budget = device.timeout * 4 + 2.0
        try:
            async with asyncio.timeout(budget), self._probe_slot(device.endpoint):
                session = await open_session(device, self.trust_dir)
                try:
                    async with wrapped(device.endpoint):
                        yield session
                finally:
                    await session.close()
        except TimeoutError:
            raise ConnectFailed(
                f"device {device.id}: no answer to the {what} within {budget:.1f} s"
            ) from None

    async def write(self, device: OpcUaDevice, signal: str, value: Value) -> WriteOutcome:
        """Write one variable with its node's data type, read it back (`gateway.adapter.Writer`).

        A session of its own, like a test read: the running subscription is not disturbed.
        """
        found = next((s for s in device.signals if s.name == signal), None)
        if found is None or not found.writable:
            raise WriteRefused(f"signal {signal} of device {device.id} is not writable")
        async with self._session(device, f"write of {signal}") as session:
            client = session.client
            node = client.get_node(
                parse_node_id(found.node).resolve(await client.get_namespace_array())
            )
            kind = await self.types.variable(device.endpoint, node)
            where = f"device {device.id} node {found.node}"
            written, read_back = await write_and_read_back(node, signal, where, value, kind)
        return WriteOutcome(written, read_back, now_ms())

    async def call(self, device: OpcUaDevice, method: str, args: list[Any]) -> list[Any]:
        """Call a configured method with arguments of its declared input types
        (`gateway.adapter.MethodCaller`); its output arguments."""
        found = next((m for m in device.methods if m.name == method), None)
        if found is None:
            raise WriteRefused(f"device {device.id} lists no method {method!r}")
        async with self._session(device, f"call of {method}") as session:
            client = session.client
            namespaces = await client.get_namespace_array()
            obj = client.get_node(parse_node_id(found.object).resolve(namespaces))
            target = client.get_node(parse_node_id(found.method).resolve(namespaces))
            inputs = await self.types.inputs(device.endpoint, target)
            if len(args) != len(inputs):
                names = ", ".join(f"{n} ({k.name})" for n, k in inputs) or "none"
                raise WriteRefused(
                    f"method {method} takes {len(inputs)} arguments ({names}), not {len(args)}"
                )
            variants = [to_variant(n, a, k) for (n, k), a in zip(inputs, args, strict=True)]
            result = await obj.call_method(target.nodeid, *variants)
        outputs = result if isinstance(result, list) else [] if result is None else [result]
        return [_plain(value) for value in outputs]

    def close(self) -> None:
        """Sessions belong to their pollers, which close them."""


def _plain(value: Any) -> Any:
    """An output argument as JSON can carry it (LocalizedText as its text, others as text)."""
    converted, error = convert(value)
    return converted if error is None else str(value)
