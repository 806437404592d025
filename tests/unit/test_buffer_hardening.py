"""Issue 19, "Hardening: data loss": the buffer on a disk that fills up, and after gaps (a
segment set aside as damaged, or deleted). Real files throughout; the full disk is a real
256 KiB tmpfs."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.buffer import Outbox
from gateway.buffer.segments import HEADER
from tests.support.outbox import drain, flush, make, put

SEGMENT = 16 * 1024 * 16  # max_bytes giving 16 KiB segments
N = 8  # items per segment in `three_segments`


def numbered(batch: int, count: int, size: int = 1000) -> list[bytes]:
    """Incompressible items that say which they are: b"BBB-II" then random bytes."""
    return [f"{batch:03d}-{i:02d}".encode() + os.urandom(size) for i in range(count)]


def ids(items: list[bytes]) -> list[str]:
    return [item[:6].decode() for item in items]


# -- a disk that fills in the middle of an append ----------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs, mounted for this test and unmounted after it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill `disk` with a file, then give back about `leave` bytes of it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_a_disk_that_fills_mid_append_loses_nothing_and_tears_nothing(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = small_disk / "buffer"
    outbox = make(box)
    put(outbox, *numbered(0, 20))
    flush(outbox)  # a first flush on a healthy disk: the segment and the cursor exist
    filler = fill(small_disk, leave=12 * 1024)
    with caplog.at_level(logging.ERROR):
        for batch in range(1, 6):  # 5 x 20 KB: the first write is cut short, then ENOSPC
            put(outbox, *numbered(batch, 20))
            flush(outbox)
    assert outbox.disk_error and "No space left" in outbox.disk_error
    assert sum("cannot write the buffer" in r.message for r in caplog.records) == 1
    (segment,) = box.glob("*.seg")
    assert segment.stat().st_size == outbox.log.size, "the failed write was cut off"
    filler.unlink()  # the disk recovers
    for batch in range(6, 8):
        put(outbox, *numbered(batch, 20))
        flush(outbox)
    assert outbox.disk_error is None
    status = outbox.status()
    assert status.backlog == 160
    assert status.dropped == 0
    assert not status.damaged
    outbox.close()
    again = make(box)  # a restart reads back every record whole
    assert not again.status().damaged
    assert ids(drain(again)) == [f"{b:03d}-{i:02d}" for b in range(8) for i in range(20)]


def test_a_disk_full_for_longer_than_memory_holds_counts_and_logs_what_it_drops(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = small_disk / "buffer"
    outbox = make(box, max_bytes=60_000)  # memory may hold 60 KB while the disk is full
    put(outbox, *numbered(0, 5))
    flush(outbox)
    fill(small_disk, leave=0)
    with caplog.at_level(logging.WARNING):
        for batch in range(1, 11):
            put(outbox, *numbered(batch, 10))
            flush(outbox)
    status = outbox.status()
    assert status.dropped > 0
    assert status.backlog + status.dropped == 105
    assert any("dropping the oldest" in r.message for r in caplog.records)
    delivered = ids(drain(outbox))
    assert delivered[-1] == "010-09"
    assert len(delivered) == status.backlog


# -- gaps ----------------------------------------------------------------------------------


def three_segments(path: Path) -> Outbox[bytes]:
    outbox = make(path, max_bytes=SEGMENT)
    for batch in range(3):
        put(outbox, *numbered(batch, N, size=2100))  # 17 KB: one segment per batch
        flush(outbox)
    assert len(list(path.glob("*.seg"))) == 3
    return outbox


def test_a_segment_deleted_while_stopped_is_reported_once_and_stepped_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    three_segments(tmp_path).close()
    middle = sorted(tmp_path.glob("*.seg"))[1]
    middle.unlink()
    with caplog.at_level(logging.ERROR):
        again = make(tmp_path, max_bytes=SEGMENT)
    (report,) = again.status().damaged or []
    assert "missing" in report and "deleted" in report
    assert sum("missing" in r.message for r in caplog.records) == 1
    again.close()
    caplog.clear()
    third = make(tmp_path, max_bytes=SEGMENT)  # the same hole, a restart later
    assert not third.status().damaged, "a missing segment is reported once, not every start"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    delivered = ids(drain(third))
    assert delivered == [f"{b:03d}-{i:02d}" for b in (0, 2) for i in range(N)]
    flush(third)
    assert third.status().backlog == 0
    assert not third._ahead, "acknowledgements past the gap were kept forever"
    assert list(tmp_path.glob("*.seg")) == [], "delivered segments must be deleted"
    third.close()
    fourth = make(tmp_path, max_bytes=SEGMENT)
    assert drain(fourth) == [], "a restart resends what was delivered"


def test_the_first_segment_deleted_while_stopped_is_reported_and_stepped_over(
    tmp_path: Path,
) -> None:
    outbox = three_segments(tmp_path)
    for entry in outbox.take(3):  # the cursor is inside the first segment
        outbox.ack(entry)
    outbox.close()
    sorted(tmp_path.glob("*.seg"))[0].unlink()
    again = make(tmp_path, max_bytes=SEGMENT)
    assert any("missing" in d for d in again.status().damaged or [])
    assert ids(drain(again)) == [f"{b:03d}-{i:02d}" for b in (1, 2) for i in range(N)]
    flush(again)
    assert list(tmp_path.glob("*.seg")) == []
    again.close()
    assert not make(tmp_path, max_bytes=SEGMENT).status().damaged


def test_a_segment_deleted_while_running_is_counted_reported_and_stepped_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = three_segments(tmp_path)
    sorted(tmp_path.glob("*.seg"))[1].unlink()
    with caplog.at_level(logging.ERROR):
        delivered = ids(drain(outbox))
        outbox.rewind()  # a reconnect reads the log again: no second report
        drain(outbox)
    assert delivered == [f"{b:03d}-{i:02d}" for b in (0, 2) for i in range(N)]
    status = outbox.status()
    assert status.lost == N
    assert status.dropped == N
    assert len(status.damaged or []) == 1
    assert sum("missing" in r.message for r in caplog.records) == 1
    flush(outbox)
    assert outbox.status().backlog == 0
    assert list(tmp_path.glob("*.seg")) == []
    assert not outbox._ahead


def test_a_segment_set_aside_while_reading_lets_the_cursor_move_on(tmp_path: Path) -> None:
    three_segments(tmp_path).close()
    first = sorted(tmp_path.glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[HEADER.size + 5] ^= 0xFF  # its first record fails its checksum: all of it set aside
    first.write_bytes(bytes(data))
    again = make(tmp_path, max_bytes=SEGMENT)
    delivered = ids(drain(again))
    assert delivered == [f"{b:03d}-{i:02d}" for b in (1, 2) for i in range(N)]
    status = again.status()
    assert status.lost == N, "the samples set aside are counted"
    assert status.dropped == N
    flush(again)
    assert again.status().backlog == 0
    assert list(tmp_path.glob("*.seg")) == []
    again.close()
    restarted = make(tmp_path, max_bytes=SEGMENT)
    assert drain(restarted) == [], "nothing is resent at every restart"
    assert not restarted.status().damaged


def test_a_torn_segment_found_at_start_up_counts_what_it_set_aside(tmp_path: Path) -> None:
    three_segments(tmp_path).close()
    middle = sorted(tmp_path.glob("*.seg"))[1]
    data = bytearray(middle.read_bytes())
    offset = 0
    for _ in range(4):
        offset += HEADER.size + HEADER.unpack_from(data, offset)[0]
    data[offset + 3] ^= 0xFF  # the 5th record's length: the header walk finds it torn
    middle.write_bytes(bytes(data))
    again = make(tmp_path, max_bytes=SEGMENT)
    status = again.status()
    assert status.damaged and len(status.damaged) == 1
    delivered = ids(drain(again))
    kept = [f"000-{i:02d}" for i in range(N)] + [f"001-{i:02d}" for i in range(4)]
    assert delivered[: N + 4] == kept
    assert delivered[N + 4 :] == [f"002-{i:02d}" for i in range(N)]
    flush(again)
    assert list(tmp_path.glob("*.seg")) == []
    again.close()
    assert not make(tmp_path, max_bytes=SEGMENT).status().damaged


def test_acknowledged_ahead_before_a_restart_does_not_stall_the_cursor(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, b"a", b"b", b"c", b"d")
    _a, b, _c, _d = outbox.take(4)
    outbox.ack(b)  # out of order: b is acknowledged, a is not
    flush(outbox)  # a, c, d go to disk; b does not (it is acknowledged)
    outbox.close()
    again = make(tmp_path)
    assert drain(again) == [b"a", b"c", b"d"]
    flush(again)
    assert list(tmp_path.glob("*.seg")) == [], "the cursor stalled at the hole b left"
    assert not again._ahead


def test_a_damaged_cursor_is_reported_once_not_at_every_restart(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, b"a", b"b")
    flush(outbox)
    outbox.close()
    (tmp_path / "acked").write_bytes(b"garbage")
    make(tmp_path)  # reported here; then a kill -9 while the sink stays down
    again = make(tmp_path)
    assert not again.status().damaged
    assert drain(again) == [b"a", b"b"], "still everything stored, resent"
