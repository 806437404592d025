"""The alarm engine: exact event sequences (delay, hysteresis, ack, offline) and properties."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.alarms.engine import AlarmEngine, UnknownAlarm
from gateway.alarms.events import AlarmEvent
from gateway.config.loader import parse_config_text
from gateway.model import BAD, GOOD, UNCERTAIN, Batch, DeviceState, Quality, Sample, StateChange

CONFIG = """\
version: 1
gateway: {id: gw}
devices:
  - id: furnace-1
    protocol: modbus-tcp
    host: 127.0.0.1
    signals:
      - {name: melt_temp, table: holding, address: 0, type: float32,
         alarms: [{name: too_hot, above: 1550, clear_below: 1530, delay: 10s, severity: high,
                   message: {en: Melt too hot, id: Lelehan terlalu panas}}]}
      - {name: level, table: holding, address: 2, alarms: [{name: low_level, below: 10}]}
      - {name: door_open, table: discrete, address: 3, alarms: [{name: door, equals: true,
                                                                  severity: low}]}
  - id: quiet
    protocol: modbus-tcp
    host: 127.0.0.1
    signals:
      - {name: x, table: holding, address: 0}
"""


class Clock:
    """A clock the test moves by hand (ms)."""

    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> AlarmEngine:
    config = parse_config_text(textwrap.dedent(CONFIG), "gw.yaml", {})
    return AlarmEngine(config.devices, clock)


def scan(engine: AlarmEngine, clock: Clock, at: int, quality: Quality = GOOD, **values: object):  # type: ignore[no-untyped-def]
    """Feed one scan of furnace-1 at `at` ms after the start; its events as short tuples."""
    clock.now = 1_000_000 + at
    samples = [Sample(name, value, quality, clock.now) for name, value in values.items()]  # type: ignore[arg-type]
    return [short(e) for e in engine.evaluate(Batch("furnace-1", clock.now, samples))]


def short(event: AlarmEvent) -> tuple[object, ...]:
    """(alarm, state, acknowledged, value, since relative to the start)."""
    since = None if event.since is None else event.since - 1_000_000
    return (event.alarm, event.state, event.acknowledged, event.value, since)


def test_an_alarm_rises_only_once_its_condition_held_for_its_delay(
    engine: AlarmEngine, clock: Clock
) -> None:
    assert scan(engine, clock, 0, melt_temp=1560.0) == []
    assert scan(engine, clock, 5000, melt_temp=1555.0) == []
    assert scan(engine, clock, 9999, melt_temp=1551.0) == []
    assert scan(engine, clock, 10_000, melt_temp=1552.5) == [
        ("too_hot", "active", False, 1552.5, 10_000)
    ]
    assert scan(engine, clock, 11_000, melt_temp=1600.0) == []  # changes only


def test_a_break_in_the_condition_restarts_the_delay(engine: AlarmEngine, clock: Clock) -> None:
    assert scan(engine, clock, 0, melt_temp=1560.0) == []
    assert scan(engine, clock, 6000, melt_temp=1550.0) == []  # not above: the delay restarts
    assert scan(engine, clock, 12_000, melt_temp=1560.0) == []
    assert scan(engine, clock, 21_000, melt_temp=1560.0) == []
    assert scan(engine, clock, 22_000, melt_temp=1560.0) == [
        ("too_hot", "active", False, 1560.0, 22_000)
    ]


def test_hysteresis_an_active_alarm_clears_only_past_its_clear_limit(
    engine: AlarmEngine, clock: Clock
) -> None:
    scan(engine, clock, 0, melt_temp=1560.0)
    assert scan(engine, clock, 10_000, melt_temp=1560.0)[0][1] == "active"
    for at, value in ((11_000, 1549.0), (12_000, 1551.0), (13_000, 1531.0), (14_000, 1530.0)):
        assert scan(engine, clock, at, melt_temp=value) == []
    assert scan(engine, clock, 15_000, melt_temp=1529.9) == [
        ("too_hot", "cleared", False, 1529.9, 15_000)
    ]
    assert scan(engine, clock, 16_000, melt_temp=1545.0) == []  # in the band, not above: no


def test_without_delay_or_clear_limit_the_trip_limit_is_both(
    engine: AlarmEngine, clock: Clock
) -> None:
    assert scan(engine, clock, 0, level=10) == []  # not below 10
    assert scan(engine, clock, 1, level=9) == [("low_level", "active", False, 9, 1)]
    assert scan(engine, clock, 2, level=10) == []  # not above 10 either: held
    assert scan(engine, clock, 3, level=11) == [("low_level", "cleared", False, 11, 3)]


def test_ack_before_clear_keeps_it_active_then_the_clear_ends_it(
    engine: AlarmEngine, clock: Clock
) -> None:
    assert scan(engine, clock, 0, door_open=True) == [("door", "active", False, True, 0)]
    clock.now += 500
    event, changed = engine.ack("furnace-1", "door", "technician")
    assert changed and short(event) == ("door", "active", True, True, 0)
    assert (event.acknowledged_by, event.ts, event.severity) == ("technician", 1_000_500, "low")
    assert engine.ack("furnace-1", "door", "other")[1] is False  # nothing left to acknowledge
    assert [e.alarm for e in engine.outstanding()] == ["door"]
    assert scan(engine, clock, 1000, door_open=False) == [("door", "cleared", True, False, 1000)]
    assert engine.outstanding() == []


def test_ack_after_clear_ends_the_cleared_alarm(engine: AlarmEngine, clock: Clock) -> None:
    scan(engine, clock, 0, door_open=True)
    assert scan(engine, clock, 1000, door_open=False) == [("door", "cleared", False, False, 1000)]
    assert [(e.alarm, e.state) for e in engine.outstanding()] == [("door", "cleared")]
    event, changed = engine.ack("furnace-1", "door", "technician")
    assert changed and short(event) == ("door", "cleared", True, False, 1000)
    assert engine.outstanding() == []
    # A new activation needs a new acknowledgement.
    assert scan(engine, clock, 2000, door_open=True) == [("door", "active", False, True, 2000)]


def test_a_cleared_unacknowledged_alarm_that_returns_is_active_again(
    engine: AlarmEngine, clock: Clock
) -> None:
    scan(engine, clock, 0, door_open=True)
    engine.ack("furnace-1", "door", "t")
    scan(engine, clock, 1000, door_open=False)
    scan(engine, clock, 2000, door_open=True)
    assert scan(engine, clock, 3000, door_open=False) == [("door", "cleared", False, False, 3000)]
    assert scan(engine, clock, 4000, door_open=True) == [("door", "active", False, True, 4000)]


def test_bad_samples_neither_raise_nor_clear(engine: AlarmEngine, clock: Clock) -> None:
    assert scan(engine, clock, 0, BAD, level=None) == []
    assert scan(engine, clock, 1, UNCERTAIN, level=3) == []
    assert scan(engine, clock, 2, level=3) == [("low_level", "active", False, 3, 2)]
    assert scan(engine, clock, 3, BAD, level=None) == []
    assert scan(engine, clock, 4, UNCERTAIN, level=50) == []
    assert [e.alarm for e in engine.outstanding()] == ["low_level"]
    # A pending delay keeps running across a bad read.
    scan(engine, clock, 10_000, melt_temp=1560.0)
    scan(engine, clock, 15_000, BAD, melt_temp=None)
    assert scan(engine, clock, 20_000, melt_temp=1560.0)[0][:2] == ("too_hot", "active")


def test_values_of_another_type_are_ignored(engine: AlarmEngine, clock: Clock) -> None:
    assert scan(engine, clock, 0, door_open=1, level=True, melt_temp="hot") == []
    assert scan(engine, clock, 1, level=False) == []  # a bool is not the number 0


def test_samples_are_found_in_any_order_and_missing_ones_skipped(
    engine: AlarmEngine, clock: Clock
) -> None:
    assert scan(engine, clock, 0, level=1, door_open=True) == [
        ("low_level", "active", False, 1, 0),
        ("door", "active", False, True, 0),
    ]
    assert scan(engine, clock, 1, door_open=False) == [("door", "cleared", False, False, 1)]
    assert scan(engine, clock, 2, door_open=False, level=20, melt_temp=1.0) == [
        ("low_level", "cleared", False, 20, 2)
    ]


def test_a_device_that_stops_answering_raises_offline_until_it_is_back(
    engine: AlarmEngine, clock: Clock
) -> None:
    def state(at: int, to: DeviceState) -> list[tuple[object, ...]]:
        clock.now = 1_000_000 + at
        return [short(e) for e in engine.device_state(StateChange("furnace-1", to, clock.now))]

    assert state(0, DeviceState.ONLINE) == []
    assert state(1000, DeviceState.ERROR) == [("offline", "active", False, None, 1000)]
    assert state(2000, DeviceState.ERROR) == []  # another error message: still the same alarm
    assert engine.outstanding()[0].severity == "high"
    assert engine.outstanding()[0].signal is None
    assert state(3000, DeviceState.ONLINE) == [("offline", "cleared", False, None, 3000)]
    assert state(4000, DeviceState.OFFLINE) == []  # stopped by the gateway: no alarm
    assert engine.device_state(StateChange("nobody", DeviceState.ERROR, 0)) == []


def test_a_device_that_stops_answering_restarts_pending_delays(
    engine: AlarmEngine, clock: Clock
) -> None:
    scan(engine, clock, 0, melt_temp=1560.0)
    engine.device_state(StateChange("furnace-1", DeviceState.ERROR, clock.now))
    assert scan(engine, clock, 10_000, melt_temp=1560.0) == []
    assert scan(engine, clock, 20_000, melt_temp=1560.0)[0][:2] == ("too_hot", "active")


def test_unknown_alarms_and_devices_without_rules(engine: AlarmEngine, clock: Clock) -> None:
    with pytest.raises(UnknownAlarm, match="no alarm 'nope' on device 'furnace-1'"):
        engine.ack("furnace-1", "nope", "t")
    with pytest.raises(UnknownAlarm):
        engine.ack("ghost", "offline", "t")
    assert engine.evaluate(Batch("quiet", 0, [Sample("x", 5, GOOD, 0)])) == []
    assert engine.evaluate(Batch("ghost", 0, [Sample("x", 5, GOOD, 0)])) == []
    assert engine.ack("quiet", "offline", "t")[1] is False  # never raised: nothing to ack


def test_the_event_payload_is_the_spec_object(engine: AlarmEngine, clock: Clock) -> None:
    scan(engine, clock, 0, melt_temp=1553.2)
    clock.now = 1_010_000
    (event,) = engine.evaluate(
        Batch("furnace-1", clock.now, [Sample("melt_temp", 1553.2, GOOD, clock.now)])
    )
    assert event.payload() == {
        "alarm": "too_hot",
        "state": "active",
        "acknowledged": False,
        "device": "furnace-1",
        "signal": "melt_temp",
        "value": 1553.2,
        "severity": "high",
        "since": 1_010_000,
        "ts": 1_010_000,
        "message": {"en": "Melt too hot", "id": "Lelehan terlalu panas"},
    }


def test_a_restored_active_alarm_is_not_raised_twice(engine: AlarmEngine, clock: Clock) -> None:
    scan(engine, clock, 0, level=1, door_open=True)
    engine.ack("furnace-1", "door", "technician")
    saved = engine.snapshot()
    assert saved == {
        "furnace-1": {
            "low_level": {
                "active": True,
                "acknowledged": False,
                "acknowledged_by": None,
                "since": 1_000_000,
                "value": 1,
            },
            "door": {
                "active": True,
                "acknowledged": True,
                "acknowledged_by": "technician",
                "since": 1_000_000,
                "value": True,
            },
        }
    }
    config = parse_config_text(textwrap.dedent(CONFIG), "gw.yaml", {})
    again = AlarmEngine(config.devices, clock)
    saved["furnace-1"]["gone"] = {"active": True, "since": 1, "value": 1}
    saved["furnace-1"]["too_hot"] = {"active": True, "since": "yesterday"}
    saved["ghost"] = {"offline": {"active": True, "since": 1, "value": None}}
    assert again.restore(saved) == 2
    assert [(e.alarm, e.acknowledged) for e in again.outstanding()] == [
        ("low_level", False),
        ("door", True),
    ]
    assert scan(again, clock, 5000, level=2, door_open=True) == []
    assert scan(again, clock, 6000, level=20, door_open=False) == [
        ("low_level", "cleared", False, 20, 6000),
        ("door", "cleared", True, False, 6000),
    ]


# -- properties ----------------------------------------------------------------------------

ABOVE, CLEAR_BELOW, DELAY_MS = 1550.0, 1530.0, 10_000

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=12_000),  # ms since the previous scan
        st.one_of(
            st.none(),  # a bad read
            st.floats(min_value=1500, max_value=1580, allow_nan=False),
            st.sampled_from([ABOVE, CLEAR_BELOW, 1529.9, 1550.1]),  # right at the limits
        ),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_events_alternate_and_follow_the_limits_and_delay(
    sequence: list[tuple[int, float | None]],
) -> None:
    clock = Clock(0)
    config = parse_config_text(textwrap.dedent(CONFIG), "gw.yaml", {})
    engine = AlarmEngine(config.devices, clock)
    expected_state = "active"
    held_since: int | None = None  # first good tripping sample of the current unbroken run
    for gap, value in sequence:
        clock.now += gap
        good = value is not None
        if good and value > ABOVE:  # type: ignore[operator]
            held_since = clock.now if held_since is None else held_since
        elif good:
            held_since = None
        sample = Sample("melt_temp", value, GOOD if good else BAD, clock.now)
        for event in engine.evaluate(Batch("furnace-1", clock.now, [sample])):
            assert event.state == expected_state  # active, cleared, active, ...: no repeats
            assert good
            if event.state == "active":
                assert value > ABOVE  # type: ignore[operator]
                assert held_since is not None and clock.now - held_since >= DELAY_MS
                held_since = None  # a new activation needs a new run
            else:
                assert value < CLEAR_BELOW  # type: ignore[operator]
            expected_state = "cleared" if expected_state == "active" else "active"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["up", "down", "ack", "error", "online"]), max_size=40))
def test_acknowledged_means_someone_acknowledged_this_activation(actions: list[str]) -> None:
    clock = Clock(0)
    config = parse_config_text(textwrap.dedent(CONFIG), "gw.yaml", {})
    engine = AlarmEngine(config.devices, clock)
    acked_since_raise = True
    for action in actions:
        clock.now += 1
        if action in ("up", "down"):
            sample = Sample("door_open", action == "up", GOOD, clock.now)
            events = engine.evaluate(Batch("furnace-1", clock.now, [sample]))
        elif action == "ack":
            event, changed = engine.ack("furnace-1", "door", "t")
            events = [event] if changed else []
            acked_since_raise = True
        else:
            to = DeviceState.ERROR if action == "error" else DeviceState.ONLINE
            events = engine.device_state(StateChange("furnace-1", to, clock.now))
        for event in events:
            if event.alarm == "door" and event.state == "active" and not event.acknowledged:
                acked_since_raise = False
            if event.alarm == "door":
                assert event.acknowledged == acked_since_raise
        door = engine.get("furnace-1", "door")
        assert door.outstanding == (door.active or not acked_since_raise)
