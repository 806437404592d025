"""The read planner: fewest requests within the limits, gaps, exception splits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.modbus.planner import (
    ReadRequest,
    gap_addresses,
    minimum_requests,
    plan_reads,
    split_failed,
)
from gateway.config.models import ModbusSignal


def sigs(*specs: tuple[str, int, str]) -> list[ModbusSignal]:
    """(table, address, type) triples as signals named s0, s1, ..."""
    out = []
    for n, (table, address, type_) in enumerate(specs):
        fields: dict[str, Any] = {"name": f"s{n}", "table": table, "address": address}
        if type_ == "string":
            fields |= {"type": "string", "length": 10}
        elif table in ("holding", "input"):
            fields["type"] = type_
        out.append(ModbusSignal.model_validate(fields))
    return out


def spans(requests: list[ReadRequest]) -> list[tuple[str, int, int]]:
    return [(r.table, r.address, r.count) for r in requests]


def test_adjacent_and_near_signals_merge_into_one_read() -> None:
    signals = sigs(("holding", 0, "float32"), ("holding", 2, "uint16"), ("holding", 8, "uint32"))
    assert spans(plan_reads(signals)) == [("holding", 0, 10)]


def test_max_gap_zero_reads_no_unused_register() -> None:
    signals = sigs(("holding", 0, "float32"), ("holding", 2, "uint16"), ("holding", 8, "uint32"))
    assert spans(plan_reads(signals, max_gap=0)) == [("holding", 0, 3), ("holding", 8, 2)]


def test_a_gap_wider_than_max_gap_splits() -> None:
    signals = sigs(("input", 0, "uint16"), ("input", 20, "uint16"))
    assert len(plan_reads(signals, max_gap=10)) == 2
    assert spans(plan_reads(signals, max_gap=19)) == [("input", 0, 21)]


def test_tables_are_never_mixed() -> None:
    signals = sigs(("holding", 0, "uint16"), ("input", 0, "uint16"), ("coil", 0, "bool"))
    assert sorted(r.table for r in plan_reads(signals)) == ["coil", "holding", "input"]


def test_the_125_register_limit_and_a_device_limit() -> None:
    signals = sigs(*[("holding", a, "uint16") for a in range(200)])
    assert spans(plan_reads(signals)) == [("holding", 0, 125), ("holding", 125, 75)]
    assert [r.count for r in plan_reads(signals, max_registers=10)] == [10] * 20


def test_a_value_is_never_split_across_reads() -> None:
    signals = sigs(("holding", 0, "uint16"), ("holding", 1, "float64"))
    assert spans(plan_reads(signals, max_registers=4)) == [("holding", 0, 1), ("holding", 1, 4)]


def test_a_signal_larger_than_a_read_is_refused() -> None:
    with pytest.raises(ValueError, match="s0"):
        plan_reads(sigs(("holding", 0, "string")), max_registers=8)


def test_bits_use_the_2000_bit_limit() -> None:
    signals = sigs(*[("coil", a, "bool") for a in range(0, 2500, 5)])
    assert spans(plan_reads(signals)) == [("coil", 0, 1996), ("coil", 2000, 496)]


def test_overlapping_signals_share_one_read() -> None:
    signals = [
        ModbusSignal(name="b0", table="input", address=5, type="bool", bit=0),
        ModbusSignal(name="b7", table="input", address=5, type="bool", bit=7),
        ModbusSignal(name="word", table="input", address=5),
    ]
    (request,) = plan_reads(signals)
    assert (request.address, request.count, sorted(request.members)) == (5, 1, [0, 1, 2])


def test_avoided_addresses_are_not_read_through() -> None:
    signals = sigs(("holding", 0, "uint16"), ("holding", 5, "uint16"))
    assert len(plan_reads(signals)) == 1
    assert len(plan_reads(signals, avoid={("holding", 3)})) == 2
    assert len(plan_reads(signals, avoid={("input", 3)})) == 1


def test_isolated_signals_are_read_alone() -> None:
    signals = sigs(("holding", 0, "uint16"), ("holding", 1, "uint16"), ("holding", 2, "uint16"))
    requests = plan_reads(signals, isolate={1})
    assert sorted(r.members for r in requests) == [(0, 2), (1,)]


def test_split_failed_drops_gaps_then_splits_per_signal() -> None:
    signals = sigs(("holding", 0, "uint16"), ("holding", 1, "uint16"), ("holding", 6, "uint32"))
    (block,) = plan_reads(signals)
    runs = split_failed(block, signals)
    assert spans(runs) == [("holding", 0, 2), ("holding", 6, 2)]
    assert gap_addresses(block, signals) == {("holding", a) for a in range(2, 6)}
    assert spans(split_failed(runs[0], signals)) == [("holding", 0, 1), ("holding", 1, 1)]
    assert split_failed(runs[1], signals) == [runs[1]]


def test_minimum_requests_ignores_gaps() -> None:
    signals = sigs(("holding", 0, "uint16"), ("holding", 100, "uint16"), ("coil", 0, "bool"))
    assert minimum_requests(signals) == 2
    assert len(plan_reads(signals)) == 3


signal_specs = st.lists(
    st.tuples(
        st.sampled_from(["holding", "input", "coil"]),
        st.integers(0, 400),
        st.sampled_from(["uint16", "uint32", "float64"]),
    ),
    min_size=1,
    max_size=40,
)


def greedy_optimum(signals: list[ModbusSignal], limit_regs: int) -> int:
    """An independent count of the fewest reads when any gap may be read through."""
    total = 0
    for table in {s.table for s in signals}:
        limit = 2000 if table == "coil" else limit_regs
        ranges = sorted((s.address, s.address + s.size) for s in signals if s.table == table)
        start = end = None
        for a, b in ranges:
            if start is None or max(end, b) - start > limit:
                total += 1
                start, end = a, b
            else:
                end = max(end, b)
    return total


@given(
    specs=signal_specs,
    max_registers=st.integers(4, 125),
    max_gap=st.integers(0, 30),
    avoid=st.sets(st.integers(0, 410), max_size=10),
)
def test_plans_cover_every_signal_within_the_limits(specs, max_registers, max_gap, avoid) -> None:
    signals = sigs(*specs)
    avoided = {("holding", a) for a in avoid}
    requests = plan_reads(signals, max_registers=max_registers, max_gap=max_gap, avoid=avoided)
    covered = sorted(i for r in requests for i in r.members)
    assert covered == list(range(len(signals))), "every signal read exactly once"
    occupied = {(s.table, a) for s in signals for a in range(s.address, s.address + s.size)}
    for r in requests:
        assert r.count <= (2000 if r.table == "coil" else max_registers)
        for i in r.members:
            s = signals[i]
            assert s.table == r.table
            assert r.address <= s.address
            assert s.address + s.size <= r.end
        for a in range(r.address, r.end):
            assert (r.table, a) not in avoided or (r.table, a) in occupied
        gaps = sorted(a for _, a in gap_addresses(r, signals))
        assert all(len([g for g in gaps if lo <= g < lo + max_gap + 1]) <= max_gap for lo in gaps)


@given(specs=signal_specs, max_registers=st.integers(4, 125))
def test_plans_are_minimal_when_gaps_are_free(specs, max_registers) -> None:
    signals = sigs(*specs)
    plan = plan_reads(signals, max_registers=max_registers, max_gap=1000)
    assert len(plan) == greedy_optimum(signals, max_registers)
    assert minimum_requests(signals, max_registers) == len(plan)
