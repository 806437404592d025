"""The OEE engine of one machine: time in each condition, stops and parts, per shift.

Pure: no I/O and no clock; every input carries its timestamp (UTC ms). The service feeds it one
call per device scan (`observe`) and per connection change (`set_online`), and calls `advance`
so that time passes without readings (an offline machine's unknown time grows, a shift ends on
time).

Accounting. At any instant the machine is in one condition: running, planned stop, stopped, or
unknown (no reading: before the first, offline, a bad state value). The condition holds from
the reading that set it to the next. Only time inside the current shift and outside its breaks
counts. A stop shorter than `micro_stop` is speed loss: its time is run time (performance falls
because no parts come). So a stop's time is held as pending until it either ends short (run
time, a micro-stop) or lasts `micro_stop` (downtime, from its start, and a recorded stop).
Without a state signal, each part starts a pending stop that the next part ends: a machine is
running while its count moves, and stopped once `micro_stop` passes without a part.

Figures (SPEC): planned_s = run_s + downtime_s (the shift so far minus breaks, planned stops and
unknown time); availability = run_s / planned_s; performance = ideal cycle time × total /
run_s; quality = good / total; oee = their product (None where a denominator is zero).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

from .calendar import ShiftCalendar
from .counters import RATE_MARGIN, CounterTrack

StateValue = bool | int | float | str
CounterMode = Literal["total", "total_good", "good_reject"]
MAX_STOPS = 500
"""Stops kept per machine (the newest); enough for several shifts of a bad day."""
MAX_TIMELINE = 500
"""Condition changes kept per machine (the newest), for the page's timeline."""
UNKNOWN_REASON = "unknown"


class Condition(StrEnum):
    """What the machine is doing, as far as the gateway knows."""

    RUNNING = "running"
    PLANNED = "planned"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """What one machine's engine needs from its config, in plain values."""

    ideal_cycle_s: float
    micro_stop_s: float = 30.0
    running: Collection[StateValue] | None = None
    """Values of the state signal that mean running; None: no state signal (count moves)."""
    planned: Collection[StateValue] = ()
    mode: CounterMode = "total"
    """total: one counter, all good; total_good: total and good; good_reject: good and reject."""
    moduli: Sequence[float | None] = (None,)
    """Where each counter wraps, in the order the counts are passed."""


@dataclass(slots=True)
class Stop:
    """A stop that lasted `micro_stop` or longer; `end` is None while it lasts."""

    id: int
    start: int
    end: int | None
    reason: str
    state: StateValue | None = None
    """The state value that started it (None without a state signal)."""

    def as_dict(self) -> dict[str, Any]:
        """The stop as published and persisted."""
        return asdict(self)


@dataclass(slots=True)
class Tally:
    """One shift's accumulated figures, in ms and parts."""

    shift: str
    start: int
    end: int
    run_ms: int = 0
    down_ms: int = 0
    planned_stop_ms: int = 0
    unknown_ms: int = 0
    total: float = 0
    good: float = 0
    stops: int = 0
    micro_stops: int = 0

    def figures(self, ts: int, ideal_cycle_s: float, pending_ms: int = 0) -> dict[str, Any]:
        """The SPEC's payload at `ts`; `pending_ms` (a stop still short) counts as run time."""
        run_ms = self.run_ms + pending_ms
        planned_ms = run_ms + self.down_ms
        availability = run_ms / planned_ms if planned_ms else None
        performance = ideal_cycle_s * 1000 * self.total / run_ms if run_ms else None
        quality = self.good / self.total if self.total else None
        parts = (availability, performance, quality)
        oee = None
        if availability is not None and performance is not None and quality is not None:
            oee = availability * performance * quality
        return {
            "shift": self.shift,
            "shift_start": self.start,
            "shift_end": self.end,
            "ts": ts,
            "final": ts >= self.end,
            "planned_s": planned_ms / 1000,
            "run_s": run_ms / 1000,
            "availability": _ratio(parts[0]),
            "performance": _ratio(parts[1]),
            "quality": _ratio(parts[2]),
            "oee": _ratio(oee),
            "total": _count(self.total),
            "good": _count(self.good),
            "stops": self.stops,
            "micro_stops": self.micro_stops,
            "downtime_s": self.down_ms / 1000,
            "planned_stop_s": self.planned_stop_ms / 1000,
            "unknown_s": self.unknown_ms / 1000,
        }


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _count(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 6)


class OeeEngine:
    """One machine's OEE: feed it readings in time order, read its figures and stops."""

    def __init__(self, calendar: ShiftCalendar, spec: EngineSpec, now: int) -> None:
        self.calendar = calendar
        self.spec = spec
        self._running = frozenset(spec.running) if spec.running is not None else None
        self._planned = frozenset(spec.planned)
        self._micro_ms = round(spec.micro_stop_s * 1000)
        rate = RATE_MARGIN / (spec.ideal_cycle_s * 1000)
        self.counters = [CounterTrack(modulus, rate) for modulus in spec.moduli]
        self.condition = Condition.UNKNOWN
        self.current: Tally | None = None
        self.previous: Tally | None = None
        self.stops: deque[Stop] = deque(maxlen=MAX_STOPS)
        self.next_stop_id = 1
        self.timeline: deque[tuple[int, Condition]] = deque(maxlen=MAX_TIMELINE)
        """(since, condition) at each change; a wait between parts (no state signal) is run."""
        self._finished: list[dict[str, Any]] = []
        # The stop under way: since when, its state value, its pending (still short) time.
        self._stop_start = 0
        self._stop_state: StateValue | None = None
        self._stop: Stop | None = None
        self._pending_ms = 0
        self._t = now
        self._span = calendar.shift_at(now)
        self._boundary = calendar.next_boundary(now)
        if self._span is not None:
            self.current = Tally(self._span.name, self._span.start, self._span.end)
            # Before the gateway started, nothing is known of the machine.
            self.current.unknown_ms = self._span.working_ms(self._span.start, now)

    # -- inputs ---------------------------------------------------------------------------

    def observe(self, ts: int, state: StateValue | None, counts: Sequence[float | None]) -> None:
        """One scan: the state value (None: not read) and each counter's value (None: bad)."""
        ts = max(ts, self._t)
        self.advance(ts)
        moved = self._count(ts, counts)
        if self._running is not None:
            if state is None:
                self._become(ts, Condition.UNKNOWN)
            elif state in self._running:
                self._become(ts, Condition.RUNNING)
            elif state in self._planned:
                self._become(ts, Condition.PLANNED)
            else:
                self._become(ts, Condition.STOPPED, state)
        elif all(count is None for count in counts):
            self._become(ts, Condition.UNKNOWN)
        elif moved or self.condition is Condition.UNKNOWN:
            # A part ends the wait since the last one (run time if short) and starts the next.
            self._become(ts, Condition.RUNNING)
            self._become(ts, Condition.STOPPED)

    def set_online(self, ts: int, online: bool) -> None:
        """The device's connection changed; offline time is unknown until the next reading."""
        if not online:
            ts = max(ts, self._t)
            self.advance(ts)
            self._become(ts, Condition.UNKNOWN)

    def advance(self, now: int) -> None:
        """Account time up to `now` in the present condition, closing shifts on the way."""
        while self._t < now:
            until = min(now, self._boundary)
            self._account(self._t, until)
            self._t = until
            if until == self._boundary:
                self._cross(until)

    def name_stop(self, stop_id: int, reason: str) -> Stop:
        """Give a recorded stop its reason (a technician's). KeyError when there is no such id."""
        for stop in self.stops:
            if stop.id == stop_id:
                stop.reason = reason
                return stop
        raise KeyError(stop_id)

    # -- outputs --------------------------------------------------------------------------

    def figures(self) -> dict[str, Any] | None:
        """The current shift's figures so far (at the time accounted to), None between shifts."""
        if self.current is None:
            return None
        return self.current.figures(self._t, self.spec.ideal_cycle_s, self._pending_ms)

    def previous_figures(self) -> dict[str, Any] | None:
        """The last finished shift's final figures."""
        if self.previous is None:
            return None
        return self.previous.figures(self.previous.end, self.spec.ideal_cycle_s)

    def take_finished(self) -> list[dict[str, Any]]:
        """Final figures of the shifts that ended since the last call (oldest first)."""
        done, self._finished = self._finished, []
        return done

    @property
    def accounted_to(self) -> int:
        """The instant up to which time is accounted."""
        return self._t

    # -- internals ------------------------------------------------------------------------

    def _count(self, ts: int, counts: Sequence[float | None]) -> bool:
        deltas = [0.0] * len(self.counters)
        for index, value in enumerate(counts):
            if value is not None and index < len(deltas):
                deltas[index] = self.counters[index].feed(value, ts)
        tally = self.current
        if tally is not None:
            mode = self.spec.mode
            if mode == "total":
                tally.total += deltas[0]
                tally.good += deltas[0]
            elif mode == "total_good":
                tally.total += deltas[0]
                tally.good += deltas[1]
            else:
                tally.good += deltas[0]
                tally.total += deltas[0] + deltas[1]
        return any(delta > 0 for delta in deltas)

    def _account(self, a: int, b: int) -> None:
        tally, span = self.current, self._span
        if tally is None or span is None:
            return
        ms = span.working_ms(a, b)
        condition = self.condition
        if condition is Condition.RUNNING:
            tally.run_ms += ms
        elif condition is Condition.PLANNED:
            tally.planned_stop_ms += ms
        elif condition is Condition.UNKNOWN:
            tally.unknown_ms += ms
        elif self._stop is not None:
            tally.down_ms += ms
        else:
            self._pending_ms += ms
            if b - self._stop_start >= self._micro_ms:
                self._record_stop(tally)

    def _record_stop(self, tally: Tally) -> None:
        """The stop under way has lasted micro_stop: its time so far is downtime."""
        tally.down_ms += self._pending_ms
        self._pending_ms = 0
        state = self._stop_state
        reason = UNKNOWN_REASON if state is None else f"state {state}"
        self._stop = Stop(self.next_stop_id, self._stop_start, None, reason, state)
        self.next_stop_id += 1
        self.stops.append(self._stop)
        tally.stops += 1
        if self._running is None:  # the wait between parts has become a stop, from its start
            if self.timeline and self.timeline[-1][0] == self._stop_start:
                self.timeline.pop()
            self.timeline.append((self._stop_start, Condition.STOPPED))

    def _become(self, ts: int, condition: Condition, state: StateValue | None = None) -> None:
        old = self.condition
        if old is Condition.STOPPED and (condition is not Condition.STOPPED):
            self._end_stop(ts)
        if condition is Condition.STOPPED and old is not Condition.STOPPED:
            self._stop_start, self._stop_state = ts, state
            self._stop, self._pending_ms = None, 0
        self.condition = condition
        if condition is not old:
            self._log(ts, condition)

    def _log(self, ts: int, condition: Condition) -> None:
        """One change for the timeline; only the last of several at the same instant."""
        if condition is Condition.STOPPED and self._running is None:
            condition = Condition.RUNNING  # waiting for the next part: shown as running
        log = self.timeline
        if log and log[-1][0] == ts:
            log.pop()
        if not log or log[-1][1] is not condition:
            log.append((ts, condition))

    def _end_stop(self, ts: int) -> None:
        if self._stop is not None:
            self._stop.end = ts
            self._stop = None
        elif self.current is not None:
            self.current.run_ms += self._pending_ms  # short: speed loss, not downtime
            if self._running is not None and self._pending_ms:
                self.current.micro_stops += 1
        self._pending_ms = 0

    def _cross(self, boundary: int) -> None:
        """A shift starts or ends at `boundary`."""
        tally = self.current
        if tally is not None and tally.end <= boundary:
            tally.run_ms += self._pending_ms  # a stop still short at the end: run time so far
            self._pending_ms = 0
            self._finished.append(tally.figures(tally.end, self.spec.ideal_cycle_s))
            self.previous, self.current = tally, None
        self._span = self.calendar.shift_at(boundary)
        self._boundary = self.calendar.next_boundary(boundary)
        if self._span is not None:
            self.current = Tally(self._span.name, self._span.start, self._span.end)
            if self._stop is not None:
                self.current.stops += 1  # a long stop goes on into this shift

    # -- persistence ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Plain data that `restore` turns back into this engine, as if it went unknown now.

        A stop under way ends at the snapshot (a restart cannot know what followed) and a
        pending short stop is run time, exactly as a device going offline would do.
        """
        current = None
        if self.current is not None:
            current = asdict(self.current)
            current["run_ms"] += self._pending_ms
        stops = [stop.as_dict() for stop in self.stops]
        for stop in stops:
            if stop["end"] is None:
                stop["end"] = self._t
        return {
            "t": self._t,
            "current": current,
            "previous": asdict(self.previous) if self.previous is not None else None,
            "counters": [[c.last, c.last_ts] for c in self.counters],
            "stops": stops,
            "next_stop_id": self.next_stop_id,
        }

    @classmethod
    def restore(
        cls, calendar: ShiftCalendar, spec: EngineSpec, data: dict[str, Any], now: int
    ) -> OeeEngine:
        """The engine of `snapshot` data, advanced to `now` (the time between: unknown)."""
        t = min(int(data["t"]), now)
        engine = cls(calendar, spec, t)
        span = engine._span
        saved = data.get("current")
        if (
            saved is not None
            and span is not None
            and (saved["shift"], saved["start"])
            == (
                span.name,
                span.start,
            )
        ):
            engine.current = Tally(**saved)
        if data.get("previous") is not None:
            engine.previous = Tally(**data["previous"])
        for track, (last, last_ts) in zip(engine.counters, data.get("counters", []), strict=False):
            track.last, track.last_ts = last, last_ts
        engine.stops.extend(Stop(**stop) for stop in data.get("stops", []))
        engine.next_stop_id = int(data.get("next_stop_id", 1))
        engine.advance(now)
        return engine
