"""The read planner: the fewest Modbus requests that read every signal of a device.

Signals of one table are sorted by address and merged greedily into blocks: the next signal
joins the current block when the unused registers between them number at most `max_gap` (0:
only touching or overlapping signals merge) and the block stays within `max_registers` (bits:
`max_bits`, the protocol's 2000). Greedy extension is optimal here: every block starts at the
first signal not yet covered and reaches as far as the limits allow.

Devices refuse some addresses (exception 02). When a block fails, `split_failed` cuts it into
runs that cover only addresses some signal occupies; the addresses it read through are fed back
as `avoid` so no later block reads through them, and a signal that fails on its own is
`isolate`d (read alone) so it cannot take good neighbours down with it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from gateway.config.models import ModbusSignal

BIT_TABLES = frozenset({"coil", "discrete"})
MAX_BITS = 2000
MAX_REGISTERS = 125


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: `count` registers or bits of `table` from `address`, and the indexes of
    the signals (in the device's signal list) that it covers."""

    table: str
    address: int
    count: int
    members: tuple[int, ...]

    @property
    def end(self) -> int:
        """One past the last address read."""
        return self.address + self.count


def _limit(table: str, max_registers: int, max_bits: int) -> int:
    return max_bits if table in BIT_TABLES else max_registers


def plan_reads(
    signals: Sequence[ModbusSignal],
    max_registers: int = MAX_REGISTERS,
    max_gap: int = 10,
    max_bits: int = MAX_BITS,
    avoid: Collection[tuple[str, int]] = (),
    isolate: Collection[int] = (),
) -> list[ReadRequest]:
    """The read requests for `signals`, by table then address.

    Raises ValueError when a signal is larger than the request limit (a string longer than
    `max_registers`).
    """
    by_table: dict[str, list[int]] = {}
    for index, signal in enumerate(signals):
        limit = _limit(signal.table, max_registers, max_bits)
        if signal.size > limit:
            raise ValueError(
                f"signal {signal.name} spans {signal.size} registers, more than one request "
                f"may read ({limit}); lower its length or raise max_registers"
            )
        by_table.setdefault(signal.table, []).append(index)
    avoided = frozenset(avoid)
    isolated = frozenset(isolate)
    requests: list[ReadRequest] = []
    for table in sorted(by_table):
        limit = _limit(table, max_registers, max_bits)
        indexes = sorted(by_table[table], key=lambda i: (signals[i].address, signals[i].size))
        alone = [i for i in indexes if i in isolated]
        shared = [i for i in indexes if i not in isolated]
        requests.extend(
            ReadRequest(table, signals[i].address, signals[i].size, (i,)) for i in alone
        )
        requests.extend(_merge(table, shared, signals, limit, max_gap, avoided))
    requests.sort(key=lambda r: (r.table, r.address, r.count))
    return requests


def _merge(
    table: str,
    indexes: list[int],
    signals: Sequence[ModbusSignal],
    limit: int,
    max_gap: int,
    avoided: frozenset[tuple[str, int]],
) -> list[ReadRequest]:
    blocks: list[ReadRequest] = []
    start = end = -1
    members: list[int] = []
    for i in indexes:
        s_start = signals[i].address
        s_end = s_start + signals[i].size
        if members:
            gap = s_start - end
            fits = max(end, s_end) - start <= limit
            clear = gap <= 0 or (
                gap <= max_gap and not any((table, a) in avoided for a in range(end, s_start))
            )
            if fits and clear:
                end = max(end, s_end)
                members.append(i)
                continue
            blocks.append(ReadRequest(table, start, end - start, tuple(members)))
        start, end, members = s_start, s_end, [i]
    if members:
        blocks.append(ReadRequest(table, start, end - start, tuple(members)))
    return blocks


def _runs(
    request: ReadRequest, signals: Sequence[ModbusSignal], *, touching: bool
) -> list[ReadRequest]:
    """The request's members grouped into runs of overlapping signals (and of touching ones,
    when `touching`), each run as a request covering just its signals."""
    ordered = sorted(request.members, key=lambda i: signals[i].address)
    runs: list[ReadRequest] = []
    start = end = -1
    members: list[int] = []
    for i in ordered:
        s_start, s_end = signals[i].address, signals[i].address + signals[i].size
        if members and (s_start < end or (touching and s_start == end)):
            end = max(end, s_end)
            members.append(i)
            continue
        if members:
            runs.append(ReadRequest(request.table, start, end - start, tuple(members)))
        start, end, members = s_start, s_end, [i]
    if members:
        runs.append(ReadRequest(request.table, start, end - start, tuple(members)))
    return runs


def split_failed(request: ReadRequest, signals: Sequence[ModbusSignal]) -> list[ReadRequest]:
    """Smaller requests to retry after `request` answered with an exception.

    First drop the gaps (runs of touching signals); a block without gaps is split per signal
    (signals that share registers stay together). Returns `[request]` when it cannot be split.
    """
    runs = _runs(request, signals, touching=True)
    if len(runs) > 1 or (runs and runs[0].count < request.count):
        return runs
    groups = _runs(request, signals, touching=False)
    return groups if len(groups) > 1 else [request]


def gap_addresses(request: ReadRequest, signals: Sequence[ModbusSignal]) -> set[tuple[str, int]]:
    """The addresses `request` reads that no member signal occupies."""
    used: set[int] = set()
    for i in request.members:
        used.update(range(signals[i].address, signals[i].address + signals[i].size))
    return {(request.table, a) for a in range(request.address, request.end) if a not in used}


def minimum_requests(
    signals: Sequence[ModbusSignal], max_registers: int = MAX_REGISTERS, max_bits: int = MAX_BITS
) -> int:
    """The fewest requests that could read `signals` if any gap could be read through: the
    lower bound the status compares the plan against."""
    return len(plan_reads(signals, max_registers, max_gap=65536, max_bits=max_bits))
