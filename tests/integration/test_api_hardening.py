"""The HTTP API under abuse, against the real running server on loopback (issue 19): idle and
slow clients, a config read that must not block the loop, the event-stream cap under a burst,
keep-alive latency, Host headers and security headers, and an OpenAPI document that matches."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.api.connections import MAX_CONNECTIONS, REQUEST_TIMEOUT_S
from gateway.api.live import MAX_CLIENTS
from gateway.api.server import parse_listen, serve_api
from gateway.config.source import parse_yaml
from gateway.config.store import dump_yaml
from gateway.notify import Notifier
from gateway.runner import run_gateway
from gateway.service import Gateway
from tests.support.api import RunningGateway, config_data, running_gateway, write_and_load
from tests.support.wait import eventually

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


def big_config(tmp_path: Path, devices: int = 40, signals: int = 100) -> dict[str, Any]:
    """A config of `devices` x `signals` signals (disabled devices: nothing polls)."""
    data = config_data(tmp_path, 1, [])
    data["mqtt"]["enabled"] = False
    data["devices"] = [
        {
            "id": f"press-{d}",
            "protocol": "modbus-tcp",
            "host": "127.0.0.1",
            "port": 1,
            "enabled": False,
            "signals": [
                {"name": f"s{s}", "table": "holding", "address": s, "unit": "degC"}
                for s in range(signals)
            ],
        }
        for d in range(devices)
    ]
    return data


@contextlib.asynccontextmanager
async def loop_stalls() -> AsyncIterator[list[float]]:
    """The longest the event loop went without running a 5 ms ticker, seconds (in [0])."""
    longest = [0.0]

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            longest[0] = max(longest[0], now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.02)
    try:
        yield longest
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


async def test_reading_and_validating_a_large_config_does_not_block_the_loop(
    tmp_path: Path,
) -> None:
    data = big_config(tmp_path)
    async with running_gateway(tmp_path / "gateway.yaml", dump_yaml(data)) as gw:
        started = time.perf_counter()
        parse_yaml(gw.store.text, None)  # what one fast (C) parse costs here, on this machine
        cost = time.perf_counter() - started
        async with loop_stalls() as longest:
            first = await gw.client.get("/api/v1/config")
        assert first.status_code == 200 and first.headers["etag"] == gw.store.etag
        assert len(orjson.loads(first.content)["devices"]) == 40
        assert longest[0] < cost / 2, f"GET stalled the loop {longest[0]:.3f} s ({cost:.3f})"

        async with loop_stalls() as longest:  # served from memory until the config changes
            for _ in range(5):
                again = await gw.client.get("/api/v1/config")
                assert again.content == first.content
            device = await gw.client.get("/api/v1/devices/press-39")
            listed = await gw.client.get("/api/v1/devices")
        assert orjson.loads(device.content)["signals"][99]["name"] == "s99"
        assert len(orjson.loads(listed.content)) == 40
        assert longest[0] < 0.1, f"cached GETs stalled the loop {longest[0]:.3f} s"

        as_yaml = await gw.client.get("/api/v1/config", params={"format": "yaml"})
        async with loop_stalls() as longest:
            valid = await gw.client.post(
                "/api/v1/config/validate",
                content=as_yaml.content,
                headers={**gw.auth(), "Content-Type": "application/yaml"},
            )
        assert valid.status_code == 200 and valid.json()["signals"] == 4000, valid.text
        assert longest[0] < cost / 2, f"validate stalled the loop {longest[0]:.3f} s"

        # A change makes a new revision: the next read shows it.
        data["gateway"]["area"] = "moulding"
        put = await gw.client.put("/api/v1/config", json=data, headers=gw.auth())
        assert put.status_code == 200, put.text
        shown = await gw.client.get("/api/v1/config")
        assert shown.headers["etag"] == put.headers["etag"] != first.headers["etag"]
        assert orjson.loads(shown.content)["gateway"]["area"] == "moulding"


async def burst_of_live_pages(gw: RunningGateway, count: int) -> list[int]:
    """Open `count` event streams at once and hold the admitted ones open until every one has
    been answered; the status codes."""
    hold = asyncio.Event()
    codes: list[int] = []

    async def page() -> None:
        async with gw.client.stream("GET", "/api/v1/events") as response:
            # Held in a name: an iterator dropped after its first line is finalized, and that
            # closes the response, so the page hung up at once (the cap looked broken under
            # load, when the burst's requests came in slower than the hang-ups).
            lines = response.aiter_lines()
            if response.status_code == 200:
                await anext(lines)  # served, not only answered
            codes.append(response.status_code)
            if response.status_code == 200:
                await hold.wait()
            await lines.aclose()

    pages = [asyncio.create_task(page()) for _ in range(count)]
    try:
        await eventually(lambda: len(codes) == count)
    finally:
        hold.set()
        await asyncio.gather(*pages)
    return codes


async def test_a_burst_of_live_pages_admits_exactly_the_cap(gw: RunningGateway) -> None:
    for _ in range(2):  # the second burst: every place was given back
        codes = await burst_of_live_pages(gw, MAX_CLIENTS + 4)
        assert codes.count(200) == MAX_CLIENTS and codes.count(503) == 4, codes


async def test_keep_alive_requests_are_not_delayed(gw: RunningGateway) -> None:
    # Without TCP_NODELAY a response written in two segments waits for the client's delayed
    # ACK (40 ms on Linux) on every request of a kept-alive connection but the first.
    times = []
    for _ in range(11):
        started = time.perf_counter()
        assert (await gw.client.get("/healthz")).status_code == 200
        times.append(time.perf_counter() - started)
    later = sorted(times[1:])
    assert later[len(later) // 2] < 0.025, f"median {later[len(later) // 2] * 1000:.1f} ms"


SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "content-security-policy")


async def test_only_ip_literals_localhost_and_listed_names_are_answered(
    tmp_path: Path,
) -> None:
    data = config_data(tmp_path, 1, [], allowed_hosts=["gerbang-casting.local"])
    data["mqtt"]["enabled"] = False
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        port = host_port(gw)[1]
        for host in (
            "rebind.attacker.example",
            f"rebind.attacker.example:{port}",
            "127.0.0.1.nip.io",
        ):
            for url in ("/api/v1/config", "/api/v1/status", "/"):
                refused = await gw.client.get(url, headers={"Host": host})
                assert refused.status_code == 400, (host, url)
                assert "api.allowed_hosts" in refused.json()["detail"]
        for host in (f"127.0.0.1:{port}", "localhost", f"[::1]:{port}", "Gerbang-Casting.local"):
            answered = await gw.client.get("/api/v1/status", headers={"Host": host})
            assert answered.status_code == 200, host
        # Every answer, errors included, carries the security headers.
        for response in (
            await gw.client.get("/api/v1/status"),
            await gw.client.get("/api/v1/nothing"),
            await gw.client.put("/api/v1/config", json={}),
            await gw.client.get("/", headers={"Host": "evil.example"}),
        ):
            assert all(h in response.headers for h in SECURITY_HEADERS), response.url
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"


def documented(openapi: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The content types (and their schemas) documented for one answer; fails if undocumented."""
    responses = openapi["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} {status} is not documented"
    content: dict[str, Any] = responses[str(status)].get("content", {})
    return content


async def test_the_openapi_document_matches_what_the_api_answers(tmp_path: Path) -> None:
    data = big_config(tmp_path, devices=1, signals=1)
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        client = gw.client
        openapi = (await client.get("/openapi.json")).json()
        assert "HTTPValidationError" not in openapi["components"]["schemas"]

        # 422 for a bad parameter: `detail` is a sentence, as documented.
        bad = await client.get("/api/v1/devices/press-0/browse", params={"depth": 9})
        assert bad.status_code == 422 and isinstance(bad.json()["detail"], str)
        schema = documented(openapi, "/api/v1/devices/{device_id}/browse", "get", 422)
        assert schema["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert openapi["components"]["schemas"]["Problem"]["properties"]["detail"]["type"] == (
            "string"
        )
        # 400 on browsing a device that is not OPC UA.
        not_opcua = await client.get("/api/v1/devices/press-0/browse")
        assert not_opcua.status_code == 400
        assert "application/json" in documented(
            openapi, "/api/v1/devices/{device_id}/browse", "get", 400
        )

        # Content types: /metrics is text, ?format=yaml is YAML, the events a stream.
        metrics = await client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert list(documented(openapi, "/metrics", "get", 200)) == ["text/plain"]
        assert "application/json" in documented(openapi, "/metrics", "get", 401)
        as_yaml = await client.get("/api/v1/config", params={"format": "yaml"})
        assert as_yaml.headers["content-type"].startswith("application/yaml")
        assert {"application/json", "application/yaml"} <= set(
            documented(openapi, "/api/v1/config", "get", 200)
        )
        assert "text/event-stream" in documented(openapi, "/api/v1/events", "get", 200)

        # A method a path does not take: 405 naming every method it does take.
        for path, methods in (
            ("/api/v1/devices/press-0", {"GET", "PUT", "DELETE"}),
            ("/api/v1/config", {"GET", "PUT"}),
        ):
            for method in ("OPTIONS", "PATCH"):
                refused = await client.request(method, path)
                assert refused.status_code == 405, (method, path)
                allow = {m.strip() for m in refused.headers["allow"].split(",")}
                assert methods <= allow, (method, path, allow)
                assert allow <= methods | {"HEAD"}
                assert {m.lower() for m in methods} <= set(
                    openapi["paths"][path.replace("press-0", "{device_id}")]
                )


async def test_an_api_address_in_use_is_logged_and_the_gateway_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = config_data(tmp_path, 1, [])
    data["mqtt"]["enabled"] = False
    store = write_and_load(tmp_path / "gateway.yaml", data, None)
    host, port = parse_listen(store.config.api.listen)
    taken = socket.create_server((host, port))
    stop = asyncio.Event()
    gateways: list[Gateway] = []

    def api(gateway: Gateway) -> contextlib.AbstractAsyncContextManager[object]:
        gateways.append(gateway)
        return serve_api(gateway, store)

    try:
        task = asyncio.create_task(
            run_gateway(store.config, store.path, api=api, stop=stop, notifier=Notifier(""))
        )
        await eventually(lambda: "HTTP API not started" in caplog.text or task.done())
        assert f"cannot listen on {store.config.api.listen}" in caplog.text
        assert not task.done(), "the gateway exited"
        assert gateways[0].running
        assert f"HTTP API not listening on {store.config.api.listen}" in gateways[0].summary()
        stop.set()
        async with asyncio.timeout(15):
            assert await task == 0
    finally:
        taken.close()
