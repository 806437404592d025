"""Read planning over spans, shared by the S7 and MC planners: which signals one read covers.

A signal occupies a span `[start, end)` of its area (S7 bytes of a DB, MC words of a device).
The plan merges the spans of one area greedily, in order of start: the next span joins the
current block when at most `max_gap` unused units lie between them, the block stays within
`limit` units, and no gap read through would cross a `barrier` (the span of an isolated signal,
one that failed on its own). Isolated spans are read alone. After a block failed, `split`
offers smaller reads: first the block without its gaps, then one per signal (spans that share
units, such as the bits of one word, stay together).

Pure and protocol-free: each planner maps the runs (start, end, members) into its own request
type. The Modbus planner keeps its own: its tables, function codes and register limits differ.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

Span = tuple[int, int]
"""[start, end) of one signal, in the area's units."""
Run = tuple[int, int, tuple[int, ...]]
"""One read: start, end, and the indexes of the signals it covers."""


def plan(
    keyed: Mapping[K, Sequence[int]],
    spans: Sequence[Span],
    limit: int,
    max_gap: int,
    isolate: Collection[int] = (),
) -> list[tuple[K, Run]]:
    """The reads of every area: `keyed` gives each area's signal indexes into `spans`."""
    isolated = frozenset(isolate)
    out: list[tuple[K, Run]] = []
    for key, indexes in keyed.items():
        ordered = sorted(indexes, key=spans.__getitem__)
        alone = [i for i in ordered if i in isolated]
        out += [(key, (*spans[i], (i,))) for i in alone]
        shared = [i for i in ordered if i not in isolated]
        out += [
            (key, run) for run in merge(shared, spans, limit, max_gap, [spans[i] for i in alone])
        ]
    return out


def merge(
    indexes: Sequence[int],
    spans: Sequence[Span],
    limit: int,
    max_gap: int,
    barriers: Sequence[Span] = (),
    *,
    touching_only: bool = False,
) -> list[Run]:
    """Greedy merge of `indexes` (sorted by start). With `touching_only`, only spans that
    overlap or touch merge, whatever the gap and limit (the gaps of a failed block dropped)."""
    runs: list[Run] = []
    start = end = -1
    members: list[int] = []
    for i in indexes:
        first, last = spans[i]
        if members:
            if touching_only:
                joins = first <= end
            else:
                joins = (
                    first - end <= max_gap
                    and max(end, last) - start <= limit
                    and not any(a < first and b > end for a, b in barriers)
                )
            if joins:
                end = max(end, last)
                members.append(i)
                continue
            runs.append((start, end, tuple(members)))
        start, end, members = first, last, [i]
    if members:
        runs.append((start, end, tuple(members)))
    return runs


def split(members: Sequence[int], spans: Sequence[Span], size: int) -> list[Run] | None:
    """Smaller reads after a block of `size` units covering `members` failed; None when it
    cannot be split (one signal, or signals that all share units)."""
    ordered = sorted(members, key=spans.__getitem__)
    runs = merge(ordered, spans, 0, 0, touching_only=True)
    if len(runs) > 1 or runs[0][1] - runs[0][0] < size:
        return runs
    groups: list[Run] = []
    for i in ordered:
        first, last = spans[i]
        if groups and first < groups[-1][1]:
            start, end, grouped = groups[-1]
            groups[-1] = (start, max(end, last), (*grouped, i))
        else:
            groups.append((first, last, (i,)))
    return groups if len(groups) > 1 else None
