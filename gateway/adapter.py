"""The one narrow interface between the core and the protocol adapters.

The core (pipeline, service, API) knows protocols only through these types; it never imports a
concrete adapter. Each `adapters/<protocol>/` package offers one `Adapter` class, and the wiring
table `gateway.protocols` names it by import path, so that a protocol's library (asyncua,
pymodbus, ...) is imported only when a device of that protocol is configured. This mirrors
Telegraf's `inputs.Add("modbus", ...)` with its narrow `Accumulator`:

- a poller sees only a `Publisher` (two calls: one batch per scan, and state changes) and the
  `DeviceStatus` it keeps up to date;
- the service sees only `Adapter.poller` / `Adapter.release` / `Adapter.close`;
- the API sees only `Adapter.test_read` and, where a protocol can browse, `Browser.browse`.

Every adapter maps its library's and the OS's exceptions into its own tree rooted at
`AdapterError` at its boundary, so the core catches only `AdapterError` and shows its message,
which names the device (and the address or node where it can).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from gateway.model import Batch, Sample, StateChange
from gateway.status import DeviceStatus


class AdapterError(Exception):
    """Base of every error an adapter lets out: its message is a technician's sentence."""


class DeviceUnreachable(AdapterError):
    """The device could not be reached or did not answer (connection refused, timeout, ...)."""


class BadRequest(AdapterError):
    """What was asked of the adapter is malformed (a node id that cannot be parsed, ...)."""


class Publisher(Protocol):
    """What a poller hands its results to (the pipeline): never blocks, never raises."""

    def publish(self, batch: Batch) -> None:
        """One device scan's samples."""

    def state_changed(self, change: StateChange) -> None:
        """The device went online, offline or into error."""


class Poller(Protocol):
    """The task of one device: reads until cancelled, publishes, keeps its status."""

    async def run(self) -> None:
        """Read until cancelled; device faults show in status, never as an exception."""

    def stopped(self) -> None:
        """The device is no longer polled (removed, or the gateway stops): say it is offline."""


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What the gateway gives every adapter it creates."""

    state_dir: Path
    """The gateway's state folder (beside the buffer): OPC UA keeps trusted certificates there."""


@dataclass(slots=True)
class BrowsedNode:
    """One node of a device's address space, as a browse lists it (OPC UA today)."""

    node: str
    """Node id in the form the config takes (`nsu=<uri>;s=...` where the namespace is not 0)."""
    name: str
    kind: str
    """`variable` or `object`."""
    path: str
    """Browse names from the start node, joined by `/`."""
    data_type: str | None = None
    value: Any = None
    readable: bool = True
    """Whether the value can be a signal (a number, bool or text); else `error` says why."""
    error: str | None = None
    children: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """One protocol family (Modbus TCP and RTU share one), created once per gateway."""

    def poller(self, device: Any, publisher: Publisher, status: DeviceStatus) -> Poller:
        """The polling task of `device` (a validated device config of this protocol)."""

    def release(self, poller: Any) -> None:
        """`poller` stopped for good: give back what it shared (a Modbus link, ...)."""

    async def test_read(self, device: Any) -> list[Sample]:
        """Read every signal of `device` once, outside the pipeline, for a technician.

        Bounded in time; raises AdapterError when the device cannot be read at all. Nothing is
        published and no running device's status changes.
        """

    def close(self) -> None:
        """The gateway stops: close every shared connection."""


@runtime_checkable
class Browser(Protocol):
    """An adapter that can list a device's address space (OPC UA)."""

    async def browse(self, device: Any, node: str, depth: int) -> list[BrowsedNode]:
        """The tree below `node`, `depth` levels down. BadRequest for a malformed node id,
        AdapterError when the device cannot be browsed."""
