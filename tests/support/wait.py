"""Bounded waiting for conditions that no event announces (a counter in another thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Return once `condition()` is truthy, checking every 20 ms; TimeoutError after `timeout`.

    Prefer awaiting an event where the code under test offers one; this is for state that
    changes in paho's thread or in another process.
    """
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing to await: the state lives elsewhere
            await asyncio.sleep(0.02)
