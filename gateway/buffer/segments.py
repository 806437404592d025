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

A record (`records`) is a 20-byte header and its payload, checked by a CRC-32.

Start-up never blocks on damage: it walks the record headers of every segment (cheap: one read
and one seek a record) and checks the CRC of every record of the newest segment, the one a power
cut tears. Whatever follows a broken record is moved to `damaged/` and the segment truncated
there; readers check every CRC again as they read, and set aside the rest of a segment whose
record fails. Every such event is kept in `damage` for status and logged loudly.

Coverage is contiguous: a new segment is named one past the last seq of the segment before it,
and the cursor is written before any segment is deleted. So a hole at start-up (the cursor
below the first segment, or a segment whose name is not one past the previous one's last seq)
means a segment file was deleted or set aside: it is reported once, its samples counted in
`lost` where known, and healed on disk (the cursor moved, or the next segment renamed) so the
next start-up does not report it again. Seqs missing inside a segment are normal (items
acknowledged before they were written) and are stepped over by the reader's caller.

A failed append (disk full, I/O error) leaves the segment as it was: the partial write is
truncated away, or, when even that fails, the segment is sealed and the next append starts a
new one. `AppendError` tells the caller how many records did reach the disk.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .records import CURSOR, HEADER, MAX_RECORD, AppendError, Record, crc_ok, pack

__all__ = ["HEADER", "AppendError", "Record", "Segment", "SegmentLog", "pack"]

log = logging.getLogger(__name__)

CURSOR_EVERY = 1.0
"""Seconds between writes of the delivery cursor while a backlog drains."""
SUFFIX = ".seg"


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
        """What was found damaged, missing or set aside, for status; newest last."""
        self.lost = 0
        """Samples known lost to damage or deleted segment files since opened."""
        self._active: Segment | None = None
        self._fd: int | None = None
        self._cursor_written = 0
        self._cursor_time = 0.0
        self._cursor_fd: int | None = None

    # -- opening ----------------------------------------------------------------------

    def open(self) -> None:
        """Load the folder: cursor, segments, damage set aside, holes reported and healed.

        Never raises for bad data.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        cursor_damaged = False
        self.acked = self._cursor_written = self._read_cursor()
        if self.acked < 0:
            cursor_damaged, self.acked = True, 0
            self._cursor_written = -1  # rewritten below, once what to resend is known
        paths = sorted(self.directory.glob(f"*{SUFFIX}"))
        torn: set[int] = set()
        for index, path in enumerate(paths):
            try:
                first = int(path.stem, 16)
            except ValueError:
                self._set_aside(path, 0, f"{path.name}: not a segment name")
                continue
            segment = Segment(path, first)
            if self._walk(segment, verify=index == len(paths) - 1):
                torn.add(id(segment))
            if segment.empty or segment.last_seq < self.acked:
                path.unlink(missing_ok=True)
                continue
            self.segments.append(segment)
        self._check_holes(torn)
        if cursor_damaged:
            # Resend everything stored, and say so once: the rewritten cursor is sound.
            if self.segments:
                self.acked = self.segments[0].first_seq
            with contextlib.suppress(OSError):
                self._write_cursor()

    def _check_holes(self, torn: set[int]) -> None:
        """Report and heal seqs missing between the cursor and the segments, or between two."""
        previous: Segment | None = None
        for segment in list(self.segments):
            expected = previous.last_seq + 1 if previous is not None else self.acked
            if expected and segment.first_seq > expected:
                if previous is None or id(previous) not in torn:  # else reported as damage
                    self._report_missing(expected, segment.first_seq, None)
                self._heal(previous, segment)
            previous = segment

    def _report_missing(self, first: int, end: int, samples: int | None) -> None:
        what = f"records {first}..{end - 1}" if end > first + 1 else f"record {first}"
        known = f"{samples} samples" if samples is not None else "their samples"
        message = f"{what} missing (a segment file was deleted): {known} lost"
        if samples:
            self.lost += samples
        self.damage.append(message)
        log.error("buffer %s: %s", self.directory, message)

    def _heal(self, previous: Segment | None, following: Segment | None) -> None:
        """Make the coverage contiguous again after a reported hole before `following`.

        With nothing before it, the cursor moves to where stored data starts again; else the
        following segment is renamed to start one past `previous`. Either way the next start-up
        finds no hole to report again.
        """
        try:
            if previous is None:
                start = following.first_seq if following is not None else self.acked
                if start > self.acked:
                    self.acked = start
                    self._write_cursor()
            elif following is not None:
                first = previous.last_seq + 1
                path = following.path.with_name(f"{first:016x}{SUFFIX}")
                following.path.rename(path)
                following.path = path
                following.first_seq = first
        except OSError as exc:
            log.warning("buffer %s: could not record the hole (%s)", self.directory, exc)

    def _walk(self, segment: Segment, verify: bool) -> bool:
        """Count a segment's records from their headers; set aside what follows a broken one.

        Returns whether something was set aside.
        """
        segment.records = segment.samples = segment.acked_samples = 0
        segment.last_seq = -1
        good = 0
        previous = -1
        damaged = False
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
                            if not crc_ok(header, f.read(length)):
                                problem = f"record seq {seq} fails its checksum"
                        else:
                            f.seek(length, os.SEEK_CUR)
                    if problem is not None:
                        self.lost += self._set_aside(
                            segment.path, good, f"{segment.path.name}: {problem}"
                        )
                        damaged = True
                        break
                    previous = seq
                    good += HEADER.size + length
                    segment.records += 1
                    segment.samples += samples
                    if seq < self.acked:
                        segment.acked_samples += samples
                    segment.last_seq = seq
        except OSError as exc:
            self.lost += self._set_aside(segment.path, 0, f"{segment.path.name}: unreadable: {exc}")
            segment.records = segment.samples = segment.acked_samples = 0
            segment.last_seq = -1
            good = 0
            damaged = True
        segment.size = good
        return damaged

    def _set_aside(self, path: Path, keep: int, what: str) -> int:
        """Move the bytes of `path` from offset `keep` on to `damaged/`, truncate it there.

        Returns the unacknowledged samples of the whole records its headers still describe
        (what is lost, as far as can be told), and says it in `damage` and the log.
        """
        damaged = self.directory / "damaged"
        lost = 0
        try:
            damaged.mkdir(exist_ok=True)
            target = damaged / f"{path.name}.{keep}"
            with path.open("rb") as src:
                src.seek(keep)
                tail = src.read()
            lost = self._samples_in(tail)
            target.write_bytes(tail)
            if keep == 0:
                path.unlink()
            else:
                os.truncate(path, keep)
            message = f"{what}: {len(tail)} bytes set aside in {target}"
        except OSError as exc:
            message = f"{what}: could not set it aside ({exc})"
        if lost:
            message += f"; about {lost} samples lost"
        self.damage.append(message)
        log.error("buffer %s: damaged data: %s", self.directory, message)
        return lost

    def _samples_in(self, data: bytes) -> int:
        """Unacknowledged samples of the records whose headers can still be read in `data`."""
        samples = offset = 0
        while offset + HEADER.size <= len(data):
            length, _crc, seq, count = HEADER.unpack_from(data, offset)
            if length > MAX_RECORD or offset + HEADER.size + length > len(data):
                break
            if seq >= self.acked:
                samples += count
            offset += HEADER.size + length
        return samples

    def _read_cursor(self) -> int:
        """The persisted cursor; 0 without one; -1 when it is damaged (said in `damage`)."""
        path = self.directory / "acked"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            problem = f"unreadable ({exc})"
        else:
            if len(raw) == CURSOR.size:
                seq, crc = CURSOR.unpack(raw)
                if crc == zlib.crc32(raw[:8]):
                    return seq
            problem = "damaged"
        message = f"acked: {problem}; everything stored is sent again (duplicates possible)"
        self.damage.append(message)
        log.error("buffer %s: the delivery cursor is %s; resending all", self.directory, problem)
        return -1

    # -- writing ----------------------------------------------------------------------

    def append(self, records: list[Record]) -> int:
        """Append records (seq increasing, above every stored one) in one write per segment.

        Every seq below the first record that is not stored must be acknowledged or dropped.
        Returns the bytes written. Raises `AppendError` (disk full, read-only card) with the
        log as it was before the failed write: the caller keeps the records not stored in
        memory and tries again later.
        """
        written = 0
        start = 0
        while start < len(records):
            try:
                segment = self._writable(records[start].seq)
            except OSError as exc:
                raise AppendError(exc, start, written) from exc
            chunk: list[bytes] = []
            size = segment.size
            end = start
            while end < len(records) and (end == start or size < self.segment_size):
                packed = pack(records[end])
                chunk.append(packed)
                size += len(packed)
                end += 1
            data = b"".join(chunk)
            try:
                self._write_all(data)
            except OSError as exc:
                self._undo(segment)
                raise AppendError(exc, start, written) from exc
            for record in records[start:end]:
                segment.records += 1
                segment.samples += record.samples
                segment.last_seq = record.seq
            segment.size = size
            written += len(data)
            start = end
        return written

    def _write_all(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def _undo(self, segment: Segment) -> None:
        """Cut a failed write off the active segment; seal it if even that fails."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, segment.size)
        except OSError as exc:
            # The torn bytes stay past `size`: readers never look there, and no append may
            # follow them. The next start-up sets them aside as a truncated record.
            log.error(
                "buffer %s: cannot cut a failed write off %s (%s); starting a new segment",
                self.directory,
                segment.path.name,
                exc,
            )
            self._close_active()
            if segment.empty:
                self.segments.remove(segment)
                with contextlib.suppress(OSError):
                    segment.path.unlink()

    def _writable(self, seq: int) -> Segment:
        """The active segment, or a new one when it is full or missing.

        A new segment is named one past the last seq of the segment before it (so coverage is
        contiguous, see the module docstring); the first one after an empty log is named `seq`,
        and the cursor moves there first, so an old cursor cannot look like a hole.
        """
        active = self._active
        if active is not None and active.size < self.segment_size:
            return active
        self._close_active()
        previous = self.segments[-1] if self.segments else None
        if previous is None:
            if seq > self.acked:
                self.acked = seq
            if self._cursor_written and self.acked != self._cursor_written:
                self._write_cursor()
        first = previous.last_seq + 1 if previous is not None else seq
        path = self.directory / f"{first:016x}{SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        segment = Segment(path, first)
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
        """Persist the delivery cursor, then delete every fully delivered segment.

        The cursor is written only while segments remain (without them it means nothing), at
        most once per `CURSOR_EVERY` seconds unless `force` or a segment can be deleted, and
        in place: 12 bytes, one page, no new inode. It is written before a segment is
        deleted, so a deleted segment never looks like a hole at start-up. A crash between two
        writes resends what was acknowledged in between. Returns the bytes written.
        """
        self.acked = max(self.acked, acked)
        written = 0
        if self.segments and self.acked != self._cursor_written:
            deletable = self.segments[0].last_seq < self.acked
            if force or deletable or time.monotonic() - self._cursor_time >= CURSOR_EVERY:
                written = self._write_cursor()
        while self.segments and self.segments[0].last_seq < self._cursor_written:
            self._delete(self.segments[0])
        return written

    def _write_cursor(self) -> int:
        raw = CURSOR.pack(self.acked, zlib.crc32(self.acked.to_bytes(8, "little")))
        if self._cursor_fd is None:
            path = self.directory / "acked"
            self._cursor_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        os.pwrite(self._cursor_fd, raw, 0)
        self._cursor_written = self.acked
        self._cursor_time = time.monotonic()
        return len(raw)

    def _delete(self, segment: Segment) -> None:
        if segment is self._active:
            self._close_active()
        self.segments.remove(segment)
        segment.path.unlink(missing_ok=True)

    def drop_oldest(self) -> Segment | None:
        """Delete the oldest segment (the buffer is full); None when nothing is stored.

        The cursor moves past it first (best effort: the disk may be failing), so the drop,
        already counted by the caller, is not reported again as a hole at start-up.
        """
        if not self.segments:
            return None
        segment = self.segments[0]
        self.acked = max(self.acked, segment.last_seq + 1)
        with contextlib.suppress(OSError):
            self._write_cursor()
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
        except OSError as exc:
            self._missing_while_reading(segment, exc)
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
                if len(payload) < length or not crc_ok(header, payload):
                    self._damaged_while_reading(segment, offset, rseq)
                    return
                offset += HEADER.size + length
                yield Record(rseq, samples, payload)
                if segment not in self.segments:
                    return

    def _damaged_while_reading(self, segment: Segment, offset: int, seq: int) -> None:
        if segment is self._active:
            self._close_active()
        before = segment.unacked_samples
        acked_before = segment.acked_samples
        self._set_aside(segment.path, offset, f"{segment.path.name}: record seq {seq} is damaged")
        self._walk(segment, verify=False)
        # What the outbox acknowledged since start-up is not in the file: keep it, bounded by
        # what remains. The samples that left with the set-aside tail are the loss.
        segment.acked_samples = min(segment.samples, max(segment.acked_samples, acked_before))
        self.lost += max(0, before - segment.unacked_samples)
        self._close_hole(segment)

    def _missing_while_reading(self, segment: Segment, exc: OSError) -> None:
        """A segment file vanished (deleted by hand, a cleaner): report it once, count it."""
        if segment not in self.segments:
            return
        if segment is self._active:
            self._close_active()
        end = segment.last_seq + 1
        self._report_missing(max(segment.first_seq, self.acked), end, segment.unacked_samples)
        log.error("buffer %s: %s: %s", self.directory, segment.path.name, exc)
        segment.records = segment.samples = segment.acked_samples = segment.size = 0
        self._close_hole(segment)

    def _close_hole(self, segment: Segment) -> None:
        """After `segment` lost records: drop it when empty, heal the hole it leaves."""
        index = self.segments.index(segment)
        previous = self.segments[index - 1] if index else None
        if segment.empty:
            self.segments.remove(segment)
            segment.path.unlink(missing_ok=True)
            following = self.segments[index] if index < len(self.segments) else None
            if previous is None and following is None:
                # Nothing stored any more: nothing below the outbox's next seq is wanted.
                self.acked = max(self.acked, segment.last_seq + 1, segment.first_seq)
            self._heal(previous, following)
        elif index + 1 < len(self.segments):
            self._heal(segment, self.segments[index + 1])

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
