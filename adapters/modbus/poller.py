"""Polls one Modbus device at its interval: plan, read, decode, publish one batch per scan.

The read plan comes from `planner.plan_reads`; when a unit answers a block with an exception
(say 02, illegal address), the block is split into the smallest reads that cover only real
signals, re-read at once, and the plan remembers: addresses that failed are never read through
again, and a signal that fails alone is read alone and reported bad with the unit's reason,
while every other signal keeps flowing.

A unit that does not answer puts the device in `error` and is retried with capped, jittered
backoff, so that on a shared RS-485 bus its timeouts do not eat the bus's time. Logging follows
Home Assistant's modbus hub: one error when a device fails, quiet while it stays down, one line
when it recovers.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.adapter import Publisher
from gateway.backoff import Backoff
from gateway.config.models import ModbusDevice, ModbusSignal, ModbusTcpDevice
from gateway.device_state import DeviceStateReport
from gateway.model import BAD, Batch, DeviceState, Sample, now_ms
from gateway.portprobe import until_port_returns
from gateway.status import DeviceStatus

from .codec import BlockDecoder, compile_block
from .errors import ExceptionResponse, LinkDown, ModbusError, NoResponse
from .link import ModbusLink
from .planner import ReadRequest, gap_addresses, minimum_requests, plan_reads, split_failed

log = logging.getLogger(__name__)

PROBE_INTERVAL = 1.0
"""Seconds between bare TCP checks of a dead device's port."""


class ModbusPoller:
    """The polling task of one Modbus device on a (possibly shared) link."""

    def __init__(
        self, device: ModbusDevice, link: ModbusLink, publisher: Publisher, status: DeviceStatus
    ) -> None:
        self.device = device
        self.link = link
        self.publisher = publisher
        self.status = status
        self._signals: list[ModbusSignal] = list(device.signals)
        self._avoid: set[tuple[str, int]] = set()
        self._isolate: set[int] = set()
        self._plan: list[tuple[ReadRequest, BlockDecoder]] = []
        self._replan()
        self.backoff = Backoff(
            initial=max(device.interval, 1.0), maximum=max(60.0, device.interval)
        )
        """Between retries of a device that failed."""
        self._address = (device.host, device.port) if isinstance(device, ModbusTcpDevice) else None
        """Where a TCP device listens: its port is watched while the link is down."""
        self._link_down = False
        self._dead = False
        """The device stopped answering: its reads are probes, after the live units'."""
        self._probe_cost = link.timeout + 0.05
        """What a probe of a unit that does not answer costs the link (its timeout)."""
        self._never = asyncio.Event()
        self._state = DeviceStateReport(device.id, status, publisher, log)
        self._bad_logged: frozenset[str] = frozenset()
        """The signals last said to fail in the log: said again only when the set changes."""
        status.min_requests_per_scan = minimum_requests(self._signals, device.max_registers, 2000)

    def _replan(self) -> None:
        requests = plan_reads(
            self._signals,
            max_registers=self.device.max_registers,
            max_gap=self.device.max_gap,
            avoid=self._avoid,
            isolate=self._isolate,
        )
        self._plan = [(req, self._compile(req)) for req in requests]
        self.status.requests_per_scan = len(self._plan)

    def _compile(self, req: ReadRequest) -> BlockDecoder:
        members = [(i, self._signals[i]) for i in req.members]
        return compile_block(req.table, req.address, req.count, members)

    async def run(self) -> None:
        """Poll until cancelled. Never raises for device faults: they show in status."""
        loop = asyncio.get_running_loop()
        interval = self.device.interval
        next_tick = loop.time()
        while True:
            ok = await self._scan_once()
            now = loop.time()
            if ok:
                self._dead = False
                next_tick += interval
                if next_tick < now:
                    # The scan overran: skip the missed ticks instead of bursting to catch up.
                    self.status.overruns += 1
                    next_tick = now + interval - ((now - next_tick) % interval)
                self.link.next_scan(self.device.id, next_tick)
                await asyncio.sleep(max(0.0, next_tick - loop.time()))
                continue
            self._dead = True
            self.link.next_scan(self.device.id, None)
            delay = self.backoff.next_delay()
            if self._link_down and self._address is not None:
                # Nothing listens: reconnect as soon as the port answers again, however long
                # the backoff has grown (a unit that does not answer waits it out instead).
                host, port = self._address
                await until_port_returns(host, port, delay, PROBE_INTERVAL, self._never)
            else:
                await asyncio.sleep(delay)
                # On a shared bus, probe where the live units leave room (at most `delay` more).
                await self.link.wait_for_slack(self.device.id, self._probe_cost, delay)
            next_tick = loop.time()

    async def _scan_once(self) -> bool:
        """One scan: read every block, publish the batch. False when the device failed."""
        started = time.perf_counter()
        try:
            samples = await self.scan()
        except ModbusError as exc:
            self._link_down = isinstance(exc, LinkDown)
            self._state.failed(str(exc))
            return False
        self._succeeded(samples, (time.perf_counter() - started) * 1000.0)
        return True

    async def scan(self) -> list[Sample]:
        """Read every signal once and return its samples, in signal order.

        Raises LinkDown or NoResponse when the device cannot be read at all.
        """
        out: list[Sample | None] = [None] * len(self._signals)
        errors: dict[int, str] = {}
        replan = False
        for req, decoder in self._plan:
            replan |= await self._read_into(req, decoder, out, errors)
        if replan:
            self._replan()
        ts = now_ms()
        samples: list[Sample] = []
        for index, sample in enumerate(out):
            if sample is None:
                signal = self._signals[index]
                reason = errors.get(index, "not read")
                sample = Sample(signal.name, None, BAD, ts, signal.unit, reason)
            samples.append(sample)
        return samples

    async def _read_into(
        self,
        req: ReadRequest,
        decoder: BlockDecoder,
        out: list[Sample | None],
        errors: dict[int, str],
    ) -> bool:
        """Read one block into `out`, splitting it on an exception. True if the plan changed."""
        try:
            registers = await self.link.read(
                req.table, req.address, req.count, self.device.unit, probe=self._dead
            )
        except ExceptionResponse as exc:
            if not exc.is_address_problem:
                raise NoResponse(f"device {self.device.id}: {exc}") from exc
            return await self._split_and_retry(req, exc, out, errors)
        decoder.decode(registers, now_ms(), out)
        return False

    async def _split_and_retry(
        self,
        req: ReadRequest,
        exc: ExceptionResponse,
        out: list[Sample | None],
        errors: dict[int, str],
    ) -> bool:
        parts = split_failed(req, self._signals)
        if len(parts) > 1 or (parts and parts[0] != req):
            # Read through no gap of this block again, and pin down which signal is wrong.
            self._avoid |= gap_addresses(req, self._signals)
            for part in parts:
                await self._read_into(part, self._compile(part), out, errors)
            return True
        # Nothing left to split: the device refuses these very registers.
        for index in req.members:
            errors[index] = str(exc)
        fresh = set(req.members) - self._isolate
        self._isolate |= fresh
        return len(req.members) > 1 and bool(fresh)

    def _succeeded(self, samples: list[Sample], latency_ms: float) -> None:
        status = self.status
        status.polls_ok += 1
        status.last_poll = now_ms()
        status.latency_ms = round(latency_ms, 2)
        status.observe_latency(latency_ms)
        status.signal_errors = {s.signal: s.error for s in samples if s.error is not None}
        if status.signal_errors:
            status.last_error = status.signal_summary()
        self.backoff.reset()
        self.publisher.publish(Batch(self.device.id, status.last_poll, samples))
        errors = status.signal_errors
        changed = errors.keys() != self._bad_logged
        if status.state is not DeviceState.ONLINE:
            down_for = self._state.outage.recovered()
            failing = f"; {self._failing_text()}" if errors else ""
            if down_for is not None:
                log.warning(
                    "device %s: recovered after %.0f s%s", self.device.id, down_for, failing
                )
            else:
                log.info(
                    "device %s: online (%d reads per scan)%s",
                    self.device.id,
                    len(self._plan),
                    failing,
                )
            self._bad_logged = frozenset(errors)
            changed = False
            if not errors:
                status.last_error = None
            self._state.set(DeviceState.ONLINE, None)
        if changed:
            # Said once per change of the failing set, never per scan.
            if errors:
                log.warning("device %s: %s", self.device.id, self._failing_text())
            else:
                log.info("device %s: every signal reads again", self.device.id)
                status.last_error = None
            self._bad_logged = frozenset(errors)

    def _failing_text(self, shown: int = 5) -> str:
        """`2 of 7 signals fail: melt_temp: illegal data address ...; recipe: ...`"""
        errors = self.status.signal_errors
        parts = [f"{name}: {error}" for name, error in list(errors.items())[:shown]]
        more = f"; and {len(errors) - shown} more" if len(errors) > shown else ""
        return f"{len(errors)} of {len(self._signals)} signals fail: " + "; ".join(parts) + more

    def stopped(self) -> None:
        """Mark the device offline (removed from the config or shutting down)."""
        self.link.next_scan(self.device.id, None)
        self._state.stopped()
