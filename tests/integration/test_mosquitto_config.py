"""deploy/mosquitto/: the box's broker config, run by a real mosquitto on loopback ports.

The shipped gerbang.conf and gerbang.acl are used as they are, with only their paths moved into
a temporary folder and their ports made free ones (and the TLS listener bound to 127.0.0.1);
make-certs.sh makes the certificates; mosquitto_passwd the password file.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import accepts_tcp, free_port, mosquitto_binary
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
USERS = {"gerbang": "gw-secret", "reader": "rd-secret"}


@dataclass
class Broker:
    plain: int
    tls: int
    ca: Path
    log: Path


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    etc = tmp_path_factory.mktemp("etc-mosquitto")
    subprocess.run(
        [str(DEPLOY / "make-certs.sh"), str(etc / "certs"), "localhost", "127.0.0.1"],
        check=True,
        capture_output=True,
    )
    create = ["-c"]
    for user, password in USERS.items():
        subprocess.run(
            ["mosquitto_passwd", *create, "-b", str(etc / "passwd"), user, password],
            check=True,
            capture_output=True,
        )
        create = []
    shutil.copy(DEPLOY / "gerbang.acl", etc / "gerbang.acl")
    plain, tls = free_port(), free_port()
    conf = (DEPLOY / "gerbang.conf").read_text().replace("/etc/mosquitto/", f"{etc}/")
    conf, n_plain = re.subn(
        r"^listener 1883 127\.0\.0\.1$", f"listener {plain} 127.0.0.1", conf, flags=re.M
    )
    conf, n_tls = re.subn(r"^listener 8883$", f"listener {tls} 127.0.0.1", conf, flags=re.M)
    assert n_plain == n_tls == 1, "the shipped config changed its listeners: update this test"
    log = etc / "mosquitto.log"
    extra = ["persistence false", f"log_dest file {log}", "log_type all"]
    if os.geteuid() == 0:
        extra.append("user root")  # the mosquitto user could not read the temporary folder
    (etc / "mosquitto.conf").write_text("\n".join(extra) + "\n" + conf)
    proc = subprocess.Popen(
        [mosquitto_binary(), "-c", str(etc / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening(port: int) -> bool:
            if accepts_tcp("127.0.0.1", port):
                return True
            assert proc.poll() is None, log.read_text() if log.exists() else "no log"
            return False

        for port in (plain, tls):
            eventually_sync(lambda p=port: listening(p), 10, what=f"mosquitto listening on {port}")
        yield Broker(plain, tls, etc / "certs" / "ca.pem", log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Client:
    """A paho client that records connect results and messages, for one test."""

    def __init__(self, port: int, user: str | None, password: str | None, ca: Path | None) -> None:
        self.connected = threading.Event()
        self.result: str | None = None
        self.messages: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{id(self)}")
        if user is not None:
            self.client.username_pw_set(user, password)
        if ca is not None:
            self.client.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        self.result = str(reason)
        self.connected.set()

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with self.arrived:
            self.messages.append((msg.topic, msg.payload))
            self.arrived.notify_all()

    def wait_connected(self, timeout: float = 10.0) -> str | None:
        self.connected.wait(timeout)
        return self.result

    def wait_message(self, topic: str, timeout: float = 10.0) -> bytes:
        with self.arrived:
            ok = self.arrived.wait_for(lambda: any(t == topic for t, _ in self.messages), timeout)
        assert ok, f"nothing on {topic}: {self.messages}"
        return next(p for t, p in self.messages if t == topic)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def test_gateway_publishes_on_loopback_and_reader_reads_over_tls(
    broker: Broker, clients: list[Client]
) -> None:
    gateway = Client(broker.plain, "gerbang", USERS["gerbang"], None)
    reader = Client(broker.tls, "reader", USERS["reader"], broker.ca)
    clients += [gateway, reader]
    assert gateway.wait_connected() == "Success"
    assert reader.wait_connected() == "Success"
    reader.client.subscribe("factory/#", qos=1)
    gateway.client.publish("factory/casting/furnace-1/$state", b'{"state":"online"}', 1, True)
    assert reader.wait_message("factory/casting/furnace-1/$state") == b'{"state":"online"}'

    # A reader cannot publish: its message is dropped, the gateway's next one arrives alone.
    reader.client.publish("factory/casting/furnace-1/melt_temp", b"fake", qos=1).wait_for_publish(5)
    gateway.client.publish("factory/casting/furnace-1/marker", b"m", qos=1)
    reader.wait_message("factory/casting/furnace-1/marker")
    assert "factory/casting/furnace-1/melt_temp" not in [t for t, _ in reader.messages]


@pytest.mark.parametrize(
    ("user", "password"), [(None, None), ("gerbang", "wrong"), ("nobody", "x")]
)
def test_anonymous_and_wrong_passwords_are_refused(
    broker: Broker, clients: list[Client], user: str | None, password: str | None
) -> None:
    client = Client(broker.plain, user, password, None)
    clients.append(client)
    assert client.wait_connected() == "Not authorized"


def test_tls_port_does_not_speak_plain_mqtt(broker: Broker, clients: list[Client]) -> None:
    client = Client(broker.tls, "reader", USERS["reader"], None)
    clients.append(client)
    assert client.wait_connected(timeout=3) is None, "a plain client must not get a CONNACK"
