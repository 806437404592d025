"""The OEE engine on scripted timelines, with the exact figures a lean trainer would compute."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.oee.calendar import DailyWindow, ShiftCalendar, parse_clock
from gateway.oee.counters import CounterTrack, Step, counter_delta
from gateway.oee.engine import EngineSpec, OeeEngine

UTC = ZoneInfo("UTC")
JAKARTA = ZoneInfo("Asia/Jakarta")
SHIFTS = [
    DailyWindow("pagi", parse_clock("06:00"), parse_clock("14:00")),
    DailyWindow("siang", parse_clock("14:00"), parse_clock("22:00")),
    DailyWindow("malam", parse_clock("22:00"), parse_clock("06:00")),
]
BREAK = [DailyWindow("istirahat", parse_clock("12:00"), parse_clock("12:30"))]
T0 = int(datetime(2026, 3, 2, 6, 0, tzinfo=UTC).timestamp()) * 1000
"""Monday 06:00 UTC: the start of shift pagi."""
PRESS = EngineSpec(
    ideal_cycle_s=2.5, micro_stop_s=30, running={3}, planned={1, 5}, mode="total_good",
    moduli=(2**32, 2**32),
)  # fmt: skip


def at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def engine(spec: EngineSpec = PRESS, start: float = 0, zone: str = "UTC") -> OeeEngine:
    return OeeEngine(ShiftCalendar(zone, SHIFTS, BREAK), spec, at(start))


def core(figures: dict[str, object] | None) -> dict[str, object]:
    assert figures is not None
    keys = ("planned_s", "run_s", "downtime_s", "planned_stop_s", "unknown_s", "total", "good")
    return {key: figures[key] for key in (*keys, "stops", "micro_stops")}


def test_a_stop_a_planned_setup_and_a_micro_stop() -> None:
    e = engine()
    e.observe(at(0), 3, (0, 0))
    e.observe(at(3600), 4, (1000, 990))  # a jam...
    e.observe(at(3610), 3, (1000, 990))  # ...cleared in 10 s: a micro-stop
    e.observe(at(5400), 1, (1700, 1680))  # setup (planned)
    e.observe(at(6000), 3, (1700, 1680))
    e.observe(at(7200), 4, (2100, 2070))  # a breakdown: 10 minutes
    e.observe(at(7800), 3, (2100, 2070))
    e.observe(at(9000), 3, (2500, 2450))
    figures = e.figures()
    assert core(figures) == {
        "planned_s": 8400.0,
        "run_s": 7800.0,
        "downtime_s": 600.0,
        "planned_stop_s": 600.0,
        "unknown_s": 0.0,
        "total": 2500,
        "good": 2450,
        "stops": 1,
        "micro_stops": 1,
    }
    assert figures is not None
    assert figures["availability"] == round(7800 / 8400, 4)
    assert figures["performance"] == round(2.5 * 2500 / 7800, 4)
    assert figures["quality"] == 0.98
    assert figures["oee"] == round(7800 / 8400 * 2.5 * 2500 / 7800 * 0.98, 4)
    assert figures["shift"] == "pagi" and figures["shift_start"] == T0 and not figures["final"]
    [stop] = e.stops
    assert (stop.id, stop.start, stop.end, stop.reason, stop.state) == (
        1, at(7200), at(7800), "state 4", 4,
    )  # fmt: skip
    assert e.name_stop(1, "breakdown").reason == "breakdown"
    with pytest.raises(KeyError):
        e.name_stop(2, "x")


def test_a_stop_under_way_is_run_time_until_it_lasts_micro_stop_then_downtime() -> None:
    e = engine()
    e.observe(at(0), 3, (0, 0))
    e.observe(at(100), 7, (40, 40))
    e.advance(at(129))
    assert core(e.figures())["run_s"] == 129.0 and not e.stops
    e.advance(at(130))
    assert core(e.figures())["run_s"] == 100.0
    assert core(e.figures())["downtime_s"] == 30.0
    assert e.stops[0].end is None and core(e.figures())["stops"] == 1


def test_a_break_is_neither_planned_nor_run_time_and_the_shift_ends_final() -> None:
    e = engine()
    e.observe(at(0), 3, (0, 0))
    e.observe(at(8 * 3600 - 1), 3, (10_000, 9_900))
    e.advance(at(8 * 3600 + 60))  # into siang
    [final] = e.take_finished()
    assert final["shift"] == "pagi" and final["final"] and final["ts"] == at(8 * 3600)
    assert core(final)["planned_s"] == 7.5 * 3600 and core(final)["run_s"] == 7.5 * 3600
    assert final["availability"] == 1.0
    assert e.previous_figures() == final
    now = e.figures()
    assert now is not None and now["shift"] == "siang" and now["run_s"] == 60.0
    assert e.take_finished() == []


def test_an_offline_gap_and_the_time_before_start_are_unknown() -> None:
    e = engine(start=600)  # the gateway starts 10 minutes into the shift
    e.observe(at(600), 3, (0, 0))
    e.set_online(at(1200), online=False)
    e.advance(at(1500))
    e.set_online(at(1800), online=True)  # connected, but nothing read yet
    e.observe(at(1830), 3, (240, 240))
    e.advance(at(2400))
    assert core(e.figures()) == {
        "planned_s": 600.0 + 570.0,
        "run_s": 1170.0,
        "downtime_s": 0.0,
        "planned_stop_s": 0.0,
        "unknown_s": 600.0 + 630.0,
        "total": 240,
        "good": 240,
        "stops": 0,
        "micro_stops": 0,
    }


def test_a_counter_wrap_and_a_reset_count_the_true_parts() -> None:
    spec = EngineSpec(ideal_cycle_s=1, running={True}, mode="total", moduli=(2**16,))
    e = engine(spec)
    e.observe(at(0), True, (65_530,))
    e.observe(at(10), True, (4,))  # wrapped: 6 + 4 parts
    e.observe(at(20), True, (12,))
    e.observe(at(30), True, (3,))  # the PLC restarted: 3 parts since
    e.observe(at(40), True, (None,))  # a bad reading counts nothing
    e.observe(at(50), True, (13,))
    assert core(e.figures())["total"] == 10 + 8 + 3 + 10


def test_without_a_state_signal_the_count_moving_is_running() -> None:
    spec = EngineSpec(ideal_cycle_s=2, micro_stop_s=30, mode="good_reject", moduli=(None, None))
    e = engine(spec)
    for i in range(31):  # a part every 2 s for a minute, one reject every 10th
        e.observe(at(2 * i), None, (i - i // 10, i // 10))
    e.observe(at(70), None, (28, 3))  # a 10 s wait without a part: still running
    e.observe(at(72), None, (29, 3))
    e.observe(at(172), None, (29, 3))  # nothing for 100 s: stopped since the last part
    e.observe(at(174), None, (30, 3))
    assert core(e.figures()) == {
        "planned_s": 174.0,
        "run_s": 72.0,
        "downtime_s": 102.0,
        "planned_stop_s": 0.0,
        "unknown_s": 0.0,
        "total": 33,
        "good": 30,
        "stops": 1,
        "micro_stops": 0,
    }
    assert [(s.start, s.end, s.reason) for s in e.stops] == [(at(72), at(174), "unknown")]


def test_a_shift_crossing_midnight_in_jakarta() -> None:
    start = int(datetime(2026, 3, 2, 21, 0, tzinfo=JAKARTA).timestamp()) * 1000
    e = OeeEngine(ShiftCalendar("Asia/Jakarta", SHIFTS, BREAK), PRESS, start)
    e.observe(start, 3, (0, 0))
    hour = 3_600_000
    e.observe(start + 2 * hour, 5, (2880, 2880))  # cleaning from 23:00 to 01:00
    e.observe(start + 4 * hour, 3, (2880, 2880))
    e.observe(start + 9 * hour - 1000, 3, (10_000, 9_000))
    e.advance(start + 9 * hour)  # 06:00: malam ends, pagi begins
    siang, malam = e.take_finished()
    assert siang["shift"] == "siang" and siang["unknown_s"] == 7 * 3600.0
    assert siang["run_s"] == 3600.0
    assert malam["shift"] == "malam"
    assert malam["shift_start"] == start + hour and malam["shift_end"] == start + 9 * hour
    assert core(malam) == {
        "planned_s": 6 * 3600.0,
        "run_s": 6 * 3600.0,
        "downtime_s": 0.0,
        "planned_stop_s": 2 * 3600.0,
        "unknown_s": 0.0,
        "total": 10_000,
        "good": 9_000,
        "stops": 0,
        "micro_stops": 0,
    }
    assert e.figures() is not None and e.figures()["shift"] == "pagi"  # type: ignore[index]


def test_a_snapshot_restored_mid_shift_keeps_the_figures() -> None:
    e = engine()
    e.observe(at(0), 3, (0, 0))
    e.observe(at(3600), 4, (1440, 1400))
    e.advance(at(3700))  # a stop under way, 100 s long
    data = e.snapshot()
    back = OeeEngine.restore(e.calendar, PRESS, data, at(3760))  # a minute to restart
    back.observe(at(3760), 3, (1450, 1410))  # 10 parts made meanwhile: counted once
    back.advance(at(3800))
    figures = core(back.figures())
    assert figures["unknown_s"] == 60.0
    assert figures["run_s"] == 3640.0 and figures["downtime_s"] == 100.0
    assert figures["total"] == 1450 and figures["good"] == 1410 and figures["stops"] == 1
    assert [(s.start, s.end) for s in back.stops] == [(at(3600), at(3700))]


def test_a_snapshot_of_a_finished_shift_moves_it_to_previous() -> None:
    e = engine()
    e.observe(at(0), 3, (0, 0))
    e.observe(at(3600), 3, (1440, 1440))
    data = e.snapshot()
    back = OeeEngine.restore(e.calendar, PRESS, data, at(9 * 3600))  # back in shift siang
    [pagi] = back.take_finished()
    assert pagi["shift"] == "pagi" and pagi["total"] == 1440 and pagi["run_s"] == 3600.0
    assert pagi["unknown_s"] == 7.5 * 3600 - 3600
    assert core(back.figures())["unknown_s"] == 3600.0


# -- counters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev", "cur", "modulus", "expected"),
    [
        (10, 15, 2**16, (5, Step.COUNT)),
        (65_530, 4, 2**16, (10, Step.WRAP)),
        (32_767, -32_768, 2**16, (1, Step.WRAP)),  # int16
        (5000, 3, 2**16, (3, Step.RESET)),
        (5000, 3, None, (3, Step.RESET)),
        (10, 60_000, 2**16, (0, Step.JUMP)),
        (5000, 4000, 2**16, (0, Step.JUMP)),
    ],
)
def test_counter_steps(
    prev: int, cur: int, modulus: int | None, expected: tuple[int, Step]
) -> None:
    assert counter_delta(prev, cur, modulus, limit=100) == expected


MODULI = st.sampled_from([2**16, 2**32])


@settings(max_examples=300, deadline=None)
@given(
    MODULI,
    st.integers(0, 2**16 - 1),
    st.lists(st.tuples(st.integers(0, 50), st.sampled_from(["count", "count", "reset"])),
             max_size=60),
)  # fmt: skip
def test_counts_are_never_negative_and_add_up_to_the_true_parts(
    modulus: int, start: int, steps: list[tuple[int, str]]
) -> None:
    """One reading per second of a machine making at most 50 parts a second (rated 10/s)."""
    track = CounterTrack(modulus, parts_per_ms=5 / 100)  # RATE_MARGIN 5 × ideal 0.1 s
    raw, true_parts, counted = start, 0, 0.0
    track.feed(raw, 0)
    for second, (parts, event) in enumerate(steps, start=1):
        if event == "reset":
            # Detectable only when the value went down, and not from just below the top.
            assume(0 < parts < raw and raw < modulus - 1000)
            raw = parts
        else:
            raw = (raw + parts) % modulus
        true_parts += parts
        delta = track.feed(raw, second * 1000)
        assert 0 <= delta <= 60
        counted += delta
    assert counted == true_parts
