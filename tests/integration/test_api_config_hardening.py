"""Config hardening over HTTP, against a running gateway (real uvicorn, real mosquitto with a
password): parsing bombs in YAML and JSON bodies are 422 in well under a second, and a `"***"`
password is never carried to a broker the change re-points mqtt at."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.api import RunningGateway, config_data, running_gateway
from tests.support.mosquitto import PASSWORD, USER, Mosquitto

pytestmark = pytest.mark.integration

ALIAS_BOMB = (
    "version: 1\ngateway: {id: g}\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


@pytest.fixture
async def gw(tmp_path: Path, mosquitto_auth: Mosquitto) -> AsyncIterator[RunningGateway]:
    data = config_data(tmp_path, mosquitto_auth.port, [])
    data["mqtt"] |= {"username": USER, "password": PASSWORD}
    async with running_gateway(tmp_path / "gateway.yaml", data) as running:
        yield running


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("version: 1\nx: " + "[" * 30_000 + "]" * 30_000 + "\n", "nesting deeper than 64 levels"),
        (ALIAS_BOMB, "alias expansion over 100000 nodes"),
        ("version: 1\nx: " + "{a: " * 300 + "1" + "}" * 300 + "\n", "nesting deeper than 64"),
    ],
    ids=["deep-flow", "alias-bomb", "few-hundred-levels"],
)
async def test_yaml_bombs_are_422_at_once(gw: RunningGateway, body: str, message: str) -> None:
    headers = {**gw.auth(), "Content-Type": "application/yaml"}
    started = time.monotonic()
    response = await gw.client.post("/api/v1/config/validate", content=body, headers=headers)
    assert time.monotonic() - started < 5
    assert response.status_code == 422, response.text
    assert message in response.text
    assert (await gw.client.get("/healthz")).status_code == 200


async def test_deep_json_is_422_not_500(gw: RunningGateway) -> None:
    deep = '{"a": ' * 600 + "1" + "}" * 600
    body = '{"version": 1, "gateway": {"id": "g"}, "mqtt": ' + deep + "}"
    response = await gw.client.post(
        "/api/v1/config/validate",
        content=body,
        headers={**gw.auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "nesting deeper than 64 levels" in response.text


async def test_a_kept_password_is_never_sent_to_a_new_broker(gw: RunningGateway) -> None:
    received = bytearray()
    got_connect = asyncio.Event()

    async def listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.extend(await reader.read(4096))  # paho's CONNECT: one packet, one read
        got_connect.set()
        writer.close()

    server = await asyncio.start_server(listener, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        shown = (await gw.client.get("/api/v1/config")).json()
        assert shown["mqtt"]["password"] == "***"
        shown["mqtt"]["port"] = port
        response = await gw.client.put("/api/v1/config", json=shown, headers=gw.auth())
        assert response.status_code == 422, response.text
        errors = {e["path"]: e["message"] for e in response.json()["errors"]}
        assert "port changes here: give the password again" in errors["mqtt.password"]
        assert gw.store.config.mqtt.port != port, "nothing was applied"
        assert PASSWORD not in response.text

        # Given again, the password goes where the change says (the technician knows it).
        shown["mqtt"]["password"] = "for-the-new-broker"
        response = await gw.client.put("/api/v1/config", json=shown, headers=gw.auth())
        assert response.status_code == 200, response.text
        async with asyncio.timeout(10):
            await got_connect.wait()
        assert b"for-the-new-broker" in received
        assert PASSWORD.encode() not in received
    finally:
        server.close()
        await server.wait_closed()
