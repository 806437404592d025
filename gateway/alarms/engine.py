"""The alarm engine: every alarm's state machine, fed one batch per device scan. No I/O.

Each alarm (one `AlarmRule` of one signal, plus one `offline` alarm per device) is in one of:

    normal ──condition──▶ pending ──held for delay──▶ ACTIVE ──past clear limit──▶ CLEARED
      ▲        │                                       (ack: stays active, acked)   │
      │        └──condition gone──▶ normal                                           │
      └──────────────────── ack (or already acked while active) ─────────────────────┘

- *pending* is the condition holding for less than `delay`; it is invisible (no event). Any good
  sample without the condition returns it to normal, so an alarm is never active without its
  condition having held, sample after sample, for `delay`.
- An active alarm clears only past its clear limit (`clear_below` / `clear_above`, hysteresis):
  a value between the clear limit and the trip limit keeps it active, so a noisy value around a
  limit does not chatter.
- Acknowledging an active alarm keeps it active (acknowledged); once it clears it is done.
  Acknowledging a cleared alarm that nobody acknowledged makes it done. A new activation needs
  a new acknowledgement.
- Only samples of quality good count: a bad or uncertain sample, or a value of the wrong type
  (an OPC UA node that changed type) neither raises nor clears; a pending delay keeps running.
- `offline` (severity high) is raised when a device's state becomes `error` (it stops answering,
  or its poller crashed) and cleared when it is `online` again. `offline` from the gateway
  stopping a device (shutdown, removed from the config) changes nothing: a clean restart must
  not raise an alarm per device. While a device does not answer, its pending alarms restart.

Cost: `evaluate` is O(alarm rules of that device) per scan. Each rule remembers where its
signal sat in the last batch (a device's batches list signals in the same order); only when
that guess is wrong is the batch indexed once. Devices without rules cost one dict lookup.

Times come from the injected clock `now_ms` (UTC ms), not from samples: a machine's own clock
(OPC UA source timestamps) may be wrong, and the delay is the gateway's promise. A `delay` is
therefore measured between scans: an alarm with `delay: 10s` on a device polled every 3 s
becomes active at the first scan at least 10 s after the condition was first seen.

Exceptions:

    Exception
     └── AlarmError
          └── UnknownAlarm   no such device, or no such alarm on it (the API's 404)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from gateway.config.alarms import OFFLINE_ALARM, AlarmRule
from gateway.model import GOOD, Batch, DeviceState, StateChange, Value

from .events import AlarmEvent, Severity

Clock = Callable[[], int]
"""Milliseconds since the epoch, UTC (`gateway.model.now_ms`; a fake in tests)."""


class AlarmError(Exception):
    """Base of the alarm package's errors."""


class UnknownAlarm(AlarmError, KeyError):
    """There is no alarm of that name on that device (or no such device)."""

    def __init__(self, device: str, alarm: str) -> None:
        super().__init__(f"no alarm '{alarm}' on device '{device}'")
        self.device = device
        self.alarm = alarm

    def __str__(self) -> str:
        return str(self.args[0])


_NUMBER = (int, float)
_SAVED_VALUE = (int, float, bool, str, type(None))


def _conditions(rule: AlarmRule) -> tuple[Callable[[Any], bool], Callable[[Any], bool]]:
    """(trips, clears) of a rule; each takes a value already known to be of the right type."""
    if rule.above is not None:
        trip, clear = rule.above, rule.clear_limit
        return (lambda v: v > trip), (lambda v: v < clear)
    if rule.below is not None:
        trip, clear = rule.below, rule.clear_limit
        return (lambda v: v < trip), (lambda v: v > clear)
    target = rule.equals
    return (lambda v: v == target), (lambda v: v != target)


def _accepted(rule: AlarmRule) -> tuple[type, ...]:
    """The exact value types a rule can judge (bool is not a number here, nor 1 a True)."""
    if rule.equals is None or type(rule.equals) is int:
        return _NUMBER
    return (type(rule.equals),)


class Alarm:
    """One alarm's definition and its state. Mutated only by `AlarmEngine`."""

    __slots__ = (
        "acked",
        "acked_by",
        "active",
        "clears",
        "delay_ms",
        "device",
        "message",
        "name",
        "pending_since",
        "severity",
        "signal",
        "since",
        "trips",
        "types",
        "value",
    )

    def __init__(
        self,
        device: str,
        name: str,
        signal: str | None,
        severity: Severity,
        delay_ms: int = 0,
        rule: AlarmRule | None = None,
        message: dict[str, str] | None = None,
    ) -> None:
        self.device = device
        self.name = name
        self.signal = signal
        self.severity: Severity = severity
        self.delay_ms = delay_ms
        self.message = message
        self.trips: Callable[[Any], bool]
        self.clears: Callable[[Any], bool]
        self.trips, self.clears = _conditions(rule) if rule else (bool, bool)
        self.types = _accepted(rule) if rule else ()
        self.active = False
        self.acked = True  # nothing to acknowledge yet
        self.acked_by: str | None = None
        self.pending_since: int | None = None
        self.since: int | None = None
        self.value: Value = None

    def event(self, ts: int) -> AlarmEvent:
        """The alarm's present state as an event at `ts`."""
        return AlarmEvent(
            alarm=self.name,
            device=self.device,
            signal=self.signal,
            state="active" if self.active else "cleared",
            acknowledged=self.acked,
            value=self.value,
            severity=self.severity,
            since=self.since,
            ts=ts,
            acknowledged_by=self.acked_by,
            message=self.message,
        )

    def raise_(self, value: Value, now: int) -> AlarmEvent:
        self.active, self.acked, self.acked_by = True, False, None
        self.pending_since = None
        self.since, self.value = now, value
        return self.event(now)

    def clear(self, value: Value, now: int) -> AlarmEvent:
        self.active = False
        self.since, self.value = now, value
        return self.event(now)

    @property
    def outstanding(self) -> bool:
        """Active, or cleared without anyone having acknowledged it: it needs attention."""
        return self.active or not self.acked


class _DeviceAlarms:
    """The alarms of one device: its value rules (with where their signal sat) and `offline`."""

    __slots__ = ("by_name", "offline", "positions", "rules")

    def __init__(self, device: str, rules: list[Alarm]) -> None:
        self.rules = rules
        self.positions = [0] * len(rules)
        self.offline = Alarm(
            device,
            OFFLINE_ALARM,
            None,
            "high",
            message={
                "en": f"device {device} is not answering",
                "id": f"perangkat {device} tidak menjawab",
            },
        )
        self.by_name = {alarm.name: alarm for alarm in (*rules, self.offline)}


class AlarmEngine:
    """Every alarm of a config, evaluated per device scan; returns events for changes only."""

    def __init__(self, devices: Iterable[Any], now_ms: Clock) -> None:
        """`devices`: config devices (`id`, `enabled`, `signals` with `alarms`)."""
        self._now = now_ms
        self._devices: dict[str, _DeviceAlarms] = {}
        for device in devices:
            if not getattr(device, "enabled", True):
                continue
            rules = [
                Alarm(
                    device.id,
                    rule.name,
                    signal.name,
                    rule.severity,
                    math.ceil(rule.delay * 1000),
                    rule,
                    rule.message.model_dump(exclude_none=True) if rule.message else None,
                )
                for signal in device.signals
                for rule in signal.alarms
            ]
            self._devices[device.id] = _DeviceAlarms(device.id, rules)

    # -- feeding -----------------------------------------------------------------------------

    def evaluate(self, batch: Batch) -> list[AlarmEvent]:
        """The changes that one device scan causes (usually none)."""
        device = self._devices.get(batch.device)
        if device is None or not device.rules:
            return []
        samples = batch.samples
        count = len(samples)
        positions = device.positions
        where: dict[str, int] | None = None
        events: list[AlarmEvent] = []
        now = self._now()
        for k, alarm in enumerate(device.rules):
            i = positions[k]
            if i >= count or samples[i].signal != alarm.signal:
                if where is None:
                    where = {sample.signal: n for n, sample in enumerate(samples)}
                found = where.get(alarm.signal)  # type: ignore[arg-type]
                if found is None:
                    continue  # not in this scan (a subscription's partial batch)
                positions[k] = i = found
            sample = samples[i]
            value = sample.value
            if sample.quality is not GOOD or type(value) not in alarm.types:
                continue
            if alarm.active:
                if alarm.clears(value):
                    events.append(alarm.clear(value, now))
            elif alarm.trips(value):
                if alarm.pending_since is None:
                    alarm.pending_since = now
                if now - alarm.pending_since >= alarm.delay_ms:
                    events.append(alarm.raise_(value, now))
            else:
                alarm.pending_since = None
        return events

    def device_state(self, change: StateChange) -> list[AlarmEvent]:
        """Raise `offline` when a device stops answering (`error`), clear it when `online`."""
        device = self._devices.get(change.device)
        if device is None:
            return []
        offline = device.offline
        if change.state is DeviceState.ERROR:
            for alarm in device.rules:
                alarm.pending_since = None  # the condition was not seen holding meanwhile
            if not offline.active:
                return [offline.raise_(None, self._now())]
        elif change.state is DeviceState.ONLINE and offline.active:
            return [offline.clear(None, self._now())]
        return []

    def ack(self, device: str, alarm: str, who: str) -> tuple[AlarmEvent, bool]:
        """Acknowledge an alarm: its present state, and whether that changed anything.

        An alarm that is neither active nor cleared-unacknowledged has nothing to acknowledge:
        that is not an error (two technicians may press at once), it changes nothing.
        Raises UnknownAlarm.
        """
        found = self.get(device, alarm)
        now = self._now()
        if found.acked:
            return found.event(now), False
        found.acked, found.acked_by = True, who
        return found.event(now), True

    # -- reading -----------------------------------------------------------------------------

    def get(self, device: str, alarm: str) -> Alarm:
        """One alarm. Raises UnknownAlarm."""
        entry = self._devices.get(device)
        found = entry.by_name.get(alarm) if entry is not None else None
        if found is None:
            raise UnknownAlarm(device, alarm)
        return found

    def alarms(self) -> Iterator[Alarm]:
        """Every alarm, device by device, in config order (`offline` last of each device)."""
        for entry in self._devices.values():
            yield from entry.by_name.values()

    def outstanding(self) -> list[AlarmEvent]:
        """The present state of every alarm that is active or cleared but unacknowledged."""
        now = self._now()
        return [alarm.event(now) for alarm in self.alarms() if alarm.outstanding]

    # -- persistence -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The state worth keeping across a restart: every outstanding alarm, as plain data.

        Pending delays are not kept: after a restart a condition must hold for its delay again.
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for alarm in self.alarms():
            if alarm.outstanding:
                out.setdefault(alarm.device, {})[alarm.name] = {
                    "active": alarm.active,
                    "acknowledged": alarm.acked,
                    "acknowledged_by": alarm.acked_by,
                    "since": alarm.since,
                    "value": alarm.value,
                }
        return out

    def restore(self, saved: Mapping[str, Any]) -> int:
        """Take back a `snapshot` (from before a restart); returns how many alarms it set.

        Alarms no longer in the config are left out; malformed entries are skipped (the file
        is ours, but an SD card can corrupt it, and alarms must work regardless).
        """
        restored = 0
        for device_id, alarms in saved.items():
            entry = self._devices.get(device_id)
            if entry is None or not isinstance(alarms, Mapping):
                continue
            for name, state in alarms.items():
                alarm = entry.by_name.get(name)
                if alarm is None or not isinstance(state, Mapping):
                    continue
                since, value = state.get("since"), state.get("value")
                by = state.get("acknowledged_by")
                if not isinstance(since, int) or not isinstance(value, _SAVED_VALUE):
                    continue
                alarm.active = state.get("active") is True
                alarm.acked = state.get("acknowledged") is True
                alarm.acked_by = by if isinstance(by, str) else None
                alarm.since, alarm.value = since, value
                alarm.pending_since = None
                restored += 1
        return restored
