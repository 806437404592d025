"""The on-disk half of a sink's outbox: an append-only log of records in segment files.

Why a segment log and not SQLite: on an SD card every byte written wears the card. A record is
written once, by one `write()` per flush (about a second of data), and a whole segment file is
deleted once every record in it is acknowledged: no WAL written twice, no pages rewritten by
deletes, no vacuum. Space comes back segment by segment as delivery advances, so the files never
grow without end, and a full buffer drops its oldest segment (SPEC: "oldest first").

Layout of a sink's folder (`{buffer.path}/{sink}/`):

    0000000000000001.seg   records with seq >= 1, in seq order (the name is its first seq)
    00000000000004d2.seg   ...
    acked                  the delivery cursor: every record with seq < it was acknowledged
    damaged/               unreadable tails set aside at start-up or while reading

A record is a 20-byte header `<IIQI` (payload length, CRC-32, seq, samples) and its payload. The
CRC covers seq, samples and the payload, so a torn write (power cut) or a flipped bit is found.

Start-up never blocks on damage: it walks the record headers of every segment (cheap: one read
and one seek a record) and checks the CRC of every record of the newest segment, the one a power
cut tears. Whatever follows a broken record is moved to `damaged/` and the segment truncated
there; readers check every CRC again as they read, and set aside the rest of a segment whose
record fails. Every such event is kept in `damage` for status and logged loudly.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HEADER = struct.Struct("<IIQI")
"""Payload length, CRC-32 of (seq, samples, payload), seq, samples."""
CURSOR = struct.Struct("<QI")
"""The `acked` file: seq, CRC-32 of seq."""
CURSOR_EVERY = 1.0
"""Seconds between writes of the delivery cursor while a backlog drains."""
MAX_RECORD = 64 * 1024 * 1024
"""A header claiming a larger payload is damage, not data."""
SUFFIX = ".seg"


@dataclass(slots=True)
class Record:
    """One stored item: its sequence number, the samples it carries, and its encoded bytes."""

    seq: int
    samples: int
    payload: bytes


def pack(record: Record) -> bytes:
    """A record's bytes on disk: header, then payload."""
    crc = zlib.crc32(record.payload, zlib.crc32(HEADER.pack(0, 0, record.seq, record.samples)[8:]))
    return HEADER.pack(len(record.payload), crc, record.seq, record.samples) + record.payload


def _crc_ok(header: tuple[int, int, int, int], payload: bytes) -> bool:
    _length, crc, seq, samples = header
    expected = zlib.crc32(payload, zlib.crc32(HEADER.pack(0, 0, seq, samples)[8:]))
    return crc == expected


@dataclass(slots=True)
class Segment:
    """One segment file and what start-up and appends learnt about it."""

    path: Path
    first_seq: int
    last_seq: int = -1
    """Seq of its last record; -1 while empty."""
    size: int = 0
    records: int = 0
    samples: int = 0
    acked_samples: int = 0
    """Samples of records in it that were acknowledged (those below the cursor at start-up,
    and those the outbox reported since)."""

    @property
    def unacked_samples(self) -> int:
        """Samples in it still waiting for delivery."""
        return self.samples - self.acked_samples

    @property
    def empty(self) -> bool:
        """Whether it holds no record."""
        return self.records == 0


class SegmentLog:
    """Segment files of one sink: append, read in order, delete what is delivered, drop the oldest.

    Not thread-safe: the owning `Outbox` calls it from the event loop's thread only.
    """

    def __init__(self, directory: Path, segment_size: int) -> None:
        self.directory = directory
        self.segment_size = segment_size
        self.segments: list[Segment] = []
        self.acked = 0
        """The persisted cursor: every seq below it has been acknowledged."""
        self.damage: list[str] = []
        """What was found damaged and set aside, for status; newest last."""
        self._active: Segment | None = None
        self._fd: int | None = None
        self._cursor_written = 0
        self._cursor_time = 0.0
        self._cursor_fd: int | None = None

    # -- opening ----------------------------------------------------------------------

    def open(self) -> None:
        """Load the folder: cursor, segments, damage set aside. Never raises for bad data."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.acked = self._cursor_written = self._read_cursor()
        paths = sorted(self.directory.glob(f"*{SUFFIX}"))
        for index, path in enumerate(paths):
            try:
                first = int(path.stem, 16)
            except ValueError:
                self._set_aside(path, 0, f"{path.name}: not a segment name")
                continue
            segment = Segment(path, first)
            self._walk(segment, verify=index == len(paths) - 1)
            if segment.empty or segment.last_seq < self.acked:
                path.unlink(missing_ok=True)
                continue
            self.segments.append(segment)

    def _walk(self, segment: Segment, verify: bool) -> None:
        """Count a segment's records from their headers; set aside what follows a broken one."""
        segment.records = segment.samples = segment.acked_samples = 0
        segment.last_seq = -1
        good = 0
        previous = -1
        try:
            with segment.path.open("rb") as f:
                total = os.fstat(f.fileno()).st_size
                while good < total:
                    raw = f.read(HEADER.size)
                    problem = None
                    if len(raw) < HEADER.size:
                        problem = "truncated record header"
                    else:
                        header = HEADER.unpack(raw)
                        length, _crc, seq, samples = header
                        if length > MAX_RECORD or good + HEADER.size + length > total:
                            problem = "truncated record"
                        elif seq <= previous or seq < segment.first_seq:
                            problem = f"record seq {seq} out of order"
                        elif verify:
                            if not _crc_ok(header, f.read(length)):
                                problem = f"record seq {seq} fails its checksum"
                        else:
                            f.seek(length, os.SEEK_CUR)
                    if problem is not None:
                        self._set_aside(segment.path, good, f"{segment.path.name}: {problem}")
                        break
                    previous = seq
                    good += HEADER.size + length
                    segment.records += 1
                    segment.samples += samples
                    if seq < self.acked:
                        segment.acked_samples += samples
                    segment.last_seq = seq
        except OSError as exc:
            self._set_aside(segment.path, 0, f"{segment.path.name}: unreadable: {exc}")
            segment.records = segment.samples = segment.acked_samples = 0
            segment.last_seq = -1
            good = 0
        segment.size = good

    def _set_aside(self, path: Path, keep: int, what: str) -> None:
        """Move the bytes of `path` from offset `keep` on to `damaged/`, truncate it there."""
        damaged = self.directory / "damaged"
        try:
            damaged.mkdir(exist_ok=True)
            target = damaged / f"{path.name}.{keep}"
            with path.open("rb") as src:
                src.seek(keep)
                target.write_bytes(src.read())
            if keep == 0:
                path.unlink()
            else:
                os.truncate(path, keep)
            moved = target.stat().st_size
            message = f"{what}: {moved} bytes set aside in {target}"
        except OSError as exc:
            message = f"{what}: could not set it aside ({exc})"
        self.damage.append(message)
        log.error("buffer %s: damaged data: %s", self.directory, message)

    def _read_cursor(self) -> int:
        path = self.directory / "acked"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            self.damage.append(f"acked: unreadable ({exc}); everything stored is sent again")
            return 0
        if len(raw) == CURSOR.size:
            seq, crc = CURSOR.unpack(raw)
            if crc == zlib.crc32(raw[:8]):
                return seq
        self.damage.append("acked: damaged; everything stored is sent again (duplicates possible)")
        log.error("buffer %s: the delivery cursor is damaged; resending all", self.directory)
        return 0

    # -- writing ----------------------------------------------------------------------

    def append(self, records: list[Record]) -> int:
        """Append records (seq increasing, above every stored one) in one write per segment.

        Returns the bytes written. Raises OSError (disk full, read-only card): the caller keeps
        the records in memory and tries again later.
        """
        written = 0
        start = 0
        while start < len(records):
            segment = self._writable(records[start].seq)
            chunk: list[bytes] = []
            size = segment.size
            end = start
            while end < len(records) and (end == start or size < self.segment_size):
                packed = pack(records[end])
                chunk.append(packed)
                size += len(packed)
                end += 1
            data = b"".join(chunk)
            assert self._fd is not None
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            for record in records[start:end]:
                segment.records += 1
                segment.samples += record.samples
                segment.last_seq = record.seq
            segment.size = size
            written += len(data)
            start = end
        return written

    def _writable(self, seq: int) -> Segment:
        """The active segment, or a new one starting at `seq` when it is full or missing."""
        active = self._active
        if active is not None and active.size < self.segment_size:
            return active
        self._close_active()
        path = self.directory / f"{seq:016x}{SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        segment = Segment(path, seq)
        self.segments.append(segment)
        self._active = segment
        return segment

    def _close_active(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._active = None

    def sync(self) -> None:
        """fsync the active segment (blocking; call it off the event loop)."""
        fd = self._fd
        if fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(fd)

    def save_cursor(self, acked: int, force: bool = False) -> int:
        """Delete every fully delivered segment and persist the delivery cursor.

        The cursor is written only while segments remain (without them it means nothing), at
        most once per `CURSOR_EVERY` seconds unless `force`, and in place: 12 bytes, one page,
        no new inode. A crash between two writes resends what was acknowledged in between.
        Returns the bytes written.
        """
        self.acked = max(self.acked, acked)
        while self.segments and self.segments[0].last_seq < self.acked:
            self._delete(self.segments[0])
        if not self.segments or self.acked == self._cursor_written:
            return 0
        now = time.monotonic()
        if not force and now - self._cursor_time < CURSOR_EVERY:
            return 0
        raw = CURSOR.pack(self.acked, zlib.crc32(self.acked.to_bytes(8, "little")))
        if self._cursor_fd is None:
            path = self.directory / "acked"
            self._cursor_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        os.pwrite(self._cursor_fd, raw, 0)
        self._cursor_written = self.acked
        self._cursor_time = now
        return len(raw)

    def _delete(self, segment: Segment) -> None:
        if segment is self._active:
            self._close_active()
        self.segments.remove(segment)
        segment.path.unlink(missing_ok=True)

    def drop_oldest(self) -> Segment | None:
        """Delete the oldest segment (the buffer is full); None when nothing is stored."""
        if not self.segments:
            return None
        segment = self.segments[0]
        self._delete(segment)
        return segment

    def close(self) -> None:
        """Close the active file and the cursor."""
        self._close_active()
        if self._cursor_fd is not None:
            os.close(self._cursor_fd)
            self._cursor_fd = None

    # -- reading ----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes stored in segment files."""
        return sum(s.size for s in self.segments)

    @property
    def end_seq(self) -> int:
        """One past the last stored seq (0 when empty)."""
        for segment in reversed(self.segments):
            if not segment.empty:
                return segment.last_seq + 1
        return 0

    def read_from(self, seq: int) -> Iterator[Record]:
        """Stored records with seq >= `seq`, in order, each checked against its CRC.

        A record that fails its check ends its segment: the rest is set aside, reading goes on
        with the next segment. Segments deleted while iterating are skipped.
        """
        firsts = [s.first_seq for s in self.segments]
        index = max(0, bisect.bisect_right(firsts, seq) - 1)
        for segment in list(self.segments[index:]):
            if segment.last_seq < seq:
                continue
            yield from self._read_segment(segment, seq)

    def _read_segment(self, segment: Segment, seq: int) -> Iterator[Record]:
        offset = 0
        try:
            f = segment.path.open("rb")
        except OSError:
            return
        with f:
            while offset < segment.size:
                f.seek(offset)
                raw = f.read(HEADER.size)
                if len(raw) < HEADER.size:
                    break
                header = HEADER.unpack(raw)
                length, _crc, rseq, samples = header
                if rseq < seq:
                    offset += HEADER.size + length
                    continue
                payload = f.read(length)
                if len(payload) < length or not _crc_ok(header, payload):
                    self._damaged_while_reading(segment, offset, rseq)
                    return
                offset += HEADER.size + length
                yield Record(rseq, samples, payload)
                if segment not in self.segments:
                    return

    def _damaged_while_reading(self, segment: Segment, offset: int, seq: int) -> None:
        if segment is self._active:
            self._close_active()
        self._set_aside(segment.path, offset, f"{segment.path.name}: record seq {seq} is damaged")
        self._walk(segment, verify=False)
        if segment.empty:
            self.segments.remove(segment)
            segment.path.unlink(missing_ok=True)

    def segment_of(self, seq: int) -> Segment | None:
        """The stored segment that would hold `seq`, if any."""
        firsts = [s.first_seq for s in self.segments]
        index = bisect.bisect_right(firsts, seq) - 1
        if index < 0:
            return None
        segment = self.segments[index]
        return segment if seq <= segment.last_seq else None

    @property
    def unacked_samples(self) -> int:
        """Samples stored and not yet acknowledged."""
        return sum(s.unacked_samples for s in self.segments)
