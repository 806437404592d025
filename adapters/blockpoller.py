"""The polling loop the S7 and MC adapters share: planned block reads, split on refusal, backoff.

Both PLC families read contiguous memory in planned blocks (`adapters.s7.planner`,
`adapters.mc.planner`), and both refuse a whole block when part of it does not exist (an absent
DB, a device number past the PLC's range). So the loop is one: read every planned block; when
the PLC refuses one for its addresses, `split` it and read the parts at once, and `isolate` the
signals that fail alone, so that the next plan reads them alone and never through them. One
wrong address costs that signal alone, with the PLC's reason in its sample and in status.

A PLC that cannot be reached (connection refused, timeout, a dropped link) fails the whole scan:
the device goes to `error` and is retried with capped, jittered backoff. As the Modbus poller
does (`gateway.outage`), that logs one error when the device fails, stays quiet while it
stays down, and logs one line when it recovers.

Subclasses give the protocol: `_plan`, `_decoder`, `_read`, `_split` and `_refused`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from gateway.adapter import AdapterError, Publisher
from gateway.backoff import Backoff
from gateway.device_state import DeviceStateReport
from gateway.model import BAD, Batch, DeviceState, Sample, now_ms
from gateway.status import DeviceStatus

log = logging.getLogger(__name__)

R = TypeVar("R")
L = TypeVar("L", bound="Link")


class Decoder(Protocol):
    """Decodes the bytes of one planned block into `out[signal_index]`."""

    def decode(self, data: bytes, ts: int, out: list[Sample | None]) -> None: ...


class Link(Protocol):
    """A shared connection: the registry counts its users and closes it after the last."""

    key: str
    users: int

    async def aclose(self) -> None: ...


class BlockPoller(ABC, Generic[R]):
    """The polling task of one PLC on a (possibly shared) link."""

    def __init__(
        self,
        device: Any,
        publisher: Publisher,
        status: DeviceStatus,
        signals: Sequence[tuple[str, str | None]],
    ) -> None:
        """`signals`: (name, unit) of each configured signal, in config order."""
        self.device = device
        self.publisher = publisher
        self.status = status
        self._signals = list(signals)
        self._isolate: set[int] = set()
        self._plan: list[tuple[R, Decoder]] = []
        self._backoff = Backoff(
            initial=max(device.interval, 1.0), maximum=max(60.0, device.interval)
        )
        self._state = DeviceStateReport(device.id, status, publisher, log)

    # The protocol ----------------------------------------------------------------------------

    @abstractmethod
    def _plan_requests(self, isolate: set[int]) -> list[R]:
        """The planned reads, with the signals of `isolate` read alone."""

    @abstractmethod
    def _decoder(self, request: R) -> Decoder:
        """The decoder of one planned read (compiled once per plan)."""

    @abstractmethod
    async def _read(self, request: R) -> bytes:
        """The bytes of one read; raises AdapterError (the subclass's tree)."""

    @abstractmethod
    def _split(self, request: R) -> list[R]:
        """Smaller reads after `request` was refused; `[request]` when it cannot be split."""

    @abstractmethod
    def _refused(self, exc: AdapterError) -> bool:
        """Whether the PLC refused these addresses (so splitting helps), not the request."""

    @abstractmethod
    def _members(self, request: R) -> tuple[int, ...]:
        """The indexes of the signals a read covers."""

    # The loop --------------------------------------------------------------------------------

    def replan(self) -> None:
        """Plan the reads again (after an isolation, or a new PDU size)."""
        self._plan = [(req, self._decoder(req)) for req in self._plan_requests(self._isolate)]
        self.status.requests_per_scan = len(self._plan)

    async def run(self) -> None:
        """Poll until cancelled. Never raises for device faults: they show in status."""
        loop = asyncio.get_running_loop()
        interval = self.device.interval
        next_tick = loop.time()
        while True:
            ok = await self._scan_once()
            now = loop.time()
            if ok:
                next_tick += interval
                if next_tick < now:
                    # The scan overran: skip the missed ticks instead of bursting to catch up.
                    self.status.overruns += 1
                    next_tick = now + interval - ((now - next_tick) % interval)
            else:
                next_tick = now + self._backoff.next_delay()
            await asyncio.sleep(max(0.0, next_tick - loop.time()))

    async def _scan_once(self) -> bool:
        started = time.perf_counter()
        try:
            samples = await self.scan()
        except AdapterError as exc:
            self._state.failed(str(exc))
            return False
        self._succeeded(samples, (time.perf_counter() - started) * 1000.0)
        return True

    async def scan(self) -> list[Sample]:
        """Read every signal once and return its samples, in signal order.

        Raises AdapterError when the PLC cannot be read at all.
        """
        out: list[Sample | None] = [None] * len(self._signals)
        errors: dict[int, str] = {}
        replan = False
        for req, decoder in self._plan:
            replan |= await self._read_into(req, decoder, out, errors)
        if replan:
            self.replan()
        ts = now_ms()
        samples: list[Sample] = []
        for index, sample in enumerate(out):
            if sample is None:
                name, unit = self._signals[index]
                sample = Sample(name, None, BAD, ts, unit, errors.get(index, "not read"))
            samples.append(sample)
        return samples

    async def _read_into(
        self, req: R, decoder: Decoder, out: list[Sample | None], errors: dict[int, str]
    ) -> bool:
        """Read one block into `out`, splitting it when refused. True if the plan changed."""
        try:
            data = await self._read(req)
        except AdapterError as exc:
            if not self._refused(exc):
                raise
            parts = self._split(req)
            if parts != [req]:
                for part in parts:
                    await self._read_into(part, self._decoder(part), out, errors)
                return True
            members = self._members(req)
            for index in members:
                errors[index] = str(exc)
            fresh = set(members) - self._isolate
            self._isolate |= fresh
            return len(members) > 1 and bool(fresh)
        decoder.decode(data, now_ms(), out)
        return False

    def _succeeded(self, samples: list[Sample], latency_ms: float) -> None:
        status = self.status
        status.polls_ok += 1
        status.last_poll = now_ms()
        status.latency_ms = round(latency_ms, 2)
        status.observe_latency(latency_ms)
        status.signal_errors = {s.signal: s.error for s in samples if s.error is not None}
        if status.signal_errors:
            status.last_error = status.signal_summary()
        self._backoff.reset()
        self.publisher.publish(Batch(self.device.id, status.last_poll, samples))
        if status.state is not DeviceState.ONLINE:
            down_for = self._state.outage.recovered()
            if down_for is not None:
                log.warning("device %s: recovered after %.0f s", self.device.id, down_for)
            else:
                log.info("device %s: online (%d reads per scan)", self.device.id, len(self._plan))
            if not status.signal_errors:
                status.last_error = None
            self._state.set(DeviceState.ONLINE, None)

    def stopped(self) -> None:
        """Mark the device offline (removed from the config or shutting down)."""
        self._state.stopped()


class Discard:
    """The publisher of a test read: nothing it reads is published."""

    def publish(self, batch: object) -> None:
        pass

    def state_changed(self, change: object) -> None:
        pass


class LinkRegistry(Generic[L]):
    """One link per connection key, shared by the devices on it; the last user closes it."""

    def __init__(self, factory: Callable[[Any], L]) -> None:
        self._factory = factory
        self._links: dict[str, L] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def acquire(self, device: Any) -> L:
        """The link for `device` (its `link` key), created on first use."""
        link = self._links.get(device.link)
        if link is None:
            link = self._links[device.link] = self._factory(device)
        link.users += 1
        return link

    def release(self, link: L) -> None:
        """A device stopped using `link`; the last one closes it."""
        link.users -= 1
        if link.users <= 0:
            self._links.pop(link.key, None)
            self._close_soon(link)

    def _close_soon(self, link: L) -> None:
        try:
            task = asyncio.get_running_loop().create_task(link.aclose(), name=f"close {link.key}")
        except RuntimeError:  # no loop (the gateway has stopped): the OS closes the socket
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def close_all(self) -> None:
        """Close every link (the gateway stops)."""
        for link in self._links.values():
            self._close_soon(link)
        self._links.clear()
