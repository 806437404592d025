"""The live parts of the HTTP API the web page uses, over real HTTP against a running gateway:
server-sent events (status, changed values, a bounded number of clients, a token when reads need
one), trends, and the whole config as YAML text (read, replaced, refused with the line)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.api.live import MAX_CLIENTS
from tests.support.api import TOKEN, RunningGateway, config_data, press_device, running_gateway
from tests.support.modbus_server import BankServer
from tests.support.mosquitto import Mosquitto
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


async def events(lines: AsyncIterator[str], count: int) -> list[tuple[str, Any]]:
    """The next `count` events of a stream's lines (`response.aiter_lines()`), as (name, data).

    Keep the iterator while the stream is open: closing it (or `async for ... break`, which
    leaves it to be closed later) closes the response, and the server ends that stream."""
    found: list[tuple[str, Any]] = []
    name = ""
    while len(found) < count:
        line = await anext(lines)
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            found.append((name, orjson.loads(line[6:])))
    return found


async def test_events_stream_status_and_changed_values(
    tmp_path: Path, mosquitto: Mosquitto, modbus: BankServer
) -> None:
    data = config_data(tmp_path, mosquitto.port, [press_device("press-1", 1, modbus.port)])
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        await eventually(lambda: gw.gateway.board.latest("press-1"))
        async with gw.client.stream("GET", "/api/v1/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            got = await events(response.aiter_lines(), 5)
        names = [name for name, _ in got]
        assert names[:3] == ["trends", "status", "values"]
        status = got[1][1]
        assert status["gateway_id"] == "api-test" and status["site"] == "pasuruan"
        assert status["devices"][0]["id"] == "press-1"
        first = got[2][1]["devices"]["press-1"]
        assert first["melt_temp"]["value"] == 1000 and first["melt_temp"]["unit"] == "degC"
        assert first["power_kw"]["value"] == pytest.approx(4.2)
        # The next values event carries only what changed since (one scan at most per 200 ms).
        later = dict(got[3:])["values"]["devices"]
        assert set(later.get("press-1", {})) <= {"melt_temp", "power_kw"}
        trends = (await gw.client.get("/api/v1/trends")).json()
        assert trends["step_s"] == 5 and trends["ts"]
        # Taken when the API started (before the first scan), then every 5 s: bounded, aligned.
        assert 1 <= len(trends["ts"]) <= 120
        for series in trends["devices"].get("press-1", {}).values():
            assert len(series) == len(trends["ts"])


async def test_events_serve_a_bounded_number_of_clients_and_stop_when_they_leave(
    tmp_path: Path, mosquitto: Mosquitto, modbus: BankServer
) -> None:
    data = config_data(tmp_path, mosquitto.port, [press_device("press-1", 1, modbus.port)])
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        async with AsyncExitStack() as stack:
            streams = []
            for _ in range(MAX_CLIENTS):
                response = await stack.enter_async_context(
                    gw.client.stream("GET", "/api/v1/events")
                )
                assert response.status_code == 200
                streams.append(response.aiter_lines())
                await events(streams[-1], 1)
            refused = await gw.client.get("/api/v1/events")
            assert refused.status_code == 503 and "too many" in refused.json()["detail"]
        # Every stream ended with its client: the next one is served again.
        async with gw.client.stream("GET", "/api/v1/events") as again:
            assert again.status_code == 200


async def test_events_need_a_token_when_reads_do(
    tmp_path: Path, mosquitto: Mosquitto, modbus: BankServer
) -> None:
    data = config_data(
        tmp_path,
        mosquitto.port,
        [press_device("press-1", 1, modbus.port)],
        read_requires_token=True,
    )
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        assert (await gw.client.get("/api/v1/events")).status_code == 401
        assert (await gw.client.get("/api/v1/trends")).status_code == 401
        page = await gw.client.get("/")
        assert page.status_code == 200 and "<html" in page.text  # the page itself loads
        async with gw.client.stream("GET", "/api/v1/events", headers=gw.auth()) as response:
            assert response.status_code == 200
            names = [n for n, _ in await events(response.aiter_lines(), 2)]
            assert names == ["trends", "status"]


async def test_page_assets_are_served_from_the_gateway(gw_plain: RunningGateway) -> None:
    page = (await gw_plain.client.get("/")).text
    for asset in ("/ui/style.css", "/ui/app.js"):
        assert asset in page
        assert (await gw_plain.client.get(asset)).status_code == 200
    for asset in ("/ui/configure.js", "/ui/i18n/en.js", "/ui/i18n/id.js"):
        assert (await gw_plain.client.get(asset)).status_code == 200
    assert "http" not in page.replace("http-equiv", "")  # nothing from a CDN


@pytest.fixture
async def gw_plain(
    tmp_path: Path, mosquitto: Mosquitto, modbus: BankServer
) -> AsyncIterator[RunningGateway]:
    data = config_data(tmp_path, mosquitto.port, [press_device("press-1", 1, modbus.port)])
    async with running_gateway(tmp_path / "gateway.yaml", data) as gw:
        yield gw


async def test_the_config_as_yaml_text(gw_plain: RunningGateway) -> None:
    client, auth = gw_plain.client, gw_plain.auth()
    got = await client.get("/api/v1/config", params={"format": "yaml"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/yaml")
    text = got.text
    assert "id: press-1" in text and TOKEN not in text
    etag = got.headers["ETag"]

    before = gw_plain.path.read_text()
    broken = text.replace("  area: casting", "  area: casting\n\tline: x")
    refused = await client.put(
        "/api/v1/config",
        content=broken,
        headers={**auth, "Content-Type": "application/yaml", "If-Match": etag},
    )
    assert refused.status_code == 422
    assert "line " in refused.json()["errors"][0]["message"]
    invalid = text.replace("address: 0", "address: 70000", 1)
    refused = await client.put(
        "/api/v1/config",
        content=invalid,
        headers={**auth, "Content-Type": "application/yaml", "If-Match": etag},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "devices[0].signals[0].address"
    assert gw_plain.path.read_text() == before

    changed = text.replace("area: casting", "area: moulding")
    applied = await client.put(
        "/api/v1/config",
        content=changed,
        headers={**auth, "Content-Type": "application/yaml", "If-Match": etag},
    )
    assert applied.status_code == 200, applied.text
    assert gw_plain.store.config.gateway.area == "moulding"
