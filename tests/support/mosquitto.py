"""A real mosquitto broker for tests, a paho subscriber that records what arrives, and fixtures.

`Mosquitto` runs /usr/sbin/mosquitto on a free 127.0.0.1 port with its own config file in a
temporary folder (persistence off, anonymous or with a `mosquitto_passwd` file, optionally TLS).
It can be stopped, killed, paused and started again on the same port, for broker-restart tests.
Use it as `async with Mosquitto(tmp_path) as broker:` or `start()`/`stop()` it yourself.

`Subscriber` is a plain paho client (paho's own thread) that records every message under a lock
and lets a test `await sub.wait_for(predicate, timeout)`; it never sleeps a fixed time.

Fixtures (imported by tests/conftest.py): `mosquitto` (anonymous broker), `mosquitto_auth`
(user `gerbang`, password `s3cret`), `subscriber` (subscribed to `#` on `mosquitto`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.wait import eventually_sync

USER = "gerbang"
PASSWORD = "s3cret"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts_tcp(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection on `host`:`port` right now (0.2 s at most)."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def mosquitto_binary() -> str:
    """The mosquitto executable (Debian installs it in /usr/sbin, outside a user's PATH)."""
    found = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if found is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    return found


@dataclass(frozen=True)
class Certificates:
    """A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(directory: Path) -> Certificates:
    """Generate the certificates with `openssl` (EC P-256, valid 2 days); skip without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: cannot make certificates for the TLS tests")
    directory.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=directory)

    run(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=gerbang test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    for name, extensions in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (directory / f"{name}.ext").write_text(extensions)
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
    return Certificates(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client.pem",
        directory / "client.key",
    )


class Mosquitto:
    """One mosquitto process on 127.0.0.1:`port`; the port survives `stop()`/`start()`.

    `users` makes a password file with `mosquitto_passwd -b -c` and refuses anonymous clients;
    `tls` serves TLS only (and `require_certificate` asks clients for a certificate signed by the
    same CA).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        directory: Path,
        users: dict[str, str] | None = None,
        *,
        tls: Certificates | None = None,
        require_certificate: bool = False,
        persistence: bool = False,
        options: Sequence[str] = (),
        log_messages: bool = True,
    ) -> None:
        """`options`: more lines for mosquitto.conf; `log_messages=False` leaves out the debug
        log of every packet (benchmarks: at 20k messages/s it costs the broker a third of a
        core)."""
        self.directory = directory
        self.port = free_port()
        self.users = dict(users or {})
        self.tls = tls
        self._proc: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.log_file = directory / "mosquitto.log"
        lines = [f"listener {self.port} {self.host}"]
        if persistence:
            # Sessions and queued messages survive a restart; offline queues are unbounded, so
            # a subscriber that was away gets everything (for exact-delivery tests).
            lines += [
                "persistence true",
                f"persistence_location {directory}/",
                "max_queued_messages 0",
                "max_inflight_messages 0",
            ]
        else:
            lines.append("persistence false")
        if os.geteuid() == 0:
            # As root mosquitto drops to user "mosquitto", who cannot read our private tmp dir.
            lines.append("user root")
        lines.append(f"log_dest file {self.log_file}")
        lines += ["log_type all"] if log_messages else ["log_type error", "log_type warning"]
        lines += options
        if users:
            passwords = directory / "passwords"
            create = ["-c"]
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", *create, "-b", str(passwords), user, password],
                    check=True,
                    capture_output=True,
                )
                create = []
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if tls is not None:
            lines += [
                f"cafile {tls.ca}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
                f"require_certificate {'true' if require_certificate else 'false'}",
            ]
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "mosquitto is not running"
        return self._proc.pid

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and return once it accepts TCP connections (or raise)."""
        assert not self.running, "mosquitto is already running"
        self._proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proc = self._proc

        def listening() -> bool:
            if proc.poll() is not None:
                raise RuntimeError("mosquitto exited")
            return accepts_tcp(self.host, self.port)

        try:
            eventually_sync(listening, timeout, interval=0.01)
        except (RuntimeError, TimeoutError):
            self.kill()
            raise RuntimeError(
                f"mosquitto did not start on port {self.port}: {self.log()[-800:]}"
            ) from None

    def stop(self) -> None:
        """Stop the broker (SIGTERM: it closes client connections) and wait for it to exit."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
                self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def kill(self) -> None:
        """Kill the broker (SIGKILL): no goodbye to anyone, as in a power cut of the server."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open, nothing is acknowledged."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Unfreeze a paused broker (SIGCONT)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def log(self) -> str:
        """The broker's log so far (for assertion messages)."""
        return self.log_file.read_text() if self.log_file.exists() else ""

    async def __aenter__(self) -> Mosquitto:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.to_thread(self.stop)


@dataclass(frozen=True)
class Received:
    """One message as a subscriber saw it."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float = 0.0
    """time.monotonic() when it arrived."""

    def json(self) -> Any:
        return orjson.loads(self.payload)


class Subscriber:
    """A paho client subscribed to `topic` (QoS 1) on `broker`, recording every message.

    With a `client_id` and `clean_session=False` on a broker with persistence, the broker keeps
    what arrives while the subscriber is away and delivers it when it comes back.

    Create it inside a running event loop; `await ready()` before relying on it; `close()` (or
    `async with`) at the end. Credentials default to the broker's first user, TLS to its CA.
    """

    def __init__(
        self,
        broker: Mosquitto,
        topic: str = "#",
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.topic = topic
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-sub-{id(self)}",
            clean_session=clean_session,
        )
        if username is None and broker.users:
            username, password = next(iter(broker.users.items()))
        if username is not None:
            self.client.username_pw_set(username, password)
        if broker.tls is not None:
            self.client.tls_set(
                ca_certs=str(broker.tls.ca),
                certfile=str(broker.tls.client_cert),
                keyfile=str(broker.tls.client_key),
            )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect_async(broker.host, broker.port)
        self.client.loop_start()

    def _on_connect(self, client: paho.Client, *_: object) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(
                Received(msg.topic, msg.payload, bool(msg.retain), msg.qos, time.monotonic())
            )
        # RuntimeError: the test's event loop is gone, so nobody is waiting.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._changed.set)

    async def ready(self, timeout: float = 10.0) -> Subscriber:
        """Wait until the broker has acknowledged the subscription."""
        subscribed = await asyncio.to_thread(self._subscribed.wait, timeout)
        assert subscribed, f"no SUBACK for {self.topic!r} within {timeout} s"
        return self

    def on(self, topic: str) -> list[Received]:
        """Messages received on exactly `topic`, in order of arrival."""
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        """The latest message on exactly `topic`, if any."""
        found = self.on(topic)
        return found[-1] if found else None

    def values(self, topic: str) -> list[Any]:
        """The decoded JSON payloads on exactly `topic`, in order."""
        return [m.json() for m in self.on(topic)]

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Return once `predicate()` is truthy; re-checked on every message; TimeoutError after
        `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                if predicate():
                    return
                await self._changed.wait()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    async def __aenter__(self) -> Subscriber:
        return await self.ready()

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.to_thread(self.close)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """An anonymous mosquitto on a free loopback port, stopped after the test."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto_auth(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto that admits only user `gerbang` with password `s3cret`."""
    broker = Mosquitto(tmp_path / "mosquitto-auth", users={USER: PASSWORD})
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
async def subscriber(mosquitto: Mosquitto) -> AsyncIterator[Subscriber]:
    """A subscriber to `#` on the `mosquitto` fixture, subscribed before the test starts."""
    async with Subscriber(mosquitto) as sub:
        yield sub
