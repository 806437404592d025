"""A serial line without hardware: two linked pseudo-terminals made by socat.

A Modbus RTU server listens on one end and the gateway opens the other, exactly as it would a
USB-RS485 adapter. The `pty_pair` fixture (tests/integration/conftest.py) wraps `socat_pty_pair`.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.wait import eventually_sync


@contextlib.contextmanager
def socat_pty_pair(directory: Path) -> Iterator[tuple[str, str]]:
    """Yield the paths of two linked ptys (`directory`/ttyA, `directory`/ttyB); socat is
    stopped on exit. Fails the test when socat is missing or makes no ptys within 5 s."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is not installed (make test installs it)")
    a, b = directory / "ttyA", directory / "ttyB"
    proc = subprocess.Popen(
        [socat, "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stderr=subprocess.DEVNULL,
    )
    try:
        eventually_sync(
            lambda: a.exists() and b.exists(), timeout=5, what="socat creating the pty pair"
        )
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
