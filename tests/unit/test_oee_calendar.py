"""The shift calendar: exact boundaries in the site's timezone, one shift at most per instant."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.oee.calendar import DailyWindow, ShiftCalendar, parse_clock

JAKARTA = ZoneInfo("Asia/Jakarta")
SHIFTS = [
    DailyWindow("pagi", parse_clock("06:00"), parse_clock("14:00")),
    DailyWindow("siang", parse_clock("14:00"), parse_clock("22:00")),
    DailyWindow("malam", parse_clock("22:00"), parse_clock("06:00")),
]
BREAKS = [
    DailyWindow("istirahat", parse_clock("12:00"), parse_clock("12:30")),
    DailyWindow("tengah-malam", parse_clock("23:45"), parse_clock("00:15")),
]


def ms(zone: ZoneInfo, *parts: int) -> int:
    return int(datetime(*parts, tzinfo=zone).timestamp()) * 1000  # type: ignore[misc]


def test_a_day_of_three_shifts_in_jakarta() -> None:
    calendar = ShiftCalendar("Asia/Jakarta", SHIFTS, BREAKS)
    pagi = calendar.shift_at(ms(JAKARTA, 2026, 3, 2, 9, 0))
    assert pagi is not None and pagi.name == "pagi"
    assert pagi.start == ms(JAKARTA, 2026, 3, 2, 6, 0)
    assert pagi.end == ms(JAKARTA, 2026, 3, 2, 14, 0)
    assert pagi.start == 1772406000000  # 2026-03-01T23:00:00Z: Jakarta is UTC+7
    assert pagi.breaks == ((ms(JAKARTA, 2026, 3, 2, 12, 0), ms(JAKARTA, 2026, 3, 2, 12, 30)),)
    assert pagi.working_ms(pagi.start, pagi.end) == 7.5 * 3600 * 1000
    assert pagi.in_break(ms(JAKARTA, 2026, 3, 2, 12, 10))
    assert not pagi.in_break(ms(JAKARTA, 2026, 3, 2, 12, 30))
    assert calendar.next_boundary(ms(JAKARTA, 2026, 3, 2, 9, 0)) == pagi.end
    assert calendar.next_boundary(pagi.end - 1) == pagi.end
    siang = calendar.shift_at(pagi.end)
    assert siang is not None and siang.name == "siang" and siang.start == pagi.end


def test_a_shift_crossing_midnight_owns_its_break_on_both_dates() -> None:
    calendar = ShiftCalendar("Asia/Jakarta", SHIFTS, BREAKS)
    for instant in (ms(JAKARTA, 2026, 3, 2, 23, 0), ms(JAKARTA, 2026, 3, 3, 5, 59)):
        malam = calendar.shift_at(instant)
        assert malam is not None and malam.name == "malam"
        assert malam.start == ms(JAKARTA, 2026, 3, 2, 22, 0)
        assert malam.end == ms(JAKARTA, 2026, 3, 3, 6, 0)
        assert malam.breaks == ((ms(JAKARTA, 2026, 3, 2, 23, 45), ms(JAKARTA, 2026, 3, 3, 0, 15)),)
        assert malam.working_ms(malam.start, malam.end) == 7.5 * 3600 * 1000


def test_between_shifts_there_is_none_and_the_next_start_is_the_boundary() -> None:
    calendar = ShiftCalendar("Asia/Makassar", [SHIFTS[0]])
    makassar = ZoneInfo("Asia/Makassar")
    evening = ms(makassar, 2026, 3, 2, 18, 0)
    assert calendar.shift_at(evening) is None
    assert calendar.next_boundary(evening) == ms(makassar, 2026, 3, 3, 6, 0)


def test_a_dst_day_keeps_adjacent_shifts_touching() -> None:
    # Europe/Berlin springs forward at 02:00 on 2026-03-29: the night shift is an hour short.
    berlin = ZoneInfo("Europe/Berlin")
    calendar = ShiftCalendar("Europe/Berlin", SHIFTS)
    malam = calendar.shift_at(ms(berlin, 2026, 3, 29, 1, 0))
    assert malam is not None and malam.name == "malam"
    assert malam.end - malam.start == 7 * 3600 * 1000
    pagi = calendar.shift_at(malam.end)
    assert pagi is not None and pagi.name == "pagi" and pagi.start == malam.end
    # ...and falls back on 2026-10-25: an hour long.
    long_night = calendar.shift_at(ms(berlin, 2026, 10, 25, 4, 0))
    assert long_night is not None and long_night.end - long_night.start == 9 * 3600 * 1000


ZONES = st.sampled_from(["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Europe/Berlin"])
INSTANTS = st.integers(min_value=1_700_000_000_000, max_value=1_900_000_000_000)


@st.composite
def day_plans(draw: st.DrawFn) -> list[DailyWindow]:
    """1-4 shifts that do not overlap: cut points on the day's circle, some gaps left out."""
    cuts = sorted(draw(st.sets(st.integers(0, 1439), min_size=2, max_size=8)))
    offset = draw(st.integers(0, 1439))
    windows = []
    for i, (a, b) in enumerate(zip(cuts, [*cuts[1:], cuts[0] + 1440], strict=True)):
        if draw(st.booleans()) or i == 0:
            windows.append(DailyWindow(f"s{i}", (a + offset) % 1440, (b + offset) % 1440))
    return windows


@settings(max_examples=200, deadline=None)
@given(ZONES, day_plans(), INSTANTS)
def test_every_instant_is_in_at_most_one_shift_and_boundaries_are_exact(
    zone: str, shifts: list[DailyWindow], instant: int
) -> None:
    calendar = ShiftCalendar(zone, shifts)
    span = calendar.shift_at(instant)
    local = datetime.fromtimestamp(instant / 1000, tz=ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    holders = [
        s for s in shifts if any(a <= minute < b for a, b in s.arcs())
    ]  # wall-clock view: at most one shift holds any minute
    assert len(holders) <= 1
    if span is None:
        assert calendar.next_boundary(instant) > instant
        return
    assert span.start <= instant < span.end
    # Exact edges: the last millisecond is in, the end is the next shift's or nobody's.
    assert calendar.shift_at(span.end - 1) == span
    after = calendar.shift_at(span.end)
    assert after is None or (after.start == span.end and after != span)
    before = calendar.shift_at(span.start - 1)
    assert before is None or before.end == span.start
    assert calendar.next_boundary(instant) <= span.end
    # The edges are the written wall-clock times.
    shift = next(s for s in shifts if s.name == span.name)
    start_local = datetime.fromtimestamp(span.start / 1000, tz=ZoneInfo(zone))
    if zone != "Europe/Berlin":  # no DST: every edge is exactly as written
        assert start_local.hour * 60 + start_local.minute == shift.start
        assert (span.end - span.start) // 60_000 == shift.minutes
        assert holders == [shift]


@settings(max_examples=100, deadline=None)
@given(ZONES, day_plans(), INSTANTS, st.integers(1, 3 * 86_400_000))
def test_working_time_of_consecutive_shifts_adds_up(
    zone: str, shifts: list[DailyWindow], start: int, length: int
) -> None:
    """Walking boundary to boundary covers the interval once: no instant counted twice."""
    calendar = ShiftCalendar(zone, shifts)
    t, end, covered = start, start + length, 0
    while t < end:
        nxt = min(calendar.next_boundary(t), end)
        assert nxt > t
        span = calendar.shift_at(t)
        if span is not None:
            assert nxt <= span.end
            covered += span.working_ms(t, nxt)
        t = nxt
    in_shifts = sum(
        s.working_ms(start, end)
        for day_offset in range(-1, 5)
        for s in calendar.spans_starting_on(calendar.local_date(start + day_offset * 86_400_000))
    )
    assert covered == in_shifts
