"""The write record: every write attempt, allowed or refused, kept on disk and logged.

One JSON object per line in `writes.jsonl` (beside the buffer folder), appended and fsynced
before the attempt's answer goes out, so that a power cut never loses an answered write from
the record. It is bounded: when the file reaches `max_entries` lines it becomes
`writes.jsonl.1` (the one before is dropped) and a new file begins, so the record holds between
`max_entries` and twice that, and never grows without bound on an SD card. The latest entries
are also kept in memory for `GET /api/v1/writes`; at start they are read back from both files.

A torn last line (a crash while appending) is skipped on load, with a warning, and the next
entry starts on a fresh line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_ENTRIES = 10_000
"""Lines per file before it rotates (the record keeps up to twice this)."""


@dataclass(frozen=True, slots=True)
class WriteEntry:
    """One write attempt, as recorded and as `GET /api/v1/writes` lists it."""

    ts: int
    """When the attempt was answered (ms since the epoch, UTC)."""
    who: str
    """The token's name, or `mqtt`."""
    device: str
    signal: str
    """The signal written, or `method:<name>` for a method call."""
    value: Any
    """The value asked for (a method's arguments)."""
    old: Any
    """The latest value read before the write, if any."""
    result: str
    """`ok`, `refused` (nothing written), `unreachable`, `mismatch` or `failed`."""
    read_back: Any = None
    error: str | None = None
    id: str | None = None
    """An MQTT command's id."""

    def as_dict(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in asdict(self).items()
            if value is not None or key in ("old", "value")
        }


class WriteRecord:
    """The append-only, bounded, fsynced write record of one gateway."""

    def __init__(self, path: Path, max_entries: int = MAX_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries
        self._lines = 0
        self._recent: deque[dict[str, Any]] = deque(maxlen=2 * max_entries)
        self._lock = asyncio.Lock()
        self._load()

    def _load(self) -> None:
        previous = self.path.with_name(self.path.name + ".1")
        for file in (previous, self.path):
            try:
                text = file.read_text("utf-8")
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.error("write record %s cannot be read (%s); starting it anew", file, exc)
                continue
            count = 0
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    self._recent.append(json.loads(line))
                    count += 1
                except ValueError:
                    log.warning("write record %s line %d is torn; skipped", file, number)
            if file == self.path:
                self._lines = count
                if text and not text.endswith("\n"):
                    self._append_raw("\n")

    def latest(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest `limit` entries, newest first."""
        items = list(self._recent)[-limit:] if limit > 0 else []
        items.reverse()
        return items

    async def add(self, entry: WriteEntry) -> None:
        """Append `entry`, fsynced, and log it (in a thread: the loop never waits on the disk)."""
        data = entry.as_dict()
        line = json.dumps(data, separators=(",", ":"), default=str) + "\n"
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, line)
            except OSError as exc:
                log.error(
                    "write record %s: cannot append (%s); the attempt is logged only",
                    self.path,
                    exc,
                )
            self._recent.append(data)
        level = logging.INFO if entry.result == "ok" else logging.WARNING
        log.log(
            level,
            "write %s: %s.%s = %r by %s (was %r, read back %r)%s",
            entry.result,
            entry.device,
            entry.signal,
            entry.value,
            entry.who,
            entry.old,
            entry.read_back,
            f": {entry.error}" if entry.error else "",
        )

    def _append(self, line: str) -> None:
        if self._lines >= self.max_entries:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self._lines = 0
        self._append_raw(line)
        self._lines += 1

    def _append_raw(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
