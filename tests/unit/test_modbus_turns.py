"""Turns on a shared link: a write goes before the queued reads, writes keep their order, and a
cancelled waiter never blocks the link."""

from __future__ import annotations

import asyncio

from adapters.modbus.turns import READ, WRITE, Turns
from tests.support.wait import eventually


async def test_a_write_goes_before_queued_reads_and_writes_keep_their_order() -> None:
    turns = Turns()
    served: list[str] = []
    release = asyncio.Event()

    async def request(name: str, priority: int) -> None:
        async with turns.turn(priority):
            served.append(name)
            if name == "scan-0":
                await release.wait()

    first = asyncio.create_task(request("scan-0", READ))
    await asyncio.sleep(0)  # scan-0 holds the link
    queued = [asyncio.create_task(request(f"scan-{n}", READ)) for n in (1, 2, 3)]
    queued += [asyncio.create_task(request(f"write-{n}", WRITE)) for n in (1, 2)]
    await eventually(lambda: turns.waiting == 5, timeout=1, interval=0)
    release.set()
    await asyncio.gather(first, *queued)
    assert served == ["scan-0", "write-1", "write-2", "scan-1", "scan-2", "scan-3"]


async def test_a_cancelled_waiter_passes_its_turn_on() -> None:
    turns = Turns()
    release = asyncio.Event()
    served: list[str] = []

    async def hold() -> None:
        async with turns.turn(READ):
            await release.wait()

    async def request(name: str) -> None:
        async with turns.turn(WRITE):
            served.append(name)

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    doomed = asyncio.create_task(request("doomed"))
    later = asyncio.create_task(request("later"))
    await eventually(lambda: turns.waiting == 2, timeout=1, interval=0)
    doomed.cancel()
    release.set()
    await asyncio.gather(holder, later)
    assert served == ["later"]
    async with asyncio.timeout(1):
        async with turns.turn(READ):  # free again
            served.append("free")
    assert served == ["later", "free"]
