"""uvicorn inside the gateway's own event loop: the runner's API hook (`serve_api`).

`uvicorn.Server` is run as a named task, with two changes for an embedded server: it installs no
signal handlers (the runner owns SIGTERM/SIGINT and stops the API first), and it does not tick
ten times a second while idle (idle CPU near zero on the edge box); it waits on an event instead.

We bind the socket ourselves so that an address in use is an error we report (uvicorn would
`sys.exit`). When the API cannot start (address in use, unreadable TLS files), the error is
logged and the gateway runs on without it: one bad thing breaks one thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Generator

import uvicorn

from gateway.api.app import create_app
from gateway.api.connections import GuardedH11Protocol
from gateway.config.store import ConfigStore
from gateway.service import Gateway

log = logging.getLogger(__name__)


def parse_listen(listen: str) -> tuple[str, int]:
    """(host, port) from `0.0.0.0:8080` or `[::1]:8080` (validated by the config already)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that shares the gateway's loop: no signal handlers, no idle tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop = asyncio.Event()
        self.listening = asyncio.Event()
        self.port = 0
        """The port it listens on (the real one when `listen` asked for port 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers once
        await self._stop.wait()

    def stop(self) -> None:
        """Begin a graceful shutdown (the task then finishes)."""
        self.should_exit = True
        self._stop.set()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=64)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serve_api(gateway: Gateway, store: ConfigStore) -> AsyncIterator[EmbeddedServer | None]:
    """Serve the API of `gateway` while inside; entering returns once it listens.

    Yields the server, or None when the API is disabled or could not start.
    """
    api = store.config.api
    if not api.enabled:
        log.info("HTTP API disabled (api.enabled: false)")
        yield None
        return
    host, port = parse_listen(api.listen)
    app = create_app(gateway, store)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http=GuardedH11Protocol,  # closes idle and slow clients; bounds the connections
        ws="none",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=5,
        limit_concurrency=None,  # GuardedH11Protocol bounds the connections instead
        ssl_certfile=api.tls_cert,
        ssl_keyfile=api.tls_key,
    )
    try:
        config.load()
    except (OSError, ssl.SSLError) as exc:
        log.error("HTTP API not started: cannot load api.tls_cert/api.tls_key: %s", exc)
        yield None
        return
    try:
        sock = bind(host, port)
    except OSError as exc:
        log.error("HTTP API not started: cannot listen on %s: %s", api.listen, exc.strerror)
        yield None
        return
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="api")
    listening = asyncio.create_task(server.listening.wait())
    await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
    listening.cancel()
    if task.done():
        sock.close()
        failure = task.exception()
        log.error("HTTP API not started: %s", failure)
        yield None
        return
    server.port = sock.getsockname()[1]
    scheme = "https" if config.is_ssl else "http"
    log.info(
        "HTTP API listening on %s://%s:%d (web page at /, docs at /docs)", scheme, host, server.port
    )
    live = app.state.live
    trends = asyncio.create_task(live.trends.run(), name="api-trends")
    try:
        yield server
    finally:
        live.closing.set()  # ends the event streams, so the graceful shutdown is quick
        trends.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trends
        server.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=2.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sock.close()
