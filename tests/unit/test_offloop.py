"""Bulk work off the loop: the cyclic collector paused while it runs, and resumed after, and a
parsed config that leaves no cycles behind for the collector to find (gateway.offloop)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from gateway.config.source import parse_yaml
from gateway.config.store import dump_yaml
from gateway.offloop import bulk, collector_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_paused_while_a_job_runs_and_resumed_after() -> None:
    assert collector_paused(gc.isenabled) is False
    assert gc.isenabled()


def test_the_collector_is_resumed_after_a_job_that_raises() -> None:
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        collector_paused(fail)
    assert gc.isenabled()


def test_overlapping_jobs_resume_the_collector_when_the_last_ends() -> None:
    first_in, first_may_end, second_done = threading.Event(), threading.Event(), []

    def first() -> None:
        first_in.set()
        assert first_may_end.wait(10)

    worker = threading.Thread(target=collector_paused, args=(first,))
    worker.start()
    assert first_in.wait(10)
    second_done.append(collector_paused(gc.isenabled))
    assert second_done == [False]
    assert not gc.isenabled(), "the second job's end resumed it while the first still runs"
    first_may_end.set()
    worker.join(10)
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    collector_paused(lambda: None)
    assert not gc.isenabled()


async def test_bulk_runs_the_job_in_a_worker_thread() -> None:
    here = threading.get_ident()
    where, paused = await bulk(lambda: (threading.get_ident(), not gc.isenabled()))
    assert where != here and paused
    assert gc.isenabled()


def test_a_parsed_config_leaves_no_reference_cycles_behind() -> None:
    signals = [{"name": f"s{i}", "table": "holding", "address": i} for i in range(2000)]
    text = dump_yaml({"version": 1, "devices": [{"id": "press", "signals": signals}]})
    gc.collect()
    gc.disable()
    try:
        parse_yaml(text, None)
        parse_yaml(text, None, pure=True)
        left = gc.collect()
    finally:
        gc.enable()
    # Before the parser's memo was cleared, the node graph (~25 objects a signal) was left
    # for the collector: 50,000 objects here. A few hundred are ruamel's own, per parser.
    assert left < 1000, f"{left} objects in reference cycles after parsing"
