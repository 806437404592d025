"""Bounded waiting for conditions that no event announces (a counter in another thread, a file
another process writes, an HTTP endpoint that turns ready).

Tests never sleep a fixed time to "let something happen": they await an event where the code
under test offers one, and otherwise wait here for the condition itself, checked every
`interval` seconds and bounded by `timeout` seconds, so a test is as fast as the system allows
and fails with a TimeoutError when the condition never holds.

- `eventually`: async, for a plain (synchronous) condition;
- `eventually_async`: async, for a condition that has to await (an HTTP request);
- `eventually_sync`: the synchronous twin, for fixtures and helpers that run outside a loop
  (starting a server process, waiting for a pty it creates).

Each returns the condition's first truthy value, so `status = await eventually_async(ready)`
both waits and keeps what it waited for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Return `condition()` once it is truthy, checking every `interval` s (default 20 ms);
    TimeoutError after `timeout` s.

    Prefer awaiting an event where the code under test offers one; this is for state that
    changes in paho's thread or in another process.
    """
    async with asyncio.timeout(timeout):
        while not (value := condition()):  # noqa: ASYNC110 - nothing to await: the state lives elsewhere
            await asyncio.sleep(interval)
    return value


async def eventually_async(
    condition: Callable[[], Awaitable[T]], timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Return the awaited result of `condition()` once it is truthy, calling it every
    `interval` s (default 50 ms); TimeoutError after `timeout` s (a call still running then
    is cancelled)."""
    async with asyncio.timeout(timeout):
        while not (value := await condition()):  # noqa: ASYNC110 - polled over the network
            await asyncio.sleep(interval)
    return value


def eventually_sync(
    condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """The synchronous twin of `eventually`, for code outside an event loop: return
    `condition()` once it is truthy, checking every `interval` s; TimeoutError naming `what`
    after `timeout` s. It blocks the thread, so never call it from a coroutine."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout} s: {what or condition}")
        time.sleep(interval)
    return value
