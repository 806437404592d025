"""The one narrow interface between the core and the protocol adapters.

The core (pipeline, service, API) knows protocols only through these types; it never imports a
concrete adapter. Each `adapters/<protocol>/` package offers one `Adapter` class, and the wiring
table `gateway.protocols` names it by import path, so that a protocol's library (asyncua,
pymodbus, ...) is imported only when a device of that protocol is configured. This mirrors
Telegraf's `inputs.Add("modbus", ...)` with its narrow `Accumulator`:

- a poller sees only a `Publisher` (two calls: one batch per scan, and state changes) and the
  `DeviceStatus` it keeps up to date;
- the service sees only `Adapter.poller` / `Adapter.release` / `Adapter.close`;
- the API sees only `Adapter.test_read` and, where a protocol can browse, `Browser.browse`;
- the write service (`gateway.writes`) sees only `Writer.write` and, where a protocol has
  methods, `MethodCaller.call`; an adapter without them cannot be written to.

Every adapter maps its library's and the OS's exceptions into its own tree rooted at
`AdapterError` at its boundary, so the core catches only `AdapterError` and shows its message,
which names the device (and the address or node where it can).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from gateway.model import Batch, Sample, StateChange, Value
from gateway.status import DeviceStatus

W = TypeVar("W", bound="WritableSignal")


class AdapterError(Exception):
    """Base of every error an adapter lets out: its message is a technician's sentence."""


class DeviceUnreachable(AdapterError):
    """The device could not be reached or did not answer (connection refused, timeout, ...)."""


class BadRequest(AdapterError):
    """What was asked of the adapter is malformed (a node id that cannot be parsed, ...)."""


class WriteRefused(AdapterError):
    """The value cannot be written to this signal (wrong type, beyond what its registers hold,
    not a whole step of its scale): nothing was sent to the device."""


class WritableSignal(Protocol):
    """What `writable_signal` needs of a configured signal."""

    name: str
    writable: bool


def writable_signal(device_id: str, signals: Sequence[W], name: str) -> W:
    """The device's signal `name`, if it is writable; WriteRefused otherwise (every adapter's
    writer checks this first, though the write service already has)."""
    for signal in signals:
        if signal.name == name:
            if not signal.writable:
                raise WriteRefused(f"signal {name} of device {device_id} is not writable")
            return signal
    raise WriteRefused(f"device {device_id} has no signal {name!r}")


class ReadBackMismatch(AdapterError):
    """The device accepted a write, but the value read back differs; the message names both."""

    def __init__(self, message: str, written: Value, read_back: Value) -> None:
        super().__init__(message)
        self.written = written
        self.read_back = read_back


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """A write that the device carried out and that read back as written."""

    value: Value
    """The value written, as the signal holds it (the type's value: 1450 for a uint16)."""
    read_back: Value
    """The value read back after the write, as the signal's reads show it."""
    ts: int
    """When the read-back arrived (ms since the epoch, UTC)."""


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


@runtime_checkable
class Writer(Protocol):
    """An adapter that can write a signal (Modbus, OPC UA; S7 and MC when they add theirs).

    The service has already checked that the signal is `writable` and within `min`/`max`; the
    adapter checks what only it knows (the type its registers or node hold), writes through
    the device's own connection, reads the value back and compares.
    """

    async def write(self, device: Any, signal: str, value: Value) -> WriteOutcome:
        """Write `value` to `signal` of `device`, read it back.

        WriteRefused (nothing written), DeviceUnreachable (no answer: it may or may not have
        been written), ReadBackMismatch, or another AdapterError (the device refused).
        """


@runtime_checkable
class MethodCaller(Protocol):
    """An adapter that can call a device's methods (OPC UA `methods:`)."""

    async def call(self, device: Any, method: str, args: list[Any]) -> list[Any]:
        """Call the device's configured method `method` with `args`; its output arguments.

        WriteRefused for arguments the method does not take, DeviceUnreachable, or another
        AdapterError (the server refused the call).
        """
