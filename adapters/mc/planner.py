"""The MC read planner: the fewest batch reads (0401) that cover every signal of a PLC.

Every read is in word units, bit devices included: one word point carries 16 bits, so M0-M15
cost one point where bit units would spend 16, and one request reaches 960 words (15,360 bits)
where bit units stop at 7,168 points. Bits of a bit device are read from the 16-aligned word that
holds them (M10 is bit 10 of the word read from M0; X1A bit 10 of the word from X10), which
never needs more requests than bit units would and keeps every response small.

As for Modbus and S7, the signals of one device letter are sorted and merged greedily: the next
signal joins the current block when at most `max_gap` unused words lie between them and the
block stays within `max_words` (960, the protocol's limit). A failed block is split with
`split_failed`; signals that fail alone are `isolate`d and never read through.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from adapters.mc.address import McLocation
from adapters.mc.frame import BIT_DEVICES, MAX_WORDS, build_read
from adapters.spans import plan as spans_plan
from adapters.spans import split


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One batch read in word units: `points` words of `device` from word `word`, and the
    indexes of the signals (in the device's signal list) it covers."""

    device: str
    word: int
    points: int
    members: tuple[int, ...]

    @property
    def end(self) -> int:
        """One past the last word read."""
        return self.word + self.points

    @property
    def head(self) -> int:
        """The head device number of the request (a bit device's word `w` starts at `16 w`)."""
        return self.word * 16 if self.device in BIT_DEVICES else self.word

    def frame(self, timer: int = 4) -> bytes:
        """The 3E request that reads this block."""
        return build_read(self.device, self.head, self.points, timer=timer)


def plan_reads(
    locations: Sequence[McLocation],
    max_words: int = MAX_WORDS,
    max_gap: int = 10,
    isolate: Collection[int] = (),
) -> list[ReadRequest]:
    """The batch reads for `locations`, by device letter then word.

    Raises ValueError when one signal spans more words than one request reads.
    """
    if not 1 <= max_words <= MAX_WORDS:
        raise ValueError(f"max_words is 1-{MAX_WORDS}, not {max_words}")
    by_device: dict[str, list[int]] = {}
    for index, loc in enumerate(locations):
        if loc.words > max_words:
            raise ValueError(
                f"{loc.address} spans {loc.words} words, more than one request reads ({max_words})"
            )
        by_device.setdefault(loc.address.device, []).append(index)
    spans = [(loc.word, loc.end) for loc in locations]
    requests = [
        ReadRequest(device, start, end - start, members)
        for device, (start, end, members) in spans_plan(
            by_device, spans, max_words, max_gap, isolate
        )
    ]
    requests.sort(key=lambda r: (r.device, r.word, r.points))
    return requests


def split_failed(request: ReadRequest, locations: Sequence[McLocation]) -> list[ReadRequest]:
    """Smaller reads to retry after `request` got an address end code (0xC056, ...).

    First the gaps are dropped, then the block is split per signal (signals sharing words, such
    as the bits of one word, stay together). Returns `[request]` when it cannot be split.
    """
    spans = [(loc.word, loc.end) for loc in locations]
    runs = split(request.members, spans, request.points)
    if runs is None:
        return [request]
    return [ReadRequest(request.device, s, e - s, m) for s, e, m in runs]
