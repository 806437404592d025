"""A sink's store-and-forward outbox: every item stays in it until the sink acknowledged it.

Two tiers. New items go to memory; four times per `max_unsaved` (1 s) the items that have waited
three quarters of it and are still not acknowledged are appended to the sink's segment log on
disk, compressed (zlib level 1: a third to a tenth of the bytes for JSON and line protocol), in
one write, and fsynced once a second. A healthy sink acknowledges its items well within that
time, so they never touch the SD card; a sink that is down sends everything to disk once, in
batches. A `kill -9` therefore loses at most the last second (SPEC), and a power cut at most the
last two.

Items leave in sequence order: the disk backlog first, oldest first, then the memory tier, so
live data follows the backlog. Each item has a sequence number; the sink `take`s entries, sends
them, and `ack`s each one when its broker or database confirmed it. When a connection drops the
sink calls `rewind`: everything taken and not acknowledged is taken again, in the original order
(delivery is at least once). The delivery cursor is persisted with each flush, so a restart
resends at most the items acknowledged in the last second, never the whole log.

Bounded by `max_bytes` (the sink's share of `buffer.max_size`): when full, the oldest segment is
dropped (or, with nothing on disk, the oldest items in memory), counted in `dropped`, and logged
once per episode. A disk that cannot be written keeps items in memory, up to `MEMORY_LIMIT`;
beyond it the oldest are dropped the same way. Samples lost to damage or to a deleted segment
file are counted in `lost` (and in `dropped`: status shows one figure of what never arrives).

Gaps: a seq that is neither on disk nor in memory (acknowledged before it was written, or lost
with a damaged or deleted segment, which the segment log reports) is stepped over when the
reader finds it missing, so the delivery cursor keeps moving, delivered segments are deleted,
and the out-of-order acknowledgements (`_ahead`) stay bounded by what is in flight.

Items are whatever the sink encodes a batch into; `dump` and `load` turn them into bytes for
the disk and back.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from .segments import HEADER, AppendError, Record, SegmentLog

log = logging.getLogger(__name__)

T = TypeVar("T")

SYNC_EVERY = 1.0
"""Seconds between fsyncs of what was written: what a power cut may lose beyond the last
second. Fewer fsyncs let each page of a segment reach the card once, not once per write."""
MEMORY_LIMIT = 64 * 1024 * 1024
"""Bytes the memory tier may hold when the disk cannot be written (full, read-only card)."""


@dataclass(slots=True)
class Entry(Generic[T]):
    """One item of the outbox: sequence number, samples it carries, the item, its size."""

    seq: int
    samples: int
    item: T
    size: int
    born: float = 0.0
    """When it was put (time.monotonic()); 0 for entries read back from disk."""


@dataclass(slots=True)
class OutboxStatus:
    """Backlog and losses of one outbox, for status and metrics."""

    backlog: int = 0
    """Samples not yet acknowledged (on disk and in memory)."""
    backlog_bytes: int = 0
    disk_bytes: int = 0
    dropped: int = 0
    """Samples that will never be delivered: dropped because the buffer was full, or `lost`."""
    lost: int = 0
    """Of `dropped`, samples lost to damaged or deleted buffer files."""
    damaged: list[str] | None = None
    """Damaged data found and set aside, newest last."""
    disk_error: str | None = None


class Outbox(Generic[T]):
    """Durable, bounded, ordered outbox of one sink (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        *,
        name: str,
        max_bytes: int,
        dump: Callable[[T], bytes],
        load: Callable[[bytes], T],
        max_unsaved: float = 1.0,
        sync: bool = True,
    ) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self.max_unsaved = max_unsaved
        self._sync = sync
        self._dump = dump
        self._load = load
        segment_size = max(16 * 1024, min(32 * 1024 * 1024, max_bytes // 16))
        self.log = SegmentLog(directory, segment_size)
        self._memory: deque[Entry[T]] = deque()
        self._memory_bytes = 0
        self._next_seq = 1
        self._acked = 1
        """Every seq below it is acknowledged (or dropped)."""
        self._ahead: dict[int, int] = {}
        """Acknowledged out of order: seq -> samples."""
        self._gone: list[tuple[int, int]] = []
        """Sorted, disjoint [start, end) seq ranges above `_acked` that exist nowhere (found
        missing by the reader): `_acked` steps over them."""
        self._next_send = 1
        self._reader: Iterator[Record] | None = None
        self._reader_seq = 0
        self._ready = asyncio.Event()
        self.dropped = 0
        self._overflowing = False
        self.disk_error: str | None = None
        self.bytes_written = 0
        self._unsynced = False
        self._synced_at = 0.0
        """Bytes this outbox wrote to disk since it was opened (segments and cursor)."""

    # -- lifecycle --------------------------------------------------------------------

    def open(self) -> None:
        """Load what a previous run left on disk. Never raises: damaged data is set aside, and a
        folder that cannot be created leaves the outbox in memory only, said in status."""
        try:
            self.log.open()
        except OSError as exc:
            self.disk_error = f"cannot open the buffer folder {self.log.directory}: {exc}"
            log.error("%s: %s; data is kept in memory only", self.name, self.disk_error)
            return
        self._acked = max(1, self.log.acked)
        self._next_seq = max(self._acked, self.log.end_seq, 1)
        self._next_send = self._acked
        backlog = self.log.unacked_samples
        if backlog:
            log.warning(
                "%s: %d samples waiting in the buffer from before (%d bytes); sending them first",
                self.name,
                backlog,
                self.log.size,
            )
            self._ready.set()

    async def run(self) -> None:
        """Flush to disk four times per `max_unsaved` until cancelled."""
        while True:
            await asyncio.sleep(self.max_unsaved / 4)
            await self.flush(min_age=self.max_unsaved * 3 / 4)

    async def flush(self, min_age: float = 0.0) -> None:
        """Write the unacknowledged memory entries at least `min_age` s old to disk, fsync
        them, save the delivery cursor, reclaim delivered segments."""
        self._unsynced |= bool(self._persist(min_age))
        now = time.monotonic()
        if self._unsynced and self._sync and now - self._synced_at >= SYNC_EVERY:
            self._unsynced = False
            self._synced_at = now
            await asyncio.to_thread(self.log.sync)
        self._save_cursor()
        self._end_overflow_episode()

    def close(self) -> None:
        """Persist what is in memory (synchronously: the shutdown path) and close the files."""
        if self._persist() or self._unsynced:
            self.log.sync()
        self._save_cursor(force=True)
        self.log.close()

    # -- the pipeline's side ----------------------------------------------------------

    def put(self, item: T, samples: int, size: int) -> None:
        """Add one item of about `size` bytes once dumped (never blocks; drops the oldest when
        the buffer is full)."""
        entry = Entry(self._next_seq, samples, item, size + HEADER.size, time.monotonic())
        self._next_seq += 1
        self._memory.append(entry)
        self._memory_bytes += entry.size
        if self._memory_bytes + self.log.size > self.max_bytes:
            self._make_room()
        self._ready.set()

    # -- the sink's side --------------------------------------------------------------

    def __len__(self) -> int:
        """Entries not yet taken (an upper bound: some on disk may have been acked ahead)."""
        return max(0, self._next_seq - self._next_send)

    async def wait(self) -> None:
        """Return when there is something to take."""
        while not len(self):
            self._ready.clear()
            await self._ready.wait()

    def take(self, limit: int) -> list[Entry[T]]:
        """Up to `limit` entries not yet taken, oldest first."""
        out: list[Entry[T]] = []
        while len(out) < limit and self._next_send < self._next_seq:
            entry = self._from_disk() if self._next_send < self._memory_first() else None
            if entry is None:
                entry = self._from_memory()
                if entry is None:
                    break
            self._next_send = entry.seq + 1
            if entry.seq not in self._ahead:
                out.append(entry)
        if self._next_send >= self._next_seq:
            self._ready.clear()
        return out

    def ack(self, entry: Entry[T]) -> None:
        """The sink's peer confirmed `entry`: it leaves the outbox."""
        seq = entry.seq
        if seq < self._acked or seq in self._ahead:
            return
        segment = self.log.segment_of(seq)
        if segment is not None:
            segment.acked_samples += entry.samples
        if seq != self._acked:
            self._ahead[seq] = entry.samples
            return
        self._acked += 1
        self._advance()

    def _advance(self) -> None:
        """Move `_acked` over what was acknowledged ahead and what is gone; free memory."""
        ahead, gone = self._ahead, self._gone
        while True:
            if self._acked in ahead:
                del ahead[self._acked]
                self._acked += 1
            elif gone and gone[0][0] <= self._acked:
                self._acked = max(self._acked, gone.pop(0)[1])
            else:
                break
        memory = self._memory
        while memory and memory[0].seq < self._acked:
            self._memory_bytes -= memory.popleft().size

    def rewind(self) -> None:
        """Everything taken and not acknowledged will be taken again, in order."""
        if self._next_send != self._acked:
            self._next_send = self._acked
            self._close_reader()
        if len(self):
            self._ready.set()

    def status(self) -> OutboxStatus:
        """Backlog, bytes, drops and damage."""
        memory = sum(e.samples for e in self._memory if e.seq not in self._ahead)
        on_disk = self.log.size
        return OutboxStatus(
            backlog=memory + self.log.unacked_samples,
            backlog_bytes=self._memory_bytes + on_disk,
            disk_bytes=on_disk,
            dropped=self.dropped + self.log.lost,
            lost=self.log.lost,
            damaged=list(self.log.damage) or None,
            disk_error=self.disk_error,
        )

    # -- internals --------------------------------------------------------------------

    def _memory_first(self) -> int:
        return self._memory[0].seq if self._memory else self._next_seq

    def _from_memory(self) -> Entry[T] | None:
        memory = self._memory
        if not memory:
            return None
        index = self._next_send - memory[0].seq
        if index < 0:
            index = 0
        return memory[index] if index < len(memory) else None

    def _from_disk(self) -> Entry[T] | None:
        if self._reader is None or self._reader_seq != self._next_send:
            self._close_reader()
            self._reader = self.log.read_from(self._next_send)
        record = next(self._reader, None)
        if record is None:
            # Nothing more on disk below the memory tier (damage or drops left a gap).
            self._close_reader()
            self._step_over(self._next_send, self._memory_first())
            self._next_send = self._memory_first()
            return None
        if record.seq > self._next_send:
            self._step_over(self._next_send, record.seq)
        self._reader_seq = record.seq + 1
        try:
            item = self._load(zlib.decompress(record.payload))
        except Exception as exc:  # a record that passed its CRC but cannot be decoded
            self.log.damage.append(f"record seq {record.seq} could not be decoded: {exc}")
            log.error("%s: record %d undecodable (%s); skipped", self.name, record.seq, exc)
            self.log.lost += record.samples
            self._step_over(record.seq, record.seq + 1)
            self._next_send = record.seq + 1
            return self._from_disk()
        return Entry(record.seq, record.samples, item, len(record.payload))

    def _step_over(self, start: int, end: int) -> None:
        """Seqs [start, end) exist nowhere: never wait for their acknowledgement."""
        start = max(start, self._acked)
        if start >= end:
            return
        gone = self._gone
        if gone and gone[-1][1] >= start and gone[-1][0] <= end:  # found again after a rewind
            gone[-1] = (min(gone[-1][0], start), max(gone[-1][1], end))
        elif not gone or gone[-1][0] < start:
            gone.append((start, end))
        else:  # found below a later range (rare): keep the list sorted and disjoint
            gone.append((start, end))
            gone.sort()
            merged = [gone[0]]
            for a, b in gone[1:]:
                if a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                else:
                    merged.append((a, b))
            gone[:] = merged
        self._advance()

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()  # type: ignore[attr-defined]
            self._reader = None

    def _persist(self, min_age: float = 0.0) -> int:
        """Append the unacknowledged memory entries at least `min_age` s old to disk.

        Returns the bytes written. Entries stay in seq order: the oldest go to disk, the
        younger stay in memory after them.
        """
        memory = self._memory
        if not memory:
            return 0
        born_before = time.monotonic() - min_age
        count = 0
        for entry in memory:
            if entry.born > born_before:
                break
            count += 1
        if not count:
            return 0
        ahead = self._ahead
        dump = self._dump
        records = [
            Record(e.seq, e.samples, zlib.compress(dump(e.item), 1))
            for e in (memory[i] for i in range(count))
            if e.seq not in ahead
        ]
        failure: OSError | None = None
        try:
            written = self.log.append(records) if records else 0
        except AppendError as exc:
            failure, written = exc, exc.written
            # The records stored are on disk; memory keeps the rest, in order, for next time.
            count = 0
            if exc.stored:
                last = records[exc.stored - 1].seq
                while count < len(memory) and memory[count].seq <= last:
                    count += 1
        except OSError as exc:  # not from a write: nothing was stored
            failure, written, count = exc, 0, 0
        for _ in range(count):
            self._memory_bytes -= memory.popleft().size
        self.bytes_written += written
        if failure is not None:
            if self.disk_error is None:
                log.error(
                    "%s: cannot write the buffer (%s); keeping %d bytes in memory, retrying",
                    self.name,
                    failure,
                    self._memory_bytes,
                )
            self.disk_error = f"cannot write the buffer: {failure}"
            if self._memory_bytes > min(MEMORY_LIMIT, self.max_bytes):
                self._make_room()
            return written
        self._disk_recovered()
        if self.log.size > self.max_bytes:  # the sinks' size estimates were a little short
            self._make_room()
        if self._reader is not None and self._next_send < self._next_seq:
            self._close_reader()
        return written

    def _disk_recovered(self) -> None:
        if self.disk_error is not None:
            log.warning("%s: the buffer can be written again (was: %s)", self.name, self.disk_error)
            self.disk_error = None

    def _save_cursor(self, force: bool = False) -> None:
        try:
            written = self.log.save_cursor(self._acked, force)
            self.bytes_written += written
            if written and self.disk_error is not None and not self._memory_waiting():
                self._disk_recovered()
        except OSError as exc:
            if self.disk_error is None:
                log.error("%s: cannot save the delivery cursor: %s", self.name, exc)
            self.disk_error = f"cannot save the delivery cursor: {exc}"
        for seq in [s for s in self._ahead if s < self._acked]:
            del self._ahead[seq]

    def _memory_waiting(self) -> bool:
        """Whether memory holds items that should have gone to disk by now."""
        return bool(self._memory) and self._memory[0].born < time.monotonic() - self.max_unsaved

    def _make_room(self) -> None:
        """Drop the oldest data until the outbox fits its bounds again."""
        dropped_samples = 0
        while self._memory_bytes + self.log.size > self.max_bytes or (
            self.disk_error is not None and self._memory_bytes > min(MEMORY_LIMIT, self.max_bytes)
        ):
            segment = self.log.drop_oldest() if self.log.segments else None
            if segment is not None:
                dropped_samples += segment.unacked_samples
                last = segment.last_seq
            elif len(self._memory) > 1:
                entry = self._memory.popleft()
                self._memory_bytes -= entry.size
                if entry.seq >= self._acked and entry.seq not in self._ahead:
                    dropped_samples += entry.samples
                last = entry.seq
            else:
                break
            if last >= self._acked:
                self._acked = last + 1
            if self._next_send < self._acked:
                self._next_send = self._acked
                self._close_reader()
        self.dropped += dropped_samples
        if dropped_samples and not self._overflowing:
            self._overflowing = True
            log.warning(
                "%s: buffer full (%d bytes): dropping the oldest data until the sink catches up",
                self.name,
                self.max_bytes,
            )

    def _end_overflow_episode(self) -> None:
        if self._overflowing and self._memory_bytes + self.log.size < self.max_bytes // 2:
            self._overflowing = False
            log.warning(
                "%s: buffer below half full again; %d samples dropped", self.name, self.dropped
            )
