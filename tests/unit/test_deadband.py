"""Deadband and heartbeat: publish only moves larger than the deadband, or after the heartbeat."""

from __future__ import annotations

from gateway.config.models import OpcUaSignal
from gateway.deadband import DeadbandFilter
from gateway.model import BAD, GOOD, Sample


def _signal(name: str, deadband: float | None, heartbeat: str = "60s") -> OpcUaSignal:
    return OpcUaSignal.model_validate(
        {"name": name, "node": "ns=2;s=x", "deadband": deadband, "heartbeat": heartbeat}
    )


def _s(name: str, value: float | None, ts: int, quality=GOOD) -> Sample:
    return Sample(name, value, quality, ts)


def test_no_deadband_passes_everything_through_unchanged() -> None:
    flt = DeadbandFilter([_signal("a", None)])
    samples = [_s("a", 1.0, 0)]
    assert not flt.active
    assert flt.apply(samples) is samples


def test_small_moves_are_held_back_until_they_add_up() -> None:
    flt = DeadbandFilter([_signal("t", 0.5)])
    published = [
        s.value
        for v, ts in [(20.0, 0), (20.3, 1000), (20.5, 2000), (20.6, 3000), (19.9, 4000)]
        for s in flt.apply([_s("t", v, ts)])
    ]
    # 20.3 and 20.5 are within 0.5 of 20.0 (not more than); 20.6 moved by 0.6; 19.9 by 0.7.
    assert published == [20.0, 20.6, 19.9]


def test_heartbeat_republishes_an_unchanged_value() -> None:
    flt = DeadbandFilter([_signal("t", 1.0, heartbeat="10s")])
    out = [len(flt.apply([_s("t", 5.0, ts)])) for ts in (0, 5_000, 9_999, 10_000, 15_000)]
    assert out == [1, 0, 0, 1, 0]


def test_quality_changes_always_pass() -> None:
    flt = DeadbandFilter([_signal("t", 10.0)])
    assert flt.apply([_s("t", 1.0, 0)])
    assert flt.apply([_s("t", None, 1, BAD)])
    assert flt.apply([_s("t", None, 2, BAD)]), "a bad sample is never hidden"
    assert flt.apply([_s("t", 1.0, 3)]), "recovery publishes even without a move"


def test_signals_without_deadband_pass_beside_filtered_ones() -> None:
    flt = DeadbandFilter([_signal("a", 1.0), _signal("b", None)])
    flt.apply([_s("a", 1.0, 0), _s("b", 1.0, 0)])
    kept = flt.apply([_s("a", 1.1, 1), _s("b", 1.0, 1)])
    assert [s.signal for s in kept] == ["b"]
