"""The store-and-forward buffer: one durable outbox per sink under `buffer.path` (SPEC
"Guarantees": nothing lost). `outbox.Outbox` is what sinks use; `segments` is its disk format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gateway.config.models import BufferConfig

from .outbox import Entry, Outbox, OutboxStatus

__all__ = ["Entry", "Outbox", "OutboxStatus", "open_outbox"]

T = TypeVar("T")


def open_outbox(
    config: BufferConfig,
    sink: str,
    share: int,
    dump: Callable[[T], bytes],
    load: Callable[[bytes], T],
) -> Outbox[T]:
    """The outbox of sink `sink` in `{buffer.path}/{sink}`, holding at most `share` bytes,
    loaded with what a previous run left there."""
    outbox: Outbox[T] = Outbox(
        Path(config.path) / sink, name=f"{sink} buffer", max_bytes=share, dump=dump, load=load
    )
    outbox.open()
    return outbox
