"""The OPC UA adapter behind the core's interface (`gateway.adapter.Adapter`, `Browser`).

Test reads and browses open a session of their own, so a running device keeps its
subscription undisturbed; each is bounded in time. They share a small pool per endpoint
(`PROBE_SESSIONS` at once, the rest wait their turn within their time budget): a machine's
server may allow as few as 10 sessions, and a page full of browse clicks, or a client in a
loop, must never use them up and lock the running poller out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from gateway.adapter import AdapterContext, BrowsedNode, Publisher
from gateway.config.models import OpcUaDevice
from gateway.config.nodeids import NodeIdError, parse_node_id
from gateway.model import Sample
from gateway.status import DeviceStatus

from .browse import browse
from .errors import BadNode, ConnectFailed, wrapped
from .poller import OpcUaPoller
from .session import open_session

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

    def close(self) -> None:
        """Sessions belong to their pollers, which close them."""
