"""The engine's timeline of conditions: one entry per change, what the page draws per shift."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.oee.calendar import DailyWindow, ShiftCalendar, parse_clock
from gateway.oee.engine import Condition, EngineSpec, OeeEngine

SHIFTS = [DailyWindow("pagi", parse_clock("06:00"), parse_clock("14:00"))]
T0 = int(datetime(2026, 3, 2, 6, 0, tzinfo=ZoneInfo("UTC")).timestamp()) * 1000
PRESS = EngineSpec(ideal_cycle_s=2.5, micro_stop_s=30, running={3}, planned={1})
COUNTING = EngineSpec(ideal_cycle_s=2.5, micro_stop_s=30)


def at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def engine(spec: EngineSpec) -> OeeEngine:
    return OeeEngine(ShiftCalendar("UTC", SHIFTS, []), spec, at(0))


def test_each_change_of_state_is_one_entry_and_repeats_are_not() -> None:
    e = engine(PRESS)
    for t, state in [(0, 3), (10, 3), (20, 4), (25, 4), (90, 1), (100, 3), (110, None)]:
        e.observe(at(t), state, (None,))
    assert list(e.timeline) == [
        (at(0), Condition.RUNNING),
        (at(20), Condition.STOPPED),
        (at(90), Condition.PLANNED),
        (at(100), Condition.RUNNING),
        (at(110), Condition.UNKNOWN),
    ]


def test_without_a_state_signal_parts_are_running_and_a_long_wait_is_a_stop() -> None:
    e = engine(COUNTING)
    for t, count in [(0, 0), (3, 1), (6, 2), (9, 3)]:
        e.observe(at(t), None, (count,))
    assert list(e.timeline) == [(at(0), Condition.RUNNING)]
    e.observe(at(100), None, (3,))  # no part for 91 s: a stop since the last part
    e.observe(at(103), None, (4,))
    assert list(e.timeline) == [
        (at(0), Condition.RUNNING),
        (at(9), Condition.STOPPED),
        (at(103), Condition.RUNNING),
    ]
    assert [(s.start, s.end) for s in e.stops] == [(at(9), at(103))]
