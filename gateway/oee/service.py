"""The OEE service: feeds each machine's engine from its scans and says what to publish when.

The thin shell around the pure engines. `observe` takes every device scan (a `Batch`),
`device_state` every connection change, and `tick(now)` returns the payloads due: each device's
figures every `publish_interval`, and the final figures of each shift that ended. It also
writes the state file (`snapshot`) at most every publish interval and at each shift end, and
reads it back at start so that a restart mid-shift keeps the figures.

Hot path: `observe` costs O(1) per batch of an OEE device and nothing for the others. The 1-3
signals it needs are looked up by name once, when the service is built, as positions in the
device's signal list (the order of a full scan); a partial batch (OPC UA notifications) falls
back to a search of that batch.

Not wired here: the pipeline, the sinks and the API call these methods (and publish the
reports on `$oee` and as InfluxDB measurement `oee`).

Exceptions:

    LookupError
     └── OeeError          (KeyError)
          ├── UnknownDevice   no OEE for this device id
          └── UnknownStop     no stop with this id on the device
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config.models import Config, DeviceBase, SignalBase
from gateway.model import Batch, DeviceState, Quality, Sample, StateChange, Value, now_ms

from .calendar import ShiftCalendar
from .counters import MODULUS
from .engine import CounterMode, EngineSpec, OeeEngine
from .snapshot import read_snapshot, write_snapshot

log = logging.getLogger(__name__)

STATE_FILE = "oee.json"
MAX_REASON = 200
"""The longest reason a technician may type."""


class OeeError(KeyError):
    """Base of the OEE service's errors: a device or stop that does not exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownDevice(OeeError):
    """The device does not exist or computes no OEE."""


class UnknownStop(OeeError):
    """The device has no stop with this id (or it is too old to be kept)."""


@dataclass(frozen=True, slots=True)
class OeeReport:
    """One payload due: `figures` is the SPEC's `$oee` payload (with `device`)."""

    device: str
    figures: dict[str, Any]
    final: bool


@dataclass(slots=True)
class _Binding:
    """One device's engine and where its signals sit in a scan."""

    engine: OeeEngine
    names: tuple[str, ...]
    """The state signal (or "") then the counters."""
    hints: tuple[int, ...]
    """Each name's position in a full scan."""
    has_state: bool
    last_state: Value = None


def _number(value: Value) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _modulus(signal: SignalBase) -> float | None:
    kind = getattr(signal, "type", None)
    if kind not in MODULUS:
        return None
    return MODULUS[kind] * abs(getattr(signal, "scale", 1.0) or 1.0)


def _spec(device: DeviceBase, signals: dict[str, SignalBase]) -> tuple[EngineSpec, tuple[str, ...]]:
    oee = device.oee
    assert oee is not None
    fields = oee.counter_fields()
    mode: CounterMode = (
        "good_reject"
        if "reject_count" in fields
        else ("total_good" if "good_count" in fields else "total")
    )
    order = {
        "total": ("total_count",),
        "total_good": ("total_count", "good_count"),
        "good_reject": ("good_count", "reject_count"),
    }[mode]
    counters = tuple(fields[name] for name in order)
    spec = EngineSpec(
        ideal_cycle_s=oee.ideal_cycle_time,
        micro_stop_s=oee.micro_stop,
        running=frozenset(oee.state.running) if oee.state else None,
        planned=frozenset(oee.state.planned) if oee.state else frozenset(),
        mode=mode,
        moduli=tuple(_modulus(signals[name]) for name in counters),
    )
    return spec, counters


class OeeService:
    """Every OEE device's engine, its state file, and what is due to be published."""

    def __init__(
        self, config: Config, state_dir: str | Path, clock: Callable[[], int] = now_ms
    ) -> None:
        self.path = Path(state_dir) / STATE_FILE
        self.clock = clock
        self.site = config.oee
        self._bindings: dict[str, _Binding] = {}
        self._reasons = {r.code for r in self.site.stop_reasons} if self.site else set()
        now = clock()
        self._interval_ms = round((self.site.publish_interval if self.site else 60) * 1000)
        self._next_publish = now
        self._next_save = now + self._interval_ms
        if self.site is None:
            return
        self.calendar = ShiftCalendar(
            self.site.timezone,
            [shift.window() for shift in self.site.shifts],
            [brk.window() for brk in self.site.breaks],
        )
        saved = read_snapshot(self.path)
        for device in config.devices:
            if device.oee is None or not device.enabled:
                continue
            signals: dict[str, SignalBase] = {s.name: s for s in device.signals}
            positions = {s.name: i for i, s in enumerate(device.signals)}
            spec, counters = _spec(device, signals)
            state = device.oee.state.signal if device.oee.state else ""
            names = (state, *counters)
            engine = self._engine(device.id, spec, saved.get(device.id), now)
            self._bindings[device.id] = _Binding(
                engine, names, tuple(positions.get(n, -1) for n in names), bool(state)
            )

    def _engine(self, device: str, spec: EngineSpec, saved: Any, now: int) -> OeeEngine:
        if saved is not None:
            try:
                return OeeEngine.restore(self.calendar, spec, saved, now)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("OEE state of device %s not restored (%r): starting again", device, exc)
        return OeeEngine(self.calendar, spec, now)

    # -- inputs ---------------------------------------------------------------------------

    def observe(self, batch: Batch) -> None:
        """One device scan (non-blocking, O(1) for a full scan)."""
        binding = self._bindings.get(batch.device)
        if binding is None:
            return
        samples = batch.samples
        values: list[Value] = []
        present = False
        for name, hint in zip(binding.names, binding.hints, strict=True):
            sample: Sample | None = None
            if 0 <= hint < len(samples) and samples[hint].signal == name:
                sample = samples[hint]
            elif name:
                sample = next((s for s in samples if s.signal == name), None)
            if sample is None:  # not in this scan: the state holds, a counter counts nothing
                values.append(binding.last_state if not values else None)
                continue
            present = True
            values.append(None if sample.quality is Quality.BAD else sample.value)
        if not present:
            return
        state = values[0]
        if binding.has_state:
            binding.last_state = state
        counts = [_number(value) for value in values[1:]]
        binding.engine.observe(batch.ts, state if binding.has_state else None, counts)

    def device_state(self, change: StateChange) -> None:
        """A device's connection changed: offline (or in error) time is unknown."""
        binding = self._bindings.get(change.device)
        if binding is not None:
            online = change.state is DeviceState.ONLINE
            if not online:
                binding.last_state = None
            binding.engine.set_online(change.ts, online)

    def name_stop(self, device: str, stop_id: int, reason: str) -> dict[str, Any]:
        """A technician names a stop's reason: a site reason code or free text."""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise ValueError(f"a reason is 1 to {MAX_REASON} characters")
        engine = self._binding(device).engine
        try:
            return engine.name_stop(stop_id, reason).as_dict()
        except KeyError:
            raise UnknownStop(f"device {device} has no stop {stop_id}") from None

    # -- outputs --------------------------------------------------------------------------

    def devices(self) -> list[str]:
        """The ids of the devices that compute OEE."""
        return list(self._bindings)

    def figures(self, device: str) -> dict[str, Any]:
        """The current and the previous shift of one device (None where there is none)."""
        engine = self._binding(device).engine
        return {"current": engine.figures(), "previous": engine.previous_figures()}

    def all(self) -> dict[str, dict[str, Any]]:
        """`figures` of every OEE device."""
        return {device: self.figures(device) for device in self._bindings}

    def stops(self, device: str) -> list[dict[str, Any]]:
        """The device's recorded stops, newest first."""
        return [stop.as_dict() for stop in reversed(self._binding(device).engine.stops)]

    def timeline(self, device: str, since: int | None = None) -> list[dict[str, Any]]:
        """The machine's conditions from `since` (the current shift's start by default) to
        now: `{"start", "end", "condition"}` segments, oldest first; `end` None for the last."""
        engine = self._binding(device).engine
        if since is None:
            figures = engine.figures()
            since = figures["shift_start"] if figures else engine.accounted_to
        changes = list(engine.timeline)
        segments: list[dict[str, Any]] = []
        for index, (start, condition) in enumerate(changes):
            end = changes[index + 1][0] if index + 1 < len(changes) else None
            if end is not None and end <= since:
                continue
            segments.append({"start": max(start, since), "end": end, "condition": str(condition)})
        return segments

    def reasons(self) -> list[dict[str, str]]:
        """The site's stop reasons, for the page's picker."""
        return [r.model_dump() for r in self.site.stop_reasons] if self.site else []

    def tick(self, now: int | None = None) -> list[OeeReport]:
        """Advance every engine to `now`; the payloads due; the state file when due."""
        now = self.clock() if now is None else now
        reports: list[OeeReport] = []
        ended = False
        publish = now >= self._next_publish
        for device, binding in self._bindings.items():
            engine = binding.engine
            engine.advance(now)
            for final in engine.take_finished():
                reports.append(OeeReport(device, {"device": device, **final}, True))
                ended = True
            if publish:
                current = engine.figures()
                if current is not None:
                    reports.append(OeeReport(device, {"device": device, **current}, False))
        if publish:  # on a fixed grid, so that a tick a little late does not skip one
            self._next_publish = max(self._next_publish + self._interval_ms, now)
        if ended or now >= self._next_save:
            self.save()
            self._next_save = now + self._interval_ms
        return reports

    def save(self) -> None:
        """Write the state file now (at shutdown, too)."""
        if not self._bindings:
            return
        try:
            write_snapshot(
                self.path, {device: b.engine.snapshot() for device, b in self._bindings.items()}
            )
        except OSError as exc:
            log.error("OEE state %s cannot be written (%s); figures kept in memory", self.path, exc)

    def _binding(self, device: str) -> _Binding:
        binding = self._bindings.get(device)
        if binding is None:
            raise UnknownDevice(f"device {device} computes no OEE")
        return binding
