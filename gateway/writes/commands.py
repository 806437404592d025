"""MQTT write commands (`mqtt.commands: true`): `.../{device}/{signal}/$set` in, one result out.

A command is `{"value": 1450, "id": "any-string", "expires": <ms epoch, optional>}`; its result
goes to the same topic plus `/result`: `{"id", "ok": true, "value", "read_back"}` or
`{"id", "ok": false, "error"}`. A malformed command (not JSON, no `id`, no `value`) gets a
result with the reason, never silence.

Never queued, never replayed: the listener has a connection of its own with a clean session
(the broker keeps nothing for it while it is away), a retained command is refused (it would be
carried out again at every reconnect), an expired one is refused, and one for a device that is
not online right now is refused, not held for later. Its own connection also keeps commands
out of the sink's store-and-forward queue: a result is never delayed behind a backlog.

Carried out once: a command whose `id` was carried out on the same topic in the last
`REMEMBER_S` seconds (a QoS 1 message the broker delivered twice, a sender that retried after
losing the result) is not written again; its result is published again instead. A command that
was refused (nothing sent to the machine) is not remembered: the same id may be tried again.

paho's thread only hands messages to the loop (`call_soon_threadsafe`); the commands are carried
out one at a time, in arrival order, by one task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections import OrderedDict
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config.models import Config
from gateway.model import now_ms
from gateway.sinks.topics import join

from .service import WriteError, WriteService

log = logging.getLogger(__name__)

SUFFIX = "$set"
RECONNECT = 2.0
"""Seconds between connection attempts while the broker is away."""
REMEMBER_S = 600.0
"""How long a command id is remembered, so that a repeat of it is not carried out again."""
REMEMBER_MAX = 1000
"""Command ids remembered at most (the oldest forgotten first)."""


def base_topic(config: Config) -> str:
    """`{prefix}/{site}/{area}/{line}`: where device topics start (empty levels left out)."""
    identity = config.gateway
    return join(config.mqtt.topic_prefix, identity.site, identity.area, identity.line)


def parse_command(payload: bytes, now: int) -> tuple[str | None, Any]:
    """(id, value) of a command, or ValueError with the reason (the id when it could be read
    is in `args[1]`)."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(
            'the command is not JSON: send {"value": ..., "id": "..."}', None
        ) from None
    if not isinstance(data, dict):
        raise ValueError("the command must be a JSON object with value and id", None)
    command_id = data.get("id")
    if not isinstance(command_id, str) or not command_id:
        raise ValueError("the command has no id: give a string id to match its result", None)
    unknown = sorted(set(data) - {"value", "id", "expires"})
    if unknown:
        raise ValueError(
            f"unknown fields {', '.join(unknown)}: a command has value, id, expires", command_id
        )
    if "value" not in data:
        raise ValueError("the command has no value", command_id)
    expires = data.get("expires")
    if expires is not None:
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise ValueError("expires must be a time in ms since the epoch", command_id)
        if expires <= now:
            raise ValueError(
                f"the command expired {now - int(expires)} ms ago; not carried out", command_id
            )
    return command_id, data["value"]


class CommandListener:
    """Subscribes to `$set` topics and carries the commands out through the write service."""

    def __init__(self, config: Config, writes: WriteService) -> None:
        self.config = config
        self.writes = writes
        self.base = base_topic(config)
        self.subscribed = asyncio.Event()
        """Set once the subscription is acknowledged (tests and status)."""
        self.last_error: str | None = None
        """Why the listener is not listening now (status); None while subscribed."""
        self._queue: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue(maxsize=1000)
        self._client: paho.Client | None = None
        self._done: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        """(topic, id) of the commands carried out lately: when, and their result."""

    async def run(self) -> None:
        """Connect (again after a loss) and carry out commands until cancelled."""
        loop = asyncio.get_running_loop()
        worker = asyncio.create_task(self._work(), name="mqtt-commands:worker")
        try:
            while True:
                lost = asyncio.Event()
                client = self._new_client(loop, lost)
                try:
                    mqtt = self.config.mqtt
                    await asyncio.to_thread(
                        client.connect, mqtt.host, mqtt.port, int(mqtt.keepalive)
                    )
                except (OSError, ssl.SSLError) as exc:
                    self.last_error = f"cannot connect to {mqtt.host}:{mqtt.port}: {exc}"
                    log.debug("MQTT commands: cannot connect (%s); retrying", exc)
                    await asyncio.sleep(RECONNECT)
                    continue
                self._client = client
                client.loop_start()
                try:
                    await lost.wait()
                finally:
                    self.subscribed.clear()
                    self._client = None
                    await asyncio.to_thread(_stop, client)
                await asyncio.sleep(RECONNECT)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def _new_client(self, loop: asyncio.AbstractEventLoop, lost: asyncio.Event) -> paho.Client:
        mqtt = self.config.mqtt
        client_id = f"{mqtt.client_id or 'gerbang-' + self.config.gateway.id}-commands"
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if mqtt.username:
            password = mqtt.password.get_secret_value() if mqtt.password else None
            client.username_pw_set(mqtt.username, password)
        if mqtt.tls is not None:
            client.tls_set(
                ca_certs=mqtt.tls.ca_file, certfile=mqtt.tls.cert_file, keyfile=mqtt.tls.key_file
            )
            client.tls_insecure_set(mqtt.tls.insecure)
        pattern = join(self.base, "+", "+", SUFFIX)

        def on_connect(c: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                self.last_error = f"the broker refused the connection: {reason}"
                log.error("MQTT commands: the broker refused the connection: %s", reason)
                loop.call_soon_threadsafe(lost.set)
                return
            c.subscribe(pattern, qos=1)

        def on_subscribe(_c: Any, _u: Any, _mid: Any, codes: Any, _p: Any) -> None:
            refused = [code for code in codes if getattr(code, "is_failure", False)]
            if refused:
                self.last_error = f"the broker refused the subscription to {pattern}: {refused[0]}"
                log.error("MQTT commands: %s", self.last_error)
                return
            self.last_error = None
            log.info("MQTT commands: listening on %s", pattern)
            loop.call_soon_threadsafe(self.subscribed.set)

        def on_message(_c: Any, _u: Any, message: paho.MQTTMessage) -> None:
            item = (message.topic, bytes(message.payload), bool(message.retain))
            loop.call_soon_threadsafe(self._offer, item)

        def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if self.last_error is None:
                self.last_error = f"connection lost: {reason}"
            loop.call_soon_threadsafe(lost.set)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.on_disconnect = on_disconnect
        return client

    def _offer(self, item: tuple[str, bytes, bool]) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            log.warning(
                "MQTT commands: %d commands waiting; %s refused", self._queue.qsize(), item[0]
            )
            self._answer(item[0], {"id": None, "ok": False, "error": "too many commands waiting"})

    async def _work(self) -> None:
        while True:
            topic, payload, retained = await self._queue.get()
            await self.handle(topic, payload, retained)

    async def handle(self, topic: str, payload: bytes, retained: bool = False) -> dict[str, Any]:
        """Carry out one command and publish its result; the result."""
        result = await self._carry_out(topic, payload, retained)
        self._answer(topic, result)
        return result

    async def _carry_out(self, topic: str, payload: bytes, retained: bool) -> dict[str, Any]:
        rest = topic[len(self.base) + 1 :] if self.base else topic
        levels = rest.split("/")
        if len(levels) != 3 or levels[2] != SUFFIX:
            return {"id": None, "ok": False, "error": f"not a command topic: {topic}"}
        device, signal = levels[0], levels[1]
        try:
            command_id, value = parse_command(payload, now_ms())
        except ValueError as exc:
            reason, command_id = exc.args[0], exc.args[1]
            await self.writes.refused(device, signal, None, "mqtt", reason, command_id)
            return {"id": command_id, "ok": False, "error": reason}
        if retained:
            reason = "a retained command is not carried out (it would repeat at every reconnect)"
            await self.writes.refused(device, signal, value, "mqtt", reason, command_id)
            return {"id": command_id, "ok": False, "error": reason}
        assert command_id is not None  # parse_command gives one with every value
        repeat = self._repeat(topic, command_id)
        if repeat is not None:
            log.info(
                "MQTT commands: %s id %s again: carried out once, result sent again",
                topic,
                command_id,
            )
            return repeat
        try:
            written = await self.writes.write(
                device, signal, value, "mqtt", require_online=True, command_id=command_id
            )
        except WriteError as exc:
            if exc.result == "refused":  # nothing was sent: the same id may be tried again
                return {"id": command_id, "ok": False, "error": str(exc)}
            result: dict[str, Any] = {"id": command_id, "ok": False, "error": str(exc)}
        else:
            result = {
                "id": command_id,
                "ok": True,
                "value": written.value,
                "read_back": written.read_back,
            }
        self._remember(topic, command_id, result)
        return result

    def _repeat(self, topic: str, command_id: str) -> dict[str, Any] | None:
        """The result of the same command carried out lately, if it was."""
        now = time.monotonic()
        done = self._done
        while done and next(iter(done.values()))[0] < now - REMEMBER_S:
            done.popitem(last=False)
        entry = done.get((topic, command_id))
        return entry[1] if entry is not None else None

    def _remember(self, topic: str, command_id: str, result: dict[str, Any]) -> None:
        self._done[(topic, command_id)] = (time.monotonic(), result)
        while len(self._done) > REMEMBER_MAX:
            self._done.popitem(last=False)

    def _answer(self, topic: str, result: dict[str, Any]) -> None:
        client = self._client
        if client is None:
            log.warning("MQTT commands: no connection to answer %s: %s", topic, result)
            return
        client.publish(f"{topic}/result", json.dumps(result, default=str), qos=1, retain=False)


def _stop(client: paho.Client) -> None:
    with contextlib.suppress(Exception):
        client.disconnect()
    client.loop_stop()
