"""The MQTT sink's messages: what one publication is, how a batch becomes messages, and how a
batch's messages are framed as bytes for the outbox's disk tier.

Pure: no network, no paho. The sink (`gateway.sinks.mqtt`) encodes each batch once, at
`submit`, with `Encoder`; the outbox stores the result with `dump_messages`/`load_messages`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import orjson

from gateway.buffer import Entry
from gateway.config.models import GatewayIdentity, MqttConfig
from gateway.model import Batch, Report, StateChange, now_ms
from gateway.sinks.topics import (
    TopicCache,
    device_payload,
    gateway_payload,
    signal_payload,
    state_payload,
    will_payload,
)


class Kind(IntEnum):
    """What a message carries, which decides what happens to it when its connection drops."""

    DATA = 0
    """Samples: their outbox entry is taken again, in order."""
    STATE = 1
    """A device's `$state`: back into the latest-per-device map, unless a newer one came."""
    GATEWAY = 2
    """The gateway's own state: re-published by the next connect anyway, so dropped."""


@dataclass(slots=True)
class Message:
    """One MQTT publication, with the number of samples it carries (for `delivered`)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    samples: int = 0
    kind: Kind = Kind.DATA
    device: str = ""
    entry: Entry[list[Message]] | None = None
    """The outbox entry a data message belongs to, set when it is sent."""


_FRAME = struct.Struct("<HIH")
"""A stored data message: topic length, payload length, samples; then topic and payload."""


def dump_messages(messages: list[Message]) -> bytes:
    """A batch's data messages as bytes for the outbox's disk tier (QoS and retain are not
    stored: they are the config's when the message is sent)."""
    parts: list[bytes] = []
    for message in messages:
        topic = message.topic.encode()
        parts.append(_FRAME.pack(len(topic), len(message.payload), message.samples))
        parts.append(topic)
        parts.append(message.payload)
    return b"".join(parts)


def load_messages(raw: bytes, qos: int, retain: bool) -> list[Message]:
    """The inverse of `dump_messages`. A report's topic (`.../$alarms/x`, `.../$oee`: no signal
    name holds a `$`) is retained and at least QoS 1 whatever the config says, as when sent."""
    out: list[Message] = []
    offset = 0
    size = _FRAME.size
    while offset < len(raw):
        topic_len, payload_len, samples = _FRAME.unpack_from(raw, offset)
        offset += size
        topic = raw[offset : offset + topic_len].decode()
        offset += topic_len
        payload = raw[offset : offset + payload_len]
        offset += payload_len
        if len(payload) != payload_len:
            raise ValueError("truncated message")
        if "/$" in topic:
            out.append(Message(topic, payload, max(qos, 1), True, samples))
        else:
            out.append(Message(topic, payload, qos, retain, samples))
    return out


def message_size(messages: list[Message]) -> int:
    """About how many bytes `dump_messages` makes of `messages` (the outbox's accounting)."""
    return sum(len(m.topic) + len(m.payload) + 8 for m in messages)


class Encoder:
    """Turns scans, device states and the gateway's state into messages (SPEC "MQTT"): one
    message per signal (`per_signal`) or one per scan (`per_device`)."""

    def __init__(self, config: MqttConfig, identity: GatewayIdentity, version: str) -> None:
        self.topics = TopicCache(config.topic_prefix, identity)
        self.version = version
        self._gateway_id = identity.id
        self._data_qos = config.qos
        # A state must not be lost even when the user accepts losing samples (QoS 0).
        self._state_qos = max(config.qos, 1)
        self._retain = config.retain
        self._bad: dict[str, set[str]] = {}
        """per_device: each device's signals bad in their latest sample, named in every
        message until a good sample (or a new device state) clears them."""
        self.batch: Callable[[Batch], list[Message]] = (
            self._device if config.mode == "per_device" else self._signals
        )
        """The data messages of one scan (none for a scan without samples)."""

    def _signals(self, batch: Batch) -> list[Message]:
        topic = self.topics.signal
        device = batch.device
        qos = self._data_qos
        retain = self._retain
        return [
            Message(topic(device, s.signal), signal_payload(s), qos, retain, 1)
            for s in batch.samples
        ]

    def _device(self, batch: Batch) -> list[Message]:
        if not batch.samples:
            return []
        return [
            Message(
                self.topics.device(batch.device),
                device_payload(batch, self._bad.setdefault(batch.device, set())),
                self._data_qos,
                self._retain,
                len(batch.samples),
            )
        ]

    def state(self, change: StateChange) -> Message:
        """A device's retained `$state`."""
        # A device that reconnects reads every signal again; what was bad is read anew.
        self._bad.pop(change.device, None)
        return Message(
            self.topics.state(change.device),
            state_payload(change, self._gateway_id),
            self._state_qos,
            True,
            kind=Kind.STATE,
            device=change.device,
        )

    def report(self, report: Report) -> Message:
        """A report (an alarm's state, OEE figures), retained under the device's topic."""
        return Message(
            f"{self.topics.device(report.device)}/{report.topic}",
            b"" if report.payload is None else orjson.dumps(report.payload),
            self._state_qos,
            True,
            1,
        )

    def gateway(self, state: str) -> Message:
        """The gateway's retained state, stamped now."""
        return Message(self.topics.gateway, self.gateway_payload(state), 1, True, kind=Kind.GATEWAY)

    def gateway_payload(self, state: str) -> bytes:
        """The payload of the gateway's state, stamped now."""
        return gateway_payload(state, self.version, now_ms())

    def will_payload(self) -> bytes:
        """The payload of the last will (no `ts`: see `topics.will_payload`)."""
        return will_payload(self.version)
