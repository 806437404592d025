"""The order `run_gateway` keeps (READY after the API listens; STOPPING, API, then gateway) and
its stop deadline, run in-process with a real notify socket and a real listening API stand-in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from gateway import runner
from gateway.config.models import Config
from gateway.notify import Notifier
from gateway.service import Gateway
from tests.support.notify import NotifyListener


def config() -> Config:
    return Config.model_validate(
        {"version": 1, "gateway": {"id": "casting-01"}, "mqtt": {"enabled": False}}
    )


async def test_ready_waits_for_the_api_and_shutdown_closes_it_first() -> None:
    events: list[str] = []
    port: list[int] = []
    systemd = NotifyListener()

    @contextlib.asynccontextmanager
    async def api(gateway: Gateway) -> AsyncIterator[None]:
        assert gateway.running, "the API starts once the gateway runs"
        await asyncio.sleep(0.2)  # a slow bind: READY must still wait for it
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        events.append("api listening")
        try:
            yield
        finally:
            stopping = any("STOPPING" in n.fields for n in systemd.drain())
            running = gateway.running
            events.append(f"api closing: STOPPING sent={stopping}, gateway running={running}")
            server.close()
            await server.wait_closed()

    stop = asyncio.Event()
    with systemd:
        task = asyncio.create_task(
            runner.run_gateway(config(), api=api, stop=stop, notifier=Notifier(str(systemd.path)))
        )
        await systemd.wait_for("READY", timeout=10)
        events.append("READY")
        # The API answers at the moment READY arrives.
        _, writer = await asyncio.open_connection("127.0.0.1", port[0])
        writer.close()
        stop.set()
        assert await asyncio.wait_for(task, timeout=10) == 0
    assert events == [
        "api listening",
        "READY",
        "api closing: STOPPING sent=True, gateway running=True",
    ]


async def test_shutdown_is_bounded_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "STOP_DEADLINE", 1.0)
    monkeypatch.setattr(runner, "API_STOP_TIMEOUT", 0.3)

    serving = asyncio.Event()

    @contextlib.asynccontextmanager
    async def stuck_api(_gateway: Gateway) -> AsyncIterator[None]:
        serving.set()
        yield
        await asyncio.Event().wait()  # an API that never finishes closing

    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_gateway(config(), api=stuck_api, stop=stop))
    await asyncio.wait_for(serving.wait(), timeout=5)
    loop = asyncio.get_running_loop()
    began = loop.time()
    stop.set()
    assert await asyncio.wait_for(task, timeout=5) == 0
    assert loop.time() - began < 1.0


async def test_a_gateway_that_fails_to_start_sends_no_ready() -> None:
    @contextlib.asynccontextmanager
    async def broken_api(_gateway: Gateway) -> AsyncIterator[None]:
        raise OSError(98, "Address already in use")
        yield

    with NotifyListener() as systemd:
        with pytest.raises(OSError, match="Address already in use"):
            await runner.run_gateway(config(), api=broken_api, notifier=Notifier(str(systemd.path)))
        notes = systemd.drain()
    assert not [n for n in notes if "READY" in n.fields]
    assert notes[-1].get("STOPPING") == "1"
