"""Backoff, the bounded sink queue, the pipeline fan-out and systemd's notify protocol."""

from __future__ import annotations

import random
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.backoff import Backoff
from gateway.model import BAD, GOOD, Batch, DeviceState, Sample, StateChange, checked
from gateway.notify import Notifier
from gateway.pipeline import Pipeline
from tests.support.collect import CollectingSink


@given(
    initial=st.floats(0.01, 10),
    maximum=st.floats(10, 600),
    jitter=st.floats(0, 0.5),
    failures=st.integers(1, 50),
)
def test_backoff_grows_and_stays_within_cap_and_jitter(initial, maximum, jitter, failures) -> None:
    backoff = Backoff(initial, maximum, jitter, _rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(failures)]
    for n, delay in enumerate(delays):
        base = min(maximum, initial * 2**n)
        assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
    backoff.reset()
    assert backoff.next_delay() <= initial * (1 + jitter) + 1e-9


def test_checked_marks_nan_and_infinity_bad() -> None:
    assert checked("x", 1.5, 0, "kW").quality is GOOD
    for value in (float("nan"), float("inf"), float("-inf")):
        sample = checked("x", value, 0, None)
        assert sample.quality is BAD
        assert sample.value is None


async def test_pipeline_fans_out_and_keeps_latest_values() -> None:
    a, b = CollectingSink(), CollectingSink()
    pipeline = Pipeline([a, b])
    pipeline.board.add("d1", "modbus-tcp")
    pipeline.add_device("d1", [])
    pipeline.publish(Batch("d1", 1, [Sample("x", 1, GOOD, 1), Sample("y", 2, GOOD, 1)]))
    pipeline.publish(Batch("d1", 2, [Sample("x", 3, GOOD, 2)]))
    change = StateChange("d1", DeviceState.ONLINE, 2)
    pipeline.state_changed(change)
    assert len(a.batches) == len(b.batches) == 2
    assert a.states == b.states == [change]
    assert {k: v.value for k, v in pipeline.board.latest("d1").items()} == {"x": 3, "y": 2}
    entry = pipeline.board.get("d1")
    assert entry is not None and entry.state == change


def test_notifier_sends_datagrams_to_notify_socket(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    try:
        monkeypatch.setenv("WATCHDOG_USEC", "4000000")
        notifier = Notifier(path)
        notifier.send("READY=1", "STATUS=ok")
        assert server.recv(1024) == b"READY=1\nSTATUS=ok"
        assert notifier.watchdog_interval() == pytest.approx(2.0)
        notifier.close()
    finally:
        server.close()


def test_notifier_without_socket_is_a_no_op(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    notifier.send("READY=1")
