"""The site's shift calendar: which shift contains an instant, its breaks, the next boundary.

Shifts and breaks are written as wall-clock times ("06:00"-"14:00") in the site's IANA timezone;
everything else in the gateway counts UTC milliseconds. This module is the one place that turns
one into the other, so that the OEE engine only ever compares integers.

DST: each occurrence of a shift is computed from its local date and wall-clock times with
`zoneinfo` (fold 0: an ambiguous time is its first occurrence, a time in a spring-forward gap is
read with the offset before the gap). Adjacent shifts share the very same wall-clock boundary,
so they share the same UTC instant: no gap and no overlap between them, even on a DST day (a
shift across the change is simply an hour shorter or longer). Indonesia has no DST; the rule
matters for gateways elsewhere.

Pure: no I/O, no clock. Instants are integer milliseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 1440
_CLOCK_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_clock(text: str, *, end: bool = False) -> int:
    """Minutes after midnight from "HH:MM" (00:00 to 23:59; "24:00" too where `end`)."""
    if end and text == "24:00":
        return MINUTES_PER_DAY
    match = _CLOCK_RE.match(text)
    if not match:
        allowed = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise ValueError(f"'{text}' is not a time of day; write HH:MM, {allowed} (06:00, 22:30)")
    return int(match.group(1)) * 60 + int(match.group(2))


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A shift or break as written: a name and wall-clock minutes, repeated every day.

    `end` <= `start` means the window crosses midnight; `end` 1440 is midnight at its end.
    """

    name: str
    start: int
    end: int

    @property
    def crosses_midnight(self) -> bool:
        """The window ends on the day after it starts."""
        return self.end <= self.start

    @property
    def minutes(self) -> int:
        """Its length in minutes on a day without a DST change."""
        return (self.end - self.start) % MINUTES_PER_DAY or MINUTES_PER_DAY

    def arcs(self) -> list[tuple[int, int]]:
        """The window as half-open minute ranges within one day [0, 1440)."""
        if not self.crosses_midnight:
            return [(self.start, self.end)]
        arcs = [(self.start, MINUTES_PER_DAY)]
        if self.end > 0:
            arcs.append((0, self.end))
        return arcs


def windows_overlap(a: DailyWindow, b: DailyWindow) -> bool:
    """The two daily windows share at least one minute."""
    return any(s1 < e2 and s2 < e1 for s1, e1 in a.arcs() for s2, e2 in b.arcs())


def window_inside(inner: DailyWindow, outer: DailyWindow) -> bool:
    """Every minute of `inner` is a minute of `outer` (a break within its shift)."""
    offset = (inner.start - outer.start) % MINUTES_PER_DAY
    return offset + inner.minutes <= outer.minutes


@dataclass(frozen=True, slots=True)
class ShiftSpan:
    """One occurrence of a shift: [start, end) in UTC ms, with its breaks (sorted, inside it)."""

    name: str
    start: int
    end: int
    breaks: tuple[tuple[int, int], ...] = ()

    def contains(self, ts: int) -> bool:
        """`ts` is within the shift (its breaks included)."""
        return self.start <= ts < self.end

    def in_break(self, ts: int) -> bool:
        """`ts` is within one of the shift's breaks."""
        return any(start <= ts < end for start, end in self.breaks)

    def working_ms(self, a: int, b: int) -> int:
        """Milliseconds of [a, b) inside the shift and outside its breaks."""
        lo, hi = max(a, self.start), min(b, self.end)
        if hi <= lo:
            return 0
        total = hi - lo
        for start, end in self.breaks:
            overlap = min(hi, end) - max(lo, start)
            if overlap > 0:
                total -= overlap
        return total

    @property
    def break_ms(self) -> int:
        """Milliseconds of the shift spent in breaks."""
        return sum(end - start for start, end in self.breaks)


def _utc_ms(day: date, minutes: int, zone: ZoneInfo) -> int:
    """The UTC instant of wall-clock `minutes` after midnight of local `day` (1440: next day)."""
    day += timedelta(days=minutes // MINUTES_PER_DAY)
    minutes %= MINUTES_PER_DAY
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return int(local.timestamp()) * 1000


class ShiftCalendar:
    """The shifts and breaks of a site, as UTC spans; built once from validated config.

    `shifts` must not overlap and every break must lie inside one shift (the config validator
    refuses anything else); a break belongs to the shift that contains it.
    """

    def __init__(
        self, timezone: str, shifts: Sequence[DailyWindow], breaks: Sequence[DailyWindow] = ()
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.shifts = tuple(shifts)
        self._breaks: dict[str, list[DailyWindow]] = {shift.name: [] for shift in self.shifts}
        for brk in breaks:
            owner = next((s for s in self.shifts if window_inside(brk, s)), None)
            if owner is not None:
                self._breaks[owner.name].append(brk)
        self._by_date: dict[date, tuple[ShiftSpan, ...]] = {}

    def spans_starting_on(self, day: date) -> tuple[ShiftSpan, ...]:
        """The occurrences of every shift that start on local date `day`, in time order."""
        cached = self._by_date.get(day)
        if cached is not None:
            return cached
        spans = []
        for shift in self.shifts:
            start = _utc_ms(day, shift.start, self.zone)
            end_minutes = shift.end + (MINUTES_PER_DAY if shift.crosses_midnight else 0)
            end = _utc_ms(day, end_minutes, self.zone)
            if end <= start:  # only a shift inside a DST gap can vanish
                continue
            breaks = []
            for brk in self._breaks[shift.name]:
                first = brk.start + (MINUTES_PER_DAY if brk.start < shift.start else 0)
                last = first + brk.minutes
                lo = max(start, _utc_ms(day, first, self.zone))
                hi = min(end, _utc_ms(day, last, self.zone))
                if hi > lo:
                    breaks.append((lo, hi))
            spans.append(ShiftSpan(shift.name, start, end, tuple(sorted(breaks))))
        result = tuple(sorted(spans, key=lambda span: span.start))
        if len(self._by_date) >= 16:
            self._by_date.clear()
        self._by_date[day] = result
        return result

    def local_date(self, ts: int) -> date:
        """The site's calendar date at instant `ts`."""
        return datetime.fromtimestamp(ts / 1000, tz=self.zone).date()

    def shift_at(self, ts: int) -> ShiftSpan | None:
        """The shift occurrence that contains `ts`, or None between shifts."""
        today = self.local_date(ts)
        for day in (today - timedelta(days=1), today):
            for span in self.spans_starting_on(day):
                if span.contains(ts):
                    return span
        return None

    def next_boundary(self, ts: int) -> int:
        """The first shift start or end strictly after `ts`."""
        today = self.local_date(ts)
        best: int | None = None
        for offset in (-1, 0, 1, 2):
            for span in self.spans_starting_on(today + timedelta(days=offset)):
                for edge in (span.start, span.end):
                    if edge > ts and (best is None or edge < best):
                        best = edge
        if best is None:  # no shifts at all: the config requires one, so only in tests
            return ts + 86_400_000
        return best
