"""When to log that something is down, so that a dead device or server never storms the logs.

The rule (STYLE "Logs say what, where and what next, and never storm"; Home Assistant's modbus
hub does the same): the first failure of an outage is logged at error, the failures after it at
debug while it stays down, and the recovery once, with how long it lasted ("recovered after
42 s"). Both pollers and both sinks follow it; `Outage` keeps the state and answers "is this
worth an error line?" and "how long was it down?", and the caller logs in its own words.

`Outage` is pure: no logging, no I/O, and the clock is injected (`time.monotonic` by default),
so it is tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Outage:
    """The outage state of one device or sink: down since when, and the last error.

    `repeat_changed`: a failure whose text differs from the previous one is worth an error
    line too (the sinks: "connection lost", then "connection refused" tells a technician more
    than the first line alone). Without it, only the first failure of an outage is (pollers).
    """

    __slots__ = ("_clock", "error", "repeat_changed", "since")

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, repeat_changed: bool = False
    ) -> None:
        self._clock = clock
        self.repeat_changed = repeat_changed
        self.since: float | None = None
        """Clock reading at the first failure of the current outage; None while up."""
        self.error: str | None = None
        """The latest failure's text; None while up."""

    @property
    def down(self) -> bool:
        """True from the first failure until `recovered()`."""
        return self.since is not None

    def failed(self, error: str) -> bool:
        """Record a failure. True when it deserves an error line (the first of the outage, or
        a different one with `repeat_changed`); False when it is only worth debug."""
        first = self.since is None
        if first:
            self.since = self._clock()
        changed = error != self.error
        self.error = error
        return first or (self.repeat_changed and changed)

    def recovered(self) -> float | None:
        """Record a success: the seconds the outage lasted, or None when there was none."""
        since = self.since
        self.since = None
        self.error = None
        return None if since is None else max(0.0, self._clock() - since)
