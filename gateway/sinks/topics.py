"""MQTT topics and payloads (SPEC "MQTT"), pure and cached for the hot path.

Topics follow the ISA-95 hierarchy `{prefix}/{site}/{area}/{line}/{device}[/{signal}]`; empty
levels (and an empty prefix) are left out. Per-signal topics are built once per (device, signal)
and then found by a dict lookup.
"""

from __future__ import annotations

import orjson

from gateway.config.models import GatewayIdentity
from gateway.model import BAD, Batch, Sample, StateChange


def join(*levels: str) -> str:
    """Topic levels joined with '/', empty ones left out."""
    return "/".join(level for level in levels if level)


class TopicBuilder:
    """The topics of one gateway: devices, signals, `$state` and the gateway's own status."""

    __slots__ = ("_base", "_devices", "_signals", "gateway")

    def __init__(self, prefix: str, identity: GatewayIdentity) -> None:
        self._base = join(prefix, identity.site, identity.area, identity.line)
        self.gateway = join(prefix, identity.site, "$gateway", identity.id)
        """`{prefix}/{site}/$gateway/{gateway_id}`: retained online/offline, and the last will."""
        self._devices: dict[str, str] = {}
        self._signals: dict[tuple[str, str], str] = {}

    def device(self, device: str) -> str:
        """`{prefix}/{site}/{area}/{line}/{device}`: the per_device topic."""
        topic = self._devices.get(device)
        if topic is None:
            topic = self._devices[device] = join(self._base, device)
        return topic

    def signal(self, device: str, signal: str) -> str:
        """`.../{device}/{signal}`: the per_signal topic."""
        key = (device, signal)
        topic = self._signals.get(key)
        if topic is None:
            topic = self._signals[key] = f"{self.device(device)}/{signal}"
        return topic

    def state(self, device: str) -> str:
        """`.../{device}/$state`: the device's retained connection state."""
        return f"{self.device(device)}/$state"


def signal_payload(sample: Sample) -> bytes:
    """`{"value": 1452.3, "ts": ..., "quality": "good", "unit": "degC"}` (unit only when set)."""
    if sample.unit is None:
        return orjson.dumps({"value": sample.value, "ts": sample.ts, "quality": sample.quality})
    return orjson.dumps(
        {"value": sample.value, "ts": sample.ts, "quality": sample.quality, "unit": sample.unit}
    )


def device_payload(batch: Batch) -> bytes:
    """`{"ts": ..., "values": {...}, "bad": [...]}`: one scan; uncertain values are included."""
    values = {}
    bad = []
    for sample in batch.samples:
        if sample.quality is BAD or sample.value is None:
            bad.append(sample.signal)
        else:
            values[sample.signal] = sample.value
    return orjson.dumps({"ts": batch.ts, "values": values, "bad": bad})


def state_payload(change: StateChange) -> bytes:
    """`{"state": "online"|"offline"|"error", "ts": ..., "error": "..."}` (error only when set)."""
    if change.error is None:
        return orjson.dumps({"state": change.state, "ts": change.ts})
    return orjson.dumps({"state": change.state, "ts": change.ts, "error": change.error})


def gateway_payload(state: str, version: str, ts: int) -> bytes:
    """`{"state": "online", "version": ..., "ts": ...}` for the gateway topic."""
    return orjson.dumps({"state": state, "version": version, "ts": ts})
