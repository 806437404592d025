"""The sample model: what one reading of one signal becomes, and one device scan's batch of them.

These are plain slotted dataclasses, not pydantic models: a busy gateway creates tens of
thousands per second, and they are built only by adapters from already-validated config.
Timestamps are integer milliseconds since the Unix epoch, UTC (SPEC: "UTC, milliseconds").
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

Value: TypeAlias = float | int | bool | str | None


class Quality(StrEnum):
    """OPC-UA-like quality of a sample, as named in the SPEC."""

    GOOD = "good"
    BAD = "bad"
    UNCERTAIN = "uncertain"


GOOD = Quality.GOOD
BAD = Quality.BAD
UNCERTAIN = Quality.UNCERTAIN


def now_ms() -> int:
    """The current wall-clock time in integer milliseconds since the epoch (UTC)."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Sample:
    """One value of one signal of one device at one moment.

    `value` is None when the signal could not be read (quality bad); `error` then says why,
    naming the table and address or node, so status can show it.
    """

    signal: str
    value: Value
    quality: Quality
    ts: int
    unit: str | None = None
    error: str | None = None


def checked(signal: str, value: float, ts: int, unit: str | None) -> Sample:
    """A numeric sample whose quality is bad when the value is NaN or infinite (SPEC)."""
    if math.isfinite(value):
        return Sample(signal, value, GOOD, ts, unit)
    return Sample(signal, None, BAD, ts, unit, f"not a finite number: {value}")


@dataclass(slots=True)
class Batch:
    """The samples of one device scan: the unit of work from adapter to sinks.

    `ts` is the scan's timestamp (the moment the last response arrived); samples carry their
    own `ts`, which differs only where the protocol gives source timestamps (OPC UA, and then
    `source_ts` is set).
    """

    device: str
    ts: int
    samples: list[Sample] = field(default_factory=list)
    source_ts: bool = False
    """The samples carry the source's own timestamps (OPC UA), which may differ: sinks that
    write one record per scan (InfluxDB) write one per distinct timestamp instead."""


class DeviceState(StrEnum):
    """Connection state of a device as published on its `$state` topic."""

    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


@dataclass(slots=True)
class StateChange:
    """A device went online, offline or into error: published retained on `$state`."""

    device: str
    state: DeviceState
    ts: int
    error: str | None = None


ReportField: TypeAlias = float | int | bool | str


@dataclass(slots=True)
class Report:
    """A figure computed at the edge for one device (an alarm's present state, a shift's OEE):
    published retained under the device's topic and written as a point of its own measurement.

    Reports travel the same way as scans (the pipeline, each sink's store-and-forward outbox),
    so they survive an outage and a restart like samples do; they are rare (an alarm change, one
    OEE figure a minute), never per value.
    """

    device: str
    topic: str
    """The level(s) under the device's topic: `$alarms/too_hot`, `$oee`."""
    payload: dict[str, object] | None
    """The MQTT message, as JSON; None withdraws the retained message (an empty retained
    publish, MQTT's way to delete one), for a figure that no longer exists (an alarm removed
    from the config). A withdrawal has no fields: it writes no InfluxDB point."""
    measurement: str
    """The InfluxDB measurement: `alarms`, `oee`."""
    tags: dict[str, str]
    """Tags beside the sample tags (site, area, line, device, gateway): `alarm`, `shift`, ..."""
    fields: dict[str, ReportField]
    """The InfluxDB fields. Keep each field's type stable from one report to the next (ratios
    and seconds as float, counts as int): InfluxDB refuses a field whose type changes."""
    ts: int
