"""Capped, jittered exponential backoff for reconnects and retries of dead devices and sinks.

Jitter spreads the retries of many devices that failed together (a switch reboot) so they do not
all hit the network at the same moment when it returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delay before the next attempt: `initial` doubling up to `maximum`, ±`jitter` fraction."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2
    failures: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self) -> float:
        """Record a failure and return the seconds to wait before trying again."""
        base = min(self.maximum, self.initial * (2 ** min(self.failures, 30)))
        self.failures += 1
        spread = base * self.jitter
        return max(0.0, base + self._rng.uniform(-spread, spread))

    def reset(self) -> None:
        """Record a success: the next failure starts from `initial` again."""
        self.failures = 0
