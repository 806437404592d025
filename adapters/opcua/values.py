"""OPC UA DataValues as samples: quality from the StatusCode, the source timestamp, JSON values.

Pure functions, no network. Variant values map to what a sample can hold: numbers, bools and
strings (LocalizedText as its text, DateTime as ISO 8601 text, enumerations as their number).
Arrays, byte strings and structures are not samples: the signal is bad with an error that says
so, and every other signal is untouched.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from asyncua import ua

from gateway.model import BAD, GOOD, UNCERTAIN, Quality, Sample, Value
from gateway.numbers import Rounder, shortest_float32


def ms(moment: datetime | None) -> int | None:
    """A datetime (naive ones are UTC in asyncua) as integer ms since the epoch."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    stamp = int(moment.timestamp() * 1000)
    return stamp if stamp > 0 else None


def quality_of(status: ua.StatusCode | None) -> Quality:
    """good, uncertain or bad from the top bits of a StatusCode (none means good)."""
    if status is None:
        return GOOD
    severity = status.value >> 30
    return GOOD if severity == 0 else UNCERTAIN if severity == 1 else BAD


def status_text(status: ua.StatusCode) -> str:
    """`BadNodeIdUnknown (the server has no node with this id)` and the like."""
    try:
        name, description = ua.status_codes.get_name_and_doc(status.value)
    except Exception:
        return f"status 0x{status.value:08X}"
    return f"{name} ({description.rstrip('.')})" if description else name


def convert(value: object) -> tuple[Value, str | None]:
    """A variant's value as a sample value, or (None, why not)."""
    if isinstance(value, bool | int | str):
        return value, None
    if isinstance(value, float):
        if math.isfinite(value):
            return value, None
        return None, f"not a finite number: {value}"
    if isinstance(value, ua.LocalizedText):
        return value.Text or "", None
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.isoformat(timespec="milliseconds"), None
    if value is None:
        return None, "the node has no value"
    if isinstance(value, list | tuple):
        return None, f"an array of {len(value)} values: arrays are not supported as signals"
    if isinstance(value, bytes | bytearray):
        return None, "a ByteString: not supported as a signal"
    return None, f"a {type(value).__name__} structure: not supported as a signal"


def to_sample(
    name: str,
    unit: str | None,
    data: ua.DataValue,
    arrival: int,
    node: str = "",
    fix: Rounder | None = None,
) -> Sample:
    """One signal's sample from a DataValue; ts = source, then server timestamp, then arrival.

    A bad sample's error starts with `node {node}: ` so that status names the node. A number
    is written as a person would (`gateway.numbers`): rounded by `fix` (the signal's
    `decimals`), else a Float variant as the shortest decimal that reads back the same float32.
    """
    ts = ms(data.SourceTimestamp) or ms(data.ServerTimestamp) or arrival
    quality = quality_of(data.StatusCode)
    if quality is BAD:
        assert data.StatusCode is not None
        return Sample(name, None, BAD, ts, unit, f"node {node}: {status_text(data.StatusCode)}")
    variant = data.Value
    value, error = convert(variant.Value if variant is not None else None)
    if error is not None:
        return Sample(name, None, BAD, ts, unit, f"node {node}: {error}")
    if isinstance(value, float):
        if fix is not None:
            value = fix(value)
        elif variant is not None and variant.VariantType is ua.VariantType.Float:
            value = shortest_float32(value)
    return Sample(name, value, quality, ts, unit)
