"""`gateway.outage.Outage`: one error line per outage, debug while down, its length on recovery."""

from __future__ import annotations

from gateway.outage import Outage


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_failure_is_an_error_the_rest_debug_then_the_length_once() -> None:
    clock = Clock()
    outage = Outage(clock)
    assert not outage.down
    assert outage.recovered() is None, "no outage, nothing to report"
    assert outage.failed("timeout") is True
    clock.now += 5
    assert outage.failed("timeout") is False
    assert outage.failed("connection refused") is False, "pollers: one error line per outage"
    assert outage.down and outage.error == "connection refused"
    clock.now += 37
    assert outage.recovered() == 42.0, "measured from the first failure"
    assert not outage.down and outage.error is None
    assert outage.recovered() is None, "reported once"


def test_repeat_changed_logs_a_different_error_again() -> None:
    clock = Clock()
    outage = Outage(clock, repeat_changed=True)
    assert outage.failed("connection lost") is True
    assert outage.failed("connection refused") is True, "a new reason is worth a line"
    assert outage.failed("connection refused") is False
    clock.now += 3
    assert outage.failed("connection lost") is True
    assert outage.since == 1000.0, "still the same outage"
    assert outage.recovered() == 3.0


def test_a_new_outage_after_recovery_starts_again() -> None:
    clock = Clock()
    outage = Outage(clock)
    outage.failed("timeout")
    clock.now += 10
    outage.recovered()
    clock.now += 100
    assert outage.failed("timeout") is True, "the same error, but a new outage"
    clock.now += 2
    assert outage.recovered() == 2.0


def test_a_clock_that_steps_back_never_gives_a_negative_length() -> None:
    clock = Clock()
    outage = Outage(clock)
    outage.failed("x")
    clock.now -= 1
    assert outage.recovered() == 0.0
