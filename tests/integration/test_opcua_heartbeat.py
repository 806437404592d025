"""Heartbeat holds for subscribed OPC UA signals (SPEC "What a reading becomes"): a value the
server never changes is still published every `heartbeat`, with or without a deadband, with
the time of republishing; a bad node is not repeated. A real asyncua server on loopback."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from gateway.model import BAD, GOOD, Sample
from tests.support.opcua_server import URI, OpcServer
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def server() -> AsyncIterator[OpcServer]:
    opc = OpcServer()
    await opc.start()
    yield opc
    await opc.stop()


def published(reader, name: str) -> list[Sample]:
    return [s for b in reader.sink.batches_of("roaster-1") for s in b.samples if s.signal == name]


async def test_an_unchanged_subscribed_value_is_published_every_heartbeat(server, reader) -> None:
    reader.start(
        server.endpoint,
        [
            {"name": "temperature", "node": f"nsu={URI};s=Furnace.Temperature", "heartbeat": "1s"},
            {
                "name": "parts",
                "node": f"nsu={URI};s=Furnace.Parts",
                "deadband": 5,
                "heartbeat": "1s",
            },
            {"name": "recipe", "node": f"nsu={URI};s=Furnace.Recipe"},  # default 60 s
            {"name": "broken", "node": f"nsu={URI};s=Furnace.Broken", "heartbeat": "1s"},
        ],
        subscribe=True,
    )
    await reader.sink.wait_for(
        lambda: len(published(reader, "temperature")) >= 3 and len(published(reader, "parts")) >= 3,
        timeout=15,
    )
    for name, value in (("temperature", 1452.5), ("parts", 4000000000)):
        samples = published(reader, name)
        assert [s.value for s in samples] == [value] * len(samples)
        assert all(s.quality is GOOD for s in samples)
        gaps = [b.ts - a.ts for a, b in itertools.pairwise(samples)]
        assert all(900 <= gap <= 3000 for gap in gaps[1:]), gaps  # about one heartbeat apart
    assert len(published(reader, "recipe")) == 1
    assert all(s.quality is BAD for s in published(reader, "broken"))
    assert len(published(reader, "broken")) == 1


async def test_a_written_value_still_arrives_and_restarts_the_heartbeat(server, reader) -> None:
    reader.start(
        server.endpoint,
        [{"name": "temperature", "node": f"nsu={URI};s=Furnace.Temperature", "heartbeat": "1s"}],
        subscribe=True,
    )
    await reader.sink.wait_for(lambda: len(published(reader, "temperature")) >= 2, timeout=10)
    await server.write("Temperature", 1500.25)
    await reader.sink.wait_for(
        lambda: [s.value for s in published(reader, "temperature")][-2:] == [1500.25, 1500.25],
        timeout=10,
    )


async def test_keep_alives_count_as_reads_while_nothing_changes(server, reader) -> None:
    """The status's last read follows the subscription's keep-alives, not only its changes:
    the page can tell a steady value ("unchanged, read 2 s ago") from a stale one."""
    poller = reader.start(
        server.endpoint,
        [{"name": "recipe", "node": f"nsu={URI};s=Furnace.Recipe"}],  # never changes
        subscribe=True,  # at 200 ms, a keep-alive every 16 publishing intervals: about 3.2 s
    )
    await reader.sink.wait_for(lambda: len(published(reader, "recipe")) == 1, timeout=15)
    first = published(reader, "recipe")[0].ts
    status = poller.status
    await eventually(lambda: (status.last_poll or 0) > first + 2500, timeout=20, interval=0.2)
    assert len(published(reader, "recipe")) == 1, "the keep-alive published a sample"
