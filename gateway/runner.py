"""`gerbang run` as a daemon: signals, the systemd notify protocol, and a graceful shutdown.

The order of events, which the systemd unit (deploy/systemd/gerbang.service) relies on:

1. start: the watchdog pings begin at once (WATCHDOG=1 every WatchdogSec/2, sent from the event
   loop itself, so a hung loop stops the pings and systemd restarts the service);
2. `gateway.start()`, then the optional API hook (entering it returns once the API listens);
3. READY=1 with a first STATUS= line; STATUS= is refreshed whenever the summary changes;
4. SIGTERM or SIGINT: STOPPING=1; the API stops first (no config change during shutdown), then
   the gateway stops polling, flushes, publishes the offline states and closes its sinks;
5. the whole of step 4 is bounded by STOP_DEADLINE, well below the unit's TimeoutStopSec, and the
   process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from gateway import loop_errors
from gateway.config.models import Config
from gateway.notify import Notifier
from gateway.service import Gateway

log = logging.getLogger(__name__)

STOP_DEADLINE = 10.0
"""Seconds from SIGTERM to exit. The unit's TimeoutStopSec (20 s) leaves a margin for the
interpreter's own exit; tests/integration/test_systemd_unit.py checks the two agree."""
API_STOP_TIMEOUT = 2.0
"""The part of STOP_DEADLINE the API gets to close its connections."""
STATUS_TICK = 2.0
"""Seconds between checks whether the STATUS= summary changed."""

ApiHook = Callable[[Gateway], AbstractAsyncContextManager[object]]
"""Starts the HTTP API for a running gateway: entering returns once it listens (READY=1 waits
for it), exiting stops it (given API_STOP_TIMEOUT). `cli.cmd_run` passes
`gateway.api.server.serve_api`; tests run the gateway without an API by passing none."""


async def run_gateway(
    config: Config,
    path: Path | None = None,
    *,
    api: ApiHook | None = None,
    stop: asyncio.Event | None = None,
    notifier: Notifier | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or until `stop` is set); return the process exit code."""
    loop = asyncio.get_running_loop()
    loop_errors.install(loop)
    stop = stop or asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    notifier = notifier or Notifier()
    gateway = Gateway(config)
    keepalive: list[asyncio.Task[None]] = []
    interval = notifier.watchdog_interval()
    running = contextlib.AsyncExitStack()  # unwound in reverse: the API closes first
    try:
        if interval:
            notifier.send("WATCHDOG=1", "STATUS=starting")
            keepalive.append(
                asyncio.create_task(_watchdog(notifier, interval), name="notify:watchdog")
            )
        else:
            notifier.send("STATUS=starting")
        await gateway.start()
        running.push_async_callback(gateway.stop, _gateway_stop_budget())
        if api is not None:
            await running.enter_async_context(_bounded_exit(api(gateway), API_STOP_TIMEOUT))
        summary = gateway.summary()
        notifier.send("READY=1", f"STATUS={summary}")
        log.info("config %s loaded; ready: %s", path or "(in memory)", summary)
        keepalive.append(
            asyncio.create_task(_status(gateway, notifier, summary), name="notify:status")
        )
        await stop.wait()
        log.info("stopping (deadline %.0f s)", STOP_DEADLINE)
    finally:
        notifier.send("STOPPING=1", "STATUS=stopping")
        await _cancel(keepalive)
        await _unwind_within(running, STOP_DEADLINE)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        notifier.close()
    return 0


def _gateway_stop_budget() -> float:
    """The `deadline` for `Gateway.stop`, which may spend up to twice it (devices, then sinks)."""
    return (STOP_DEADLINE - API_STOP_TIMEOUT) / 2


async def _unwind_within(stack: contextlib.AsyncExitStack, deadline: float) -> None:
    """Close `stack` (API, then gateway); past `deadline`, give up so systemd never SIGKILLs."""
    try:
        async with asyncio.timeout(deadline):
            await stack.aclose()
    except TimeoutError:
        stack.pop_all()  # what was not reached is left to the process exit
        log.error(
            "shutdown did not finish within %.0f s; exiting anyway (the buffer on disk is kept)",
            deadline,
        )


@contextlib.asynccontextmanager
async def _bounded_exit(
    cm: AbstractAsyncContextManager[object], timeout: float
) -> AsyncIterator[None]:
    """Enter `cm` as is; give its exit at most `timeout` seconds."""
    async with contextlib.AsyncExitStack() as inner:
        await inner.enter_async_context(cm)
        try:
            yield
        finally:
            try:
                async with asyncio.timeout(timeout):
                    await inner.aclose()
            except TimeoutError:
                log.warning("the API did not stop within %.1f s", timeout)


async def _watchdog(notifier: Notifier, interval: float) -> None:
    """WATCHDOG=1 every `interval` seconds (half of WatchdogSec), from the event loop."""
    while True:
        await asyncio.sleep(interval)
        notifier.send("WATCHDOG=1")


async def _status(gateway: Gateway, notifier: Notifier, sent: str) -> None:
    """STATUS= with the one-line summary whenever it changes (checked every STATUS_TICK s)."""
    while True:
        await asyncio.sleep(STATUS_TICK)
        summary = gateway.summary()
        if summary != sent:
            notifier.send(f"STATUS={summary}")
            sent = summary


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    tasks.clear()
