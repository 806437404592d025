"""A local MQTT broker for `gerbang demo`: the one already answering on 127.0.0.1:1883, or a
mosquitto started in a temporary folder for as long as the demo runs, or, where mosquitto is not
installed, amqtt's broker embedded in the demo's own process (a laptop without Debian packages).

Only the demo uses this; a production gateway talks to the broker its config names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO_PATHS = ("mosquitto", "/usr/sbin/mosquitto")


@dataclass(frozen=True)
class Broker:
    """Where the demo's broker listens, and whether the demo started it."""

    host: str
    port: int
    started_here: bool


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_mosquitto() -> str | None:
    """The mosquitto binary, if installed (Debian puts it in /usr/sbin)."""
    for candidate in MOSQUITTO_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass(frozen=True)
class EmbeddedBroker(Broker):
    """amqtt's broker, running in this process."""


@contextlib.asynccontextmanager
async def local_broker(
    host: str = "127.0.0.1", port: int = 1883, *, use_mosquitto: bool = True
) -> AsyncIterator[Broker]:
    """Use the broker on host:port, or start mosquitto there (amqtt's embedded broker where
    mosquitto is not installed, or with `use_mosquitto=False`) until the block exits."""
    if answers(host, port):
        yield Broker(host, port, started_here=False)
        return
    binary = find_mosquitto() if use_mosquitto else None
    if binary is None:
        async with embedded_broker(host, port) as broker:
            yield broker
        return
    with tempfile.TemporaryDirectory(prefix="gerbang-broker-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        # As root, mosquitto would drop to user "mosquitto", who cannot read our private folder.
        as_root = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(
            f"listener {port} {host}\nallow_anonymous true\npersistence false\n"
            f"log_dest file {tmp}/mosquitto.log\n{as_root}"
        )
        # Its own session: Ctrl-C on a terminal signals the whole foreground process group,
        # and mosquitto would die at once, before the gateway said goodbye through it ("connection
        # lost", samples left in a buffer about to be deleted). We stop it, after the gateway.
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(conf),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 10
            while not answers(host, port, timeout=0.2):
                if proc.returncode is not None or time.monotonic() > deadline:
                    detail = _tail(Path(tmp, "mosquitto.log"))
                    raise RuntimeError(f"mosquitto did not start on {host}:{port}: {detail}")
                await asyncio.sleep(0.05)
            yield Broker(host, port, started_here=True)
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


def _tail(path: Path, size: int = 500) -> str:
    """The end of a log file, or nothing."""
    try:
        return path.read_text()[-size:]
    except OSError:
        return ""


@contextlib.asynccontextmanager
async def embedded_broker(host: str, port: int) -> AsyncIterator[Broker]:
    """amqtt's MQTT 3.1.1 broker on host:port in this event loop, anonymous, no persistence."""
    try:
        from amqtt.broker import Broker as AmqttBroker
    except ImportError:
        raise RuntimeError(
            f"no MQTT broker answers on {host}:{port}, mosquitto is not installed and neither is "
            "amqtt; install one: sudo apt-get install mosquitto (make demo does this)"
        ) from None
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    broker = AmqttBroker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield EmbeddedBroker(host, port, started_here=True)
    finally:
        await broker.shutdown()
