"""A whole gateway in the test's process: `run_gateway` with its HTTP API on a free loopback port.

The gateway reads a real Modbus server and publishes to a real mosquitto; tests talk to the real
uvicorn server over TCP with httpx (not the ASGI transport), exactly as curl would.
`running_gateway` always stops the gateway (the runner's own shutdown) and fails the test if it
did not exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.api.auth import digest
from gateway.api.server import serve_api
from gateway.config.store import ConfigStore
from gateway.notify import Notifier
from gateway.runner import run_gateway
from gateway.service import Gateway
from tests.support.modbus_server import RegisterBank
from tests.support.mosquitto import free_port
from tests.support.wait import eventually_async

TOKEN = "test-token-0123456789abcdefghijklmnop"
"""The bearer token `api.tokens` admits (as its sha256) in `config_data`."""


def config_data(
    tmp_path: Path, broker_port: int, devices: list[dict[str, Any]], **api: Any
) -> dict[str, Any]:
    """A config for a gateway on loopback: MQTT to `broker_port`, API on a free port."""
    return {
        "version": 1,
        "gateway": {"id": "api-test", "site": "pasuruan", "area": "casting"},
        "api": {
            "listen": f"127.0.0.1:{free_port()}",
            "tokens": [{"name": "technician", "sha256": digest(TOKEN)}],
            **api,
        },
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "retain": False},
        "buffer": {"path": str(tmp_path / "buffer")},
        "devices": devices,
    }


def press_bank() -> RegisterBank:
    """The registers a `press_device` reads: holding 0-2 = 1000, 2000, 3000 and input 0 = 42."""
    registers = RegisterBank()
    registers.set("holding", 0, [1000, 2000, 3000])
    registers.set("input", 0, [42])
    return registers


def press_device(device_id: str, unit: int, port: int, **extra: Any) -> dict[str, Any]:
    """A Modbus TCP device entry with two signals (holding 0 in degC, input 0 scaled 0.1),
    polled every 200 ms: what the API and web page tests configure."""
    entry = {
        "id": device_id,
        "protocol": "modbus-tcp",
        "host": "127.0.0.1",
        "port": port,
        "unit": unit,
        "interval": "200ms",
        "signals": [
            {
                "name": "melt_temp",
                "table": "holding",
                "address": 0,
                "type": "uint16",
                "unit": "degC",
            },
            {"name": "power_kw", "table": "input", "address": 0, "type": "uint16", "scale": 0.1},
        ],
    }
    return entry | extra


@dataclass
class RunningGateway:
    """A gateway run in-process, its config store and file, and an HTTP client for its API."""

    path: Path
    store: ConfigStore
    gateway: Gateway
    client: httpx.AsyncClient
    base_url: str

    def auth(self, token: str = TOKEN) -> dict[str, str]:
        """The Authorization header for `token`."""
        return {"Authorization": f"Bearer {token}"}


def write_and_load(
    path: Path, data: dict[str, Any] | str, env: dict[str, str] | None
) -> ConfigStore:
    """Write `data` (a dict as JSON, or YAML text) to `path` and load it as the gateway would."""
    path.write_text(data if isinstance(data, str) else orjson.dumps(data).decode())
    return ConfigStore.load(path, env)


@contextlib.asynccontextmanager
async def running_gateway(
    path: Path,
    data: dict[str, Any] | str,
    env: dict[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> AsyncIterator[RunningGateway]:
    """Write `data` (a dict as JSON, or YAML text) to `path`, run the gateway, yield once the
    API answers /readyz with 200; stop it on exit. `verify`: the client's TLS context."""
    store = write_and_load(path, data, env)
    started: list[Gateway] = []
    stop = asyncio.Event()

    def api(gateway: Gateway) -> contextlib.AbstractAsyncContextManager[object]:
        started.append(gateway)
        return serve_api(gateway, store)

    task = asyncio.create_task(
        run_gateway(store.config, path, api=api, stop=stop, notifier=Notifier("")),
        name="test-gateway",
    )
    scheme = "https" if store.config.api.tls_cert else "http"
    base_url = f"{scheme}://{store.config.api.listen}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10.0, verify=verify) as client:

            async def ready() -> bool:
                assert not task.done(), f"the gateway exited: {task.result()}"
                with contextlib.suppress(httpx.TransportError):
                    return (await client.get("/readyz")).status_code == 200
                return False

            await eventually_async(ready, timeout=15)
            yield RunningGateway(path, store, started[0], client, base_url)
    finally:
        stop.set()
        async with asyncio.timeout(20):
            code = await task
        assert code == 0
