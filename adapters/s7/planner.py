"""The S7 read planner: the fewest read requests that cover every signal of a PLC.

As for Modbus (`adapters.modbus.planner`): the signals of one area (one DB, or M, I or Q) are
sorted by byte offset and merged greedily into blocks. The next signal joins the current block
when the unused bytes between them number at most `max_gap` and the block's payload stays within
what one response can carry. The limit comes from the PDU size the PLC negotiated at connect
(240 bytes on most S7-300 and S7-1200, 480 or 960 on S7-400 and S7-1500): a read-variable
response spends 18 bytes on headers (12 header, 2 parameter, 4 data-item header), so one item
carries at most `pdu_size - 18` bytes (snap7 and python-snap7 use the same budget).

A PLC refuses a whole item when any of its bytes is outside the DB (return code 0x05). When a
block fails, `split_failed` cuts it into runs that drop the gaps, then per signal, so a wrong
address costs that signal alone; the poller `isolate`s signals that fail on their own: they
are read alone, and no block reads through their bytes.

`pack_items` then groups blocks into multi-variable requests (one PDU, several items), which
the protocol allows up to 20 items and the PDU size on both the request and the response.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from adapters.s7.address import S7Location
from adapters.spans import plan as spans_plan
from adapters.spans import split

HEADER_BYTES = 18
"""Read-response overhead of one item: S7 header 12, parameter 2, data-item header 4."""
DEFAULT_PDU = 240
MIN_PDU = 240
"""S7 PLCs negotiate at least 240 bytes; 480 and 960 are the other usual sizes."""
MAX_ITEMS = 20
"""Items in one multi-variable read (the S7 protocol's and snap7's limit)."""
DEFAULT_GAP = 20
"""Unused bytes worth reading through: about what a second request costs on the wire."""


def max_payload(pdu_size: int) -> int:
    """The bytes one read item may carry with this negotiated PDU size."""
    return pdu_size - HEADER_BYTES


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read item: `size` bytes of `area` (DB `db`, 0 for M/I/Q) from byte `start`, and the
    indexes of the signals (in the device's signal list) it covers."""

    area: str
    db: int
    start: int
    size: int
    members: tuple[int, ...]

    @property
    def end(self) -> int:
        """One past the last byte read."""
        return self.start + self.size

    def __str__(self) -> str:
        where = f"DB{self.db}" if self.area == "DB" else self.area
        return f"{where} bytes {self.start}-{self.end - 1}"


def plan_reads(
    locations: Sequence[S7Location],
    pdu_size: int = DEFAULT_PDU,
    max_gap: int = DEFAULT_GAP,
    isolate: Collection[int] = (),
) -> list[ReadRequest]:
    """The read items for `locations`, by area, DB, then byte.

    Raises ValueError when one signal is larger than one item may carry (a long string on a
    small PDU).
    """
    limit = max_payload(pdu_size)
    if limit < 1:
        raise ValueError(f"a PDU of {pdu_size} bytes carries no data (at least {MIN_PDU})")
    by_key: dict[tuple[str, int], list[int]] = {}
    for index, loc in enumerate(locations):
        if loc.size > limit:
            raise ValueError(
                f"{loc.address} spans {loc.size} bytes, more than one read of a "
                f"{pdu_size}-byte PDU carries ({limit}); shorten the string"
            )
        by_key.setdefault(loc.key, []).append(index)
    spans = [(loc.start, loc.end) for loc in locations]
    requests = [
        ReadRequest(area, db, start, end - start, members)
        for (area, db), (start, end, members) in spans_plan(by_key, spans, limit, max_gap, isolate)
    ]
    requests.sort(key=lambda r: (r.area, r.db, r.start, r.size))
    return requests


def split_failed(request: ReadRequest, locations: Sequence[S7Location]) -> list[ReadRequest]:
    """Smaller items to retry after `request` failed (a return code other than 0xFF).

    First the gaps are dropped (runs of touching signals); a block without gaps is split per
    signal (signals that share bytes, such as bits of one byte, stay together). Returns
    `[request]` when it cannot be split.
    """
    spans = [(loc.start, loc.end) for loc in locations]
    runs = split(request.members, spans, request.size)
    if runs is None:
        return [request]
    return [ReadRequest(request.area, request.db, s, e - s, m) for s, e, m in runs]


def request_bytes(count: int) -> int:
    """Bytes of a read-variable request PDU with `count` items (10 header, 2 parameter, 12 an
    item)."""
    return 12 + 12 * count


def response_bytes(items: Sequence[ReadRequest]) -> int:
    """Bytes of the read-variable response PDU for `items`: 12 header, 2 parameter, then per
    item a 4-byte header and its data, padded to even length except after the last."""
    total = 14
    for n, item in enumerate(items):
        total += 4 + item.size
        if item.size % 2 and n < len(items) - 1:
            total += 1
    return total


def pack_items(
    requests: Sequence[ReadRequest], pdu_size: int = DEFAULT_PDU, max_items: int = MAX_ITEMS
) -> list[list[ReadRequest]]:
    """`requests` grouped, in order, into multi-variable reads that fit one PDU each way."""
    packs: list[list[ReadRequest]] = []
    current: list[ReadRequest] = []
    for request in requests:
        candidate = [*current, request]
        if current and (
            len(candidate) > max_items
            or request_bytes(len(candidate)) > pdu_size
            or response_bytes(candidate) > pdu_size
        ):
            packs.append(current)
            candidate = [request]
        current = candidate
    if current:
        packs.append(current)
    return packs
