"""`gateway.sinks.portprobe`: a bare TCP check of a port on loopback, and the reconnect wait it
cuts short (driven by a scripted probe, so no test waits for time to pass)."""

from __future__ import annotations

import asyncio

from gateway.sinks.portprobe import port_answers, until_port_returns
from tests.support.mosquitto import free_port


async def test_port_answers_only_while_something_listens() -> None:
    async def hang_up(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    port = free_port()
    assert await port_answers("127.0.0.1", port, 1.0) is False
    server = await asyncio.start_server(hang_up, "127.0.0.1", port)
    try:
        assert await port_answers("127.0.0.1", port, 1.0) is True
    finally:
        server.close()
        await server.wait_closed()


class Script:
    """A probe that answers as scripted and counts its calls."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.called = asyncio.Event()

    async def __call__(self, _host: str, _port: int, _timeout: float) -> bool:
        self.calls += 1
        self.called.set()
        return self.answers.pop(0) if self.answers else True


async def test_the_wait_ends_when_a_dead_port_answers_again() -> None:
    probe = Script(False, False, True)
    waiting = until_port_returns("h", 1, 30.0, 0.0, asyncio.Event(), probe)
    await asyncio.wait_for(waiting, 5)  # not the whole 30 s
    assert probe.calls == 3


async def test_a_port_that_answers_at_once_waits_the_whole_delay_unprobed() -> None:
    stopping = asyncio.Event()
    probe = Script(True)
    waiting = asyncio.create_task(until_port_returns("h", 1, 30.0, 0.0, stopping, probe))
    await asyncio.sleep(0.05)
    assert not waiting.done(), "an answering port does not cut the backoff short"
    stopping.set()
    await asyncio.wait_for(waiting, 5)
    assert probe.calls == 1, "no more probes while the backoff runs"


async def test_a_dead_port_is_probed_at_the_interval_until_the_delay_ends() -> None:
    probe = Script(*[False] * 1000)
    await asyncio.wait_for(until_port_returns("h", 1, 0.2, 0.05, asyncio.Event(), probe), 5)
    assert 2 <= probe.calls <= 6, probe.calls
