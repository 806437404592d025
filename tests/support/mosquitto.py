"""A real mosquitto broker for tests, and a paho subscriber that records what arrives.

`Mosquitto` runs /usr/sbin/mosquitto on a free loopback port with its own config in a temporary
folder; it can be stopped and started again on the same port (broker restart tests).
`Subscriber` collects messages from paho's thread and lets a test await a condition with a
deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.modbus_server import free_port


def mosquitto_binary() -> str:
    """The mosquitto executable (Debian installs it in /usr/sbin)."""
    found = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if found is None:
        raise RuntimeError("mosquitto is not installed (make test installs it)")
    return found


class Mosquitto:
    """One mosquitto process on 127.0.0.1:`port`, optionally with a password file."""

    def __init__(self, directory: Path, users: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.host = "127.0.0.1"
        self._proc: subprocess.Popen[bytes] | None = None
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if os.geteuid() == 0:
            # As root mosquitto drops to user "mosquitto", who cannot read our private tmp dir.
            lines.append("user root")
        lines.append(f"log_dest file {directory / 'mosquitto.log'}")
        if users:
            passwords = directory / "passwords"
            passwords.touch(mode=0o600)
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwords), user, password], check=True
                )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        self._proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {self.log()[-800:]}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the broker (SIGTERM) and wait for it to exit."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def kill(self) -> None:
        """Kill the broker (SIGKILL): no clean goodbye to clients."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text() if path.exists() else ""


@dataclass(frozen=True)
class Received:
    """One message as a subscriber saw it."""

    topic: str
    payload: bytes
    retain: bool

    def json(self) -> object:
        return orjson.loads(self.payload)


class Subscriber:
    """A paho client subscribed to a topic filter, recording every message thread-safely."""

    def __init__(self, broker: Mosquitto, topic: str = "#", **auth: str) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{id(self)}")
        if auth:
            self.client.username_pw_set(auth["username"], auth["password"])
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    async def ready(self, timeout: float = 10.0) -> Subscriber:
        """Wait until the subscription is active."""
        await asyncio.wait_for(asyncio.to_thread(self._subscribed.wait, timeout), timeout + 1)
        assert self._subscribed.is_set(), "subscription not acknowledged"
        return self

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain)))
        self._loop.call_soon_threadsafe(self._changed.set)

    def on(self, topic: str) -> list[Received]:
        """Messages received on exactly `topic`, in order."""
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        found = self.on(topic)
        return found[-1] if found else None

    async def wait_for(self, condition: Callable[[], object], timeout: float = 10.0) -> None:
        """Return once `condition()` is truthy; raise TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
