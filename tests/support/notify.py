"""systemd's side of the notify protocol, for tests: a real AF_UNIX datagram socket.

`NotifyListener` binds the socket that `NOTIFY_SOCKET` names (a path in a short temporary
folder, as systemd's /run/systemd/notify is) and records every datagram with its arrival time,
parsed into `KEY=value` fields as systemd does. Tests await a message with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Notification:
    """One datagram: when it arrived (time.monotonic()) and its fields."""

    at: float
    fields: dict[str, str]

    def get(self, key: str) -> str | None:
        return self.fields.get(key)


def parse(datagram: bytes) -> dict[str, str]:
    """`KEY=value` lines into a dict, as sd_notify(3) defines them."""
    fields: dict[str, str] = {}
    for line in datagram.decode().splitlines():
        key, sep, value = line.partition("=")
        assert sep, f"notify line without '=': {line!r}"
        fields[key] = value
    return fields


class NotifyListener:
    """A bound notify socket; use as a context manager (it removes its folder)."""

    def __init__(self) -> None:
        # AF_UNIX paths are limited to 108 bytes: pytest's tmp_path can be longer.
        self._dir = Path(tempfile.mkdtemp(prefix="gerbang-notify-", dir="/tmp"))
        self.path = self._dir / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)
        self.received: list[Notification] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment systemd gives a Type=notify service."""
        return {"NOTIFY_SOCKET": str(self.path)}

    async def next(self, timeout: float) -> Notification:
        """The next datagram; TimeoutError after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            data = await loop.sock_recv(self.sock, 4096)
        note = Notification(time.monotonic(), parse(data))
        self.received.append(note)
        return note

    async def wait_for(self, key: str, value: str | None = None, timeout: float = 30.0):
        """The next datagram with `key` (and, if given, a value containing `value`)."""
        async with asyncio.timeout(timeout):
            while True:
                note = await self.next(timeout)
                got = note.get(key)
                if got is not None and (value is None or value in got):
                    return note

    def drain(self) -> list[Notification]:
        """Every datagram already queued, without waiting."""
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.received
            self.received.append(Notification(time.monotonic(), parse(data)))

    def with_key(self, key: str) -> list[Notification]:
        return [n for n in self.received if key in n.fields]

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> NotifyListener:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def deny_write_execute() -> None:
    """`preexec_fn` that applies MemoryDenyWriteExecute=yes to the child (PR_SET_MDWE, Linux
    6.3+), as the unit does; raises OSError where the kernel lacks it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
