"""The record format of the segment log (see `segments`): a 20-byte header and a payload.

A record is a header `<IIQI` (payload length, CRC-32, seq, samples) and its payload. The CRC
covers seq, samples and the payload, so a torn write (power cut) or a flipped bit is found.
Kept apart from `segments` so the format and its checks read on one page.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

HEADER = struct.Struct("<IIQI")
"""Payload length, CRC-32 of (seq, samples, payload), seq, samples."""
CURSOR = struct.Struct("<QI")
"""The `acked` file: seq, CRC-32 of seq."""
MAX_RECORD = 64 * 1024 * 1024
"""A header claiming a larger payload is damage, not data."""


class AppendError(OSError):
    """An append failed part-way: the first `stored` records are on disk, the rest are not.

    The log is left consistent (no torn record); the caller keeps the records not stored.
    """

    def __init__(self, exc: OSError, stored: int, written: int) -> None:
        super().__init__(exc.errno, exc.strerror)
        self.cause = exc
        self.stored = stored
        """Records, from the start of the list, that were written whole."""
        self.written = written
        """Bytes written by the records stored."""

    def __str__(self) -> str:
        return str(self.cause)


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


def crc_ok(header: tuple[int, int, int, int], payload: bytes) -> bool:
    """Whether `payload` and the seq and samples of `header` match its CRC."""
    _length, crc, seq, samples = header
    expected = zlib.crc32(payload, zlib.crc32(HEADER.pack(0, 0, seq, samples)[8:]))
    return crc == expected
