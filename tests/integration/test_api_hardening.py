"""The HTTP API under abuse, against the real running server on loopback (issue 19): idle and
slow clients, a config read that must not block the loop, the event-stream cap under a burst,
keep-alive latency, Host headers and security headers, and an OpenAPI document that matches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.api.connections import MAX_CONNECTIONS, REQUEST_TIMEOUT_S
from tests.support.api import RunningGateway, config_data, running_gateway

pytestmark = pytest.mark.integration


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    data = config_data(tmp_path, 1, [])
    data["mqtt"]["enabled"] = False
    async with running_gateway(tmp_path / "gateway.yaml", data) as running:
        yield running


def host_port(gw: RunningGateway) -> tuple[str, int]:
    host, _, port = gw.store.config.api.listen.rpartition(":")
    return host, int(port)


async def test_idle_connections_do_not_shut_out_healthz(gw: RunningGateway) -> None:
    host, port = host_port(gw)
    idle: list[asyncio.StreamWriter] = []
    try:
        for _ in range(MAX_CONNECTIONS + 16):
            _reader, writer = await asyncio.open_connection(host, port)
            idle.append(writer)
        for _ in range(3):
            response = await gw.client.get("/healthz")
            assert response.status_code == 200, response.text
        assert (await gw.client.get("/api/v1/status")).status_code == 200
    finally:
        for writer in idle:
            writer.close()


async def test_a_client_that_sends_no_complete_request_is_disconnected(
    gw: RunningGateway,
) -> None:
    host, port = host_port(gw)
    reader, writer = await asyncio.open_connection(host, port)
    silent_reader, silent = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        async with asyncio.timeout(REQUEST_TIMEOUT_S + 5):
            for _ in range(int(REQUEST_TIMEOUT_S) + 3):  # trickling does not extend it
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1):
                        if await reader.read(1) == b"":
                            break
                writer.write(b"X")
            else:
                pytest.fail("the slow client is still connected")
            assert await silent_reader.read(1) == b"", "the silent client was disconnected too"
    finally:
        writer.close()
        silent.close()
