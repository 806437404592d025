"""MQTT topics and payloads (SPEC "MQTT"): pure functions, no network, cached for the hot path.

Topics follow the ISA-95 hierarchy:

    {prefix}/{site}/{area}/{line}/{device}            per_device data
    {prefix}/{site}/{area}/{line}/{device}/{signal}   per_signal data
    {prefix}/{site}/{area}/{line}/{device}/$state     device state (retained)
    {prefix}/{site}/$gateway/{gateway_id}             gateway state (retained, last will)

Empty levels, including an empty prefix, are left out, so a gateway without `area` publishes
to `factory/pasuruan/line-1/furnace-1/melt_temp`, never to `factory/pasuruan//line-1/...`.
Level names are already validated by the config schema (no `/`, `+`, `#`), so nothing here
escapes them.

`TopicCache` builds each topic once; after that a sample's topic costs one dict lookup.
Payloads are encoded with orjson (~0.3 µs each, LIBRARIES.md).
"""

from __future__ import annotations

import orjson

from gateway.config.models import GatewayIdentity
from gateway.model import BAD, UNCERTAIN, Batch, Sample, StateChange

STATE_LEVEL = "$state"
GATEWAY_LEVEL = "$gateway"


def join(*levels: str) -> str:
    """Topic levels joined with '/', empty ones left out."""
    return "/".join(level for level in levels if level)


def device_topic(prefix: str, identity: GatewayIdentity, device_id: str) -> str:
    """`{prefix}/{site}/{area}/{line}/{device}`: the per_device data topic."""
    return join(prefix, identity.site, identity.area, identity.line, device_id)


def signal_topic(prefix: str, identity: GatewayIdentity, device_id: str, signal: str) -> str:
    """`{prefix}/{site}/{area}/{line}/{device}/{signal}`: the per_signal data topic."""
    return join(prefix, identity.site, identity.area, identity.line, device_id, signal)


def state_topic(prefix: str, identity: GatewayIdentity, device_id: str) -> str:
    """`{prefix}/{site}/{area}/{line}/{device}/$state`: the device's retained state."""
    return join(prefix, identity.site, identity.area, identity.line, device_id, STATE_LEVEL)


def gateway_topic(prefix: str, identity: GatewayIdentity) -> str:
    """`{prefix}/{site}/$gateway/{gateway_id}`: retained online/offline, and the last will."""
    return join(prefix, identity.site, GATEWAY_LEVEL, identity.id)


class TopicCache:
    """The topics of one gateway, each built on first use and then found by a dict lookup.

    Device and signal names come from the config, so the caches are bounded by its size; a new
    config builds a new sink and with it a new cache.
    """

    __slots__ = ("_base", "_devices", "_signals", "_states", "gateway")

    def __init__(self, prefix: str, identity: GatewayIdentity) -> None:
        self._base = join(prefix, identity.site, identity.area, identity.line)
        self.gateway: str = gateway_topic(prefix, identity)
        self._devices: dict[str, str] = {}
        self._signals: dict[tuple[str, str], str] = {}
        self._states: dict[str, str] = {}

    def device(self, device: str) -> str:
        """The per_device topic of `device`."""
        topic = self._devices.get(device)
        if topic is None:
            topic = self._devices[device] = join(self._base, device)
        return topic

    def signal(self, device: str, signal: str) -> str:
        """The per_signal topic of one signal of `device`."""
        key = (device, signal)
        topic = self._signals.get(key)
        if topic is None:
            topic = self._signals[key] = join(self._base, device, signal)
        return topic

    def state(self, device: str) -> str:
        """The `$state` topic of `device`."""
        topic = self._states.get(device)
        if topic is None:
            topic = self._states[device] = join(self._base, device, STATE_LEVEL)
        return topic


def signal_payload(sample: Sample) -> bytes:
    """per_signal: `{"value": 1452.3, "ts": ms, "quality": "good", "unit": "degC"}`.

    `unit` only when set. A bad sample has `"value": null` and, when the adapter said why, an
    `"error"` naming the cause (an addition to the SPEC fields, which are all kept).
    """
    payload: dict[str, object] = {"value": sample.value, "ts": sample.ts, "quality": sample.quality}
    if sample.unit is not None:
        payload["unit"] = sample.unit
    if sample.quality is BAD:
        payload["value"] = None
        if sample.error is not None:
            payload["error"] = sample.error
    return orjson.dumps(payload)


def device_payload(batch: Batch, still_bad: set[str] | None = None) -> bytes:
    """per_device: `{"ts": ms, "values": {...}, "bad": [names], "units": {name: unit}}`, one
    message per scan.

    `values` holds good and uncertain samples; `bad` names the signals that could not be read
    in this scan, then, sorted, those of `still_bad` (bad in an earlier scan and not read since:
    an OPC UA subscription reports a node once, not every scan). `still_bad`, the device's own
    set kept by the caller, is updated in place to what is bad after this scan. `units`
    gives the unit of each value that has one (left out when none has). When some values are
    uncertain, `"uncertain": [names]` lists them (an addition to the SPEC).
    """
    values: dict[str, object] = {}
    bad: list[str] = []
    uncertain: list[str] = []
    units: dict[str, str] = {}
    for sample in batch.samples:
        if sample.quality is BAD or sample.value is None:
            bad.append(sample.signal)
            continue
        values[sample.signal] = sample.value
        if still_bad:
            still_bad.discard(sample.signal)
        if sample.unit is not None:
            units[sample.signal] = sample.unit
        if sample.quality is UNCERTAIN:
            uncertain.append(sample.signal)
    if still_bad is not None:
        earlier = sorted(still_bad.difference(bad))
        still_bad.update(bad)
        bad.extend(earlier)
    payload: dict[str, object] = {"ts": batch.ts, "values": values, "bad": bad}
    if units:
        payload["units"] = units
    if uncertain:
        payload["uncertain"] = uncertain
    return orjson.dumps(payload)


def state_payload(change: StateChange, gateway: str) -> bytes:
    """`{"state": "online"|"offline"|"error", "ts": ms, "gateway": id, "error": "..."}` (error
    only when set).

    `gateway` names the gateway that polls the device: its state, on
    `{prefix}/{site}/$gateway/{gateway}`, says whether this retained message still holds. When
    the gateway dies, its last will says offline and nothing updates the device states.
    """
    if change.error is None:
        return orjson.dumps({"state": change.state, "ts": change.ts, "gateway": gateway})
    return orjson.dumps(
        {"state": change.state, "ts": change.ts, "gateway": gateway, "error": change.error}
    )


def gateway_payload(state: str, version: str, ts: int) -> bytes:
    """`{"state": "online"|"offline", "version": ..., "ts": ms}` for the gateway topic."""
    return orjson.dumps({"state": state, "version": version, "ts": ts})


def will_payload(version: str) -> bytes:
    """`{"state": "offline", "version": ..., "will": true}`: the last will, without `ts`.

    The broker publishes the will when it finds the connection gone (up to 1.5 x keepalive
    after the gateway died), a time the gateway cannot know when it sets the will at connect:
    a `ts` would be the connect time. A consumer takes the time it received the will.
    """
    return orjson.dumps({"state": "offline", "version": version, "will": True})
