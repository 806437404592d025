"""The span planner shared by S7 and MC (adapters.spans): every signal read exactly once, each
read within its limit, isolated signals alone and never read through, and splits that shrink."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.spans import merge, plan, split

spans_lists = st.lists(
    st.tuples(st.integers(0, 500), st.integers(1, 8)).map(lambda p: (p[0], p[0] + p[1])),
    min_size=1,
    max_size=40,
)


@given(spans_lists, st.integers(8, 64), st.integers(0, 20), st.data())
def test_every_signal_is_read_once_within_the_limit(spans, limit, gap, data) -> None:
    isolate = data.draw(st.sets(st.sampled_from(range(len(spans)))))
    keyed = {"D": list(range(len(spans)))}
    runs = [run for _key, run in plan(keyed, spans, limit, gap, isolate)]
    members = sorted(i for _s, _e, m in runs for i in m)
    assert members == list(range(len(spans)))
    for start, end, covered in runs:
        assert all(start <= spans[i][0] and spans[i][1] <= end for i in covered)
        assert end - start <= limit or len(covered) == 1
        if set(covered) & isolate:
            assert len(covered) == 1, "an isolated signal is read alone"
        else:
            for i in isolate:  # no gap read through an isolated signal's span
                a, b = spans[i]
                inside = [spans[j] for j in covered]
                assert not (start < a and b <= end and not any(s <= a < e for s, e in inside))


def test_adjacent_signals_merge_and_a_gap_beyond_max_gap_does_not() -> None:
    spans = [(0, 2), (2, 4), (10, 12), (40, 42)]
    assert merge([0, 1, 2, 3], spans, 100, 6) == [(0, 12, (0, 1, 2)), (40, 42, (3,))]
    assert merge([0, 1, 2, 3], spans, 4, 6) == [(0, 4, (0, 1)), (10, 12, (2,)), (40, 42, (3,))]


def test_a_failed_block_splits_its_gaps_first_then_per_signal() -> None:
    spans = [(0, 2), (2, 4), (10, 12)]
    assert split([0, 1, 2], spans, 12) == [(0, 4, (0, 1)), (10, 12, (2,))]
    assert split([0, 1], spans, 4) == [(0, 2, (0,)), (2, 4, (1,))]
    # Bits of one word share it: they stay together, and cannot be split further.
    assert split([0, 1], [(5, 6), (5, 6)], 1) is None
