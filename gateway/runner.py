"""`gerbang run` as a daemon: signals, the systemd notify protocol, and a graceful shutdown.

SIGTERM and SIGINT set a stop event; the gateway then stops polling, publishes the offline
states and closes its sinks within a deadline below systemd's TimeoutStopSec, and the process
exits 0. READY=1 is sent once everything runs; WATCHDOG=1 is sent from the event loop itself,
so a hung loop stops the pings and systemd restarts the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from gateway.config.models import Config
from gateway.notify import Notifier
from gateway.service import Gateway

log = logging.getLogger(__name__)

STOP_DEADLINE = 8.0
"""Seconds the shutdown may take; the systemd unit's TimeoutStopSec is larger."""
STATUS_EVERY = 10.0


async def run_gateway(config: Config, path: Path | None = None) -> int:
    """Run until SIGTERM/SIGINT; return the process exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    notifier = Notifier()
    gateway = Gateway(config)
    try:
        await gateway.start()
        notifier.send("READY=1", f"STATUS={gateway.summary()}")
        log.info("config %s loaded; ready", path or "(in memory)")
        keepalive = asyncio.create_task(_keepalive(gateway, notifier), name="notify")
        await stop.wait()
        log.info("stopping")
        notifier.send("STOPPING=1")
        keepalive.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keepalive
        await gateway.stop(STOP_DEADLINE)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        notifier.close()
    return 0


async def _keepalive(gateway: Gateway, notifier: Notifier) -> None:
    """Ping systemd's watchdog at half its interval and refresh STATUS= now and then."""
    watchdog = notifier.watchdog_interval()
    period = min(watchdog, STATUS_EVERY) if watchdog else STATUS_EVERY
    since_status = 0.0
    while True:
        await asyncio.sleep(period)
        since_status += period
        fields = ["WATCHDOG=1"] if watchdog else []
        if since_status >= STATUS_EVERY:
            since_status = 0.0
            fields.append(f"STATUS={gateway.summary()}")
        if fields:
            notifier.send(*fields)
