"""The bounded waits of tests/support/wait.py: each returns the condition's first truthy value,
and raises TimeoutError when the condition never holds (so a test that waits can fail)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from tests.support.wait import eventually, eventually_async, eventually_sync


def counter_reaching(n: int) -> Callable[[], int | bool]:
    """A condition that is falsy until its n-th call, then returns n."""
    calls = itertools.count(1)
    return lambda: (c := next(calls)) >= n and c


async def test_eventually_returns_the_truthy_value() -> None:
    assert await eventually(counter_reaching(3), timeout=5, interval=0) == 3


async def test_eventually_async_returns_the_awaited_value() -> None:
    check = counter_reaching(3)

    async def condition() -> object:
        return check()

    assert await eventually_async(condition, timeout=5, interval=0) == 3


def test_eventually_sync_returns_the_truthy_value() -> None:
    assert eventually_sync(counter_reaching(3), timeout=5, interval=0) == 3


async def test_the_async_waits_time_out() -> None:
    async def never() -> bool:
        return False

    with pytest.raises(TimeoutError):
        await eventually(lambda: False, timeout=0.05)
    with pytest.raises(TimeoutError):
        await eventually_async(never, timeout=0.05)


def test_eventually_sync_times_out_naming_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match="the pty pair"):
        eventually_sync(lambda: False, timeout=0.05, what="the pty pair")


def test_eventually_sync_passes_on_an_error_of_the_condition() -> None:
    def dead() -> bool:
        raise RuntimeError("the server exited")

    with pytest.raises(RuntimeError, match="exited"):
        eventually_sync(dead, timeout=5)
