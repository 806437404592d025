"""Deadband and heartbeat per signal (SPEC "Any signal"): publish a value only when it moved by
more than `deadband` since the last published value, or when `heartbeat` has passed.

Signals without a deadband pass straight through; a device without any deadband costs one
attribute check per scan.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.config.models import SignalBase
from gateway.model import GOOD, Sample


class DeadbandFilter:
    """Drops samples that did not move enough, per device; keeps what it last let through."""

    __slots__ = ("_last", "_rules")

    def __init__(self, signals: Iterable[SignalBase]) -> None:
        self._rules: dict[str, tuple[float, int]] = {
            s.name: (s.deadband, int(s.heartbeat * 1000)) for s in signals if s.deadband is not None
        }
        self._last: dict[str, Sample] = {}

    @property
    def active(self) -> bool:
        """Whether any signal of the device has a deadband."""
        return bool(self._rules)

    def apply(self, samples: list[Sample]) -> list[Sample]:
        """The samples worth publishing, in order.

        A change of quality always passes, so a signal going bad or recovering is never hidden.
        """
        if not self._rules:
            return samples
        rules = self._rules
        last = self._last
        kept: list[Sample] = []
        for sample in samples:
            rule = rules.get(sample.signal)
            if rule is None:
                kept.append(sample)
                continue
            previous = last.get(sample.signal)
            if (
                previous is None
                or previous.quality != sample.quality
                or sample.quality != GOOD
                or sample.ts - previous.ts >= rule[1]
                or abs(sample.value - previous.value) > rule[0]  # type: ignore[operator]
            ):
                last[sample.signal] = sample
                kept.append(sample)
        return kept
