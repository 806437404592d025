"""Helpers for the outbox's unit tests: a test outbox of bytes, and putting, flushing and
draining it the way a sink does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.buffer import Outbox


def make(path: Path, max_bytes: int = 10_000_000) -> Outbox[bytes]:
    outbox: Outbox[bytes] = Outbox(
        path, name="test", max_bytes=max_bytes, dump=bytes, load=bytes, sync=False
    )
    outbox.open()
    return outbox


def put(outbox: Outbox[bytes], *items: bytes) -> None:
    for item in items:
        outbox.put(item, samples=1, size=len(item))


def flush(outbox: Outbox[bytes]) -> None:
    """Run the periodic flush once (it is a coroutine: the fsync goes to a thread)."""
    asyncio.run(outbox.flush())


def drain(outbox: Outbox[bytes]) -> list[bytes]:
    """Take and acknowledge everything, returning the items in delivery order."""
    out = []
    while True:
        entries = outbox.take(7)
        if not entries:
            return out
        for entry in entries:
            out.append(entry.item)
            outbox.ack(entry)
