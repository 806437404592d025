"""The store-and-forward outbox and its segment log, on real files in a temporary folder."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.buffer.segments import HEADER
from tests.support.outbox import drain, flush, make, put


def test_items_leave_in_order_and_only_when_acknowledged(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, b"a", b"b", b"c")
    first = outbox.take(2)
    assert [e.item for e in first] == [b"a", b"b"]
    outbox.ack(first[0])
    outbox.rewind()  # the connection dropped with b in flight
    assert drain(outbox) == [b"b", b"c"]
    assert outbox.status().backlog == 0


def test_acknowledged_within_a_flush_never_touches_the_disk(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, *(b"x" * 100 for _ in range(50)))
    assert len(drain(outbox)) == 50
    flush(outbox)
    assert outbox.log.size == 0
    assert not list(tmp_path.glob("*.seg"))
    assert outbox.bytes_written == 0
    assert not (tmp_path / "acked").exists(), "no cursor either: nothing on disk needs one"


def test_the_periodic_flush_writes_only_what_waited_long_enough(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, b"young")
    asyncio.run(outbox.flush(min_age=60))
    assert outbox.log.size == 0, "an item younger than min_age stays in memory"
    asyncio.run(outbox.flush(min_age=0))
    assert outbox.log.size > 0
    assert drain(outbox) == [b"young"]


def test_a_restart_resends_only_the_unacknowledged_tail(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, *(f"item {i}".encode() for i in range(10)))
    flush(outbox)  # all ten on disk
    for entry in outbox.take(4):
        outbox.ack(entry)
    outbox.close()  # the cursor is saved with the close
    again = make(tmp_path)
    assert again.status().backlog == 6
    assert drain(again) == [f"item {i}".encode() for i in range(4, 10)]


def test_unflushed_memory_is_lost_on_a_crash_but_the_disk_tier_survives(
    tmp_path: Path,
) -> None:
    outbox = make(tmp_path)
    put(outbox, b"old-1", b"old-2")
    flush(outbox)
    put(outbox, b"last-second")  # a kill -9 now: never flushed
    crashed = make(tmp_path)  # no close(): as after kill -9
    assert drain(crashed) == [b"old-1", b"old-2"]


def test_space_is_reclaimed_as_delivery_advances(tmp_path: Path) -> None:
    outbox = make(tmp_path, max_bytes=16 * 1024 * 16)  # 16 KiB segments
    for _ in range(20):
        put(outbox, *(os.urandom(1000) for _ in range(10)))
        flush(outbox)
    assert len(list(tmp_path.glob("*.seg"))) >= 10
    drain(outbox)
    flush(outbox)
    assert list(tmp_path.glob("*.seg")) == []
    assert outbox.status().backlog_bytes == 0


def test_a_full_buffer_drops_the_oldest_and_counts_it(tmp_path: Path) -> None:
    outbox = make(tmp_path, max_bytes=16 * 1024 * 8)  # 128 KiB, 16 KiB segments
    for batch in range(40):
        put(outbox, *(f"{batch:03d}-{i:02d}".encode() + os.urandom(990) for i in range(10)))
        flush(outbox)
    status = outbox.status()
    assert status.dropped > 0
    assert status.backlog + status.dropped == 400
    assert status.backlog_bytes <= 128 * 1024
    delivered = drain(outbox)
    assert len(delivered) == status.backlog
    # What is left is the newest data, still in order and without holes.
    assert delivered[-1].startswith(b"039-09")
    numbers = [int(d[:3]) * 10 + int(d[4:6]) for d in delivered]
    assert numbers == list(range(numbers[0], 400))


def test_a_truncated_segment_keeps_what_is_readable(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, *(f"rec {i}".encode() for i in range(5)))
    flush(outbox)
    outbox.close()
    (segment,) = tmp_path.glob("*.seg")
    size = segment.stat().st_size
    os.truncate(segment, size - 3)  # a power cut in the middle of the last record
    again = make(tmp_path)
    status = again.status()
    assert status.backlog == 4
    assert status.damaged and "truncated record" in status.damaged[0]
    assert (tmp_path / "damaged").is_dir()
    assert drain(again) == [f"rec {i}".encode() for i in range(4)]


def test_a_corrupt_record_in_an_old_segment_is_set_aside_while_reading(
    tmp_path: Path,
) -> None:
    outbox = make(tmp_path, max_bytes=16 * 1024 * 16)
    for batch in range(3):
        put(outbox, *(f"{batch}-{i:02d}".encode() + os.urandom(2000) for i in range(10)))
        flush(outbox)
    outbox.close()
    first = sorted(tmp_path.glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[HEADER.size + 5] ^= 0xFF  # flip a bit inside the first record's payload
    first.write_bytes(bytes(data))
    again = make(tmp_path)  # only the newest segment is fully verified at start-up
    delivered = drain(again)
    assert delivered, "the later segments must still be delivered"
    assert all(not d.startswith(b"0-00") for d in delivered)
    assert delivered[-1].startswith(b"2-09")
    assert any("damaged" in d for d in again.status().damaged or [])


def test_a_damaged_cursor_resends_everything_rather_than_losing(tmp_path: Path) -> None:
    outbox = make(tmp_path)
    put(outbox, b"a", b"b")
    flush(outbox)
    outbox.ack(outbox.take(1)[0])
    outbox.close()
    (tmp_path / "acked").write_bytes(b"garbage")
    again = make(tmp_path)
    assert drain(again) == [b"a", b"b"]
    assert again.status().damaged


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("put"), st.integers(1, 5)),
            st.tuples(st.just("take"), st.integers(1, 6)),
            st.tuples(st.just("ack"), st.integers(0, 6)),
            st.tuples(st.just("rewind"), st.just(0)),
            st.tuples(st.just("flush"), st.just(0)),
            st.tuples(st.just("restart"), st.just(0)),
        ),
        max_size=40,
    )
)
def test_nothing_is_lost_and_order_is_kept(tmp_path_factory: pytest.TempPathFactory, ops) -> None:
    """Whatever happens (flushes, rewinds, clean restarts), every item is delivered at least
    once, and first deliveries come in the order items were put."""
    path = tmp_path_factory.mktemp("outbox")
    outbox = make(path)
    counter = 0
    taken = []
    delivered: list[bytes] = []
    for op, n in ops:
        if op == "put":
            for _ in range(n):
                put(outbox, f"{counter:05d}".encode())
                counter += 1
        elif op == "take":
            taken.extend(outbox.take(n))
        elif op == "ack":
            for entry in taken[:n]:
                outbox.ack(entry)
                delivered.append(entry.item)
            taken = taken[n:]
        elif op == "rewind":
            outbox.rewind()
            taken = []
        elif op == "flush":
            flush(outbox)
        else:
            outbox.close()
            outbox = make(path)
            taken = []
    for entry in taken:
        outbox.ack(entry)
        delivered.append(entry.item)
    delivered += drain(outbox)
    firsts = list(dict.fromkeys(delivered))
    assert firsts == sorted(firsts)
    assert set(firsts) == {f"{i:05d}".encode() for i in range(counter)}
