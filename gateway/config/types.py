"""Config values a technician writes as text: durations (`250ms`, `1s`, `2m`), sizes (`1GB`).

Each parser raises ValueError with a message that teaches the expected form, in the manner of
ESPHome ("'60' has no time unit; did you mean '60s'?"), because a bare number is the most common
mistake and its unit cannot be guessed safely.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# Milliseconds per unit: parsing computes in Decimal so that `1.1s` is exactly float 1.1.
_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)\s*$")
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)\s*$", re.IGNORECASE)


def parse_duration(value: object) -> float:
    """Seconds from `250ms`, `1s`, `1.5s`, `2m`, `2min` or `1h`."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 500ms, 1s or 2m, got {value!r}")
    if isinstance(value, int | float):
        raise ValueError(f"'{value}' has no time unit; did you mean '{value}s' or '{value}ms'?")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 500ms, 1s or 2m, got {value!r}")
    match = _DURATION_RE.match(value)
    if not match:
        bare = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", bare):
            raise ValueError(f"'{bare}' has no time unit; did you mean '{bare}s' or '{bare}ms'?")
        raise ValueError(
            f"'{value}' is not a duration; write a number and a unit: ms, s, m or h (500ms, 1s, 2m)"
        )
    return float(Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)] / 1000)


def format_duration(seconds: float) -> str:
    """The shortest exact text form of a duration, for writing config back out."""
    ms = round(seconds * 1000)
    for unit, factor in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= factor and ms % factor == 0:
            return f"{ms // factor}{unit}"
    return f"{ms}ms"


def parse_size(value: object) -> int:
    """Bytes from `1GB`, `500MB`, `64KiB` (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 500MB or 1GB, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a size such as 500MB or 1GB, got {value!r}")
    match = _SIZE_RE.match(value)
    if not match:
        bare = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", bare):
            raise ValueError(f"'{bare}' has no unit; did you mean '{bare}MB' or '{bare}GB'?")
        raise ValueError(
            f"'{value}' is not a size; write a number and a unit: B, KB, MB or GB (500MB, 1GB)"
        )
    return int(Decimal(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def format_size(size: int) -> str:
    """The text form of a size, for writing config back out."""
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def number_text(value: object) -> object:
    """An int from whole-number text (`"1"`, as `${VAR}` gives), anything else unchanged.

    For the fields whose choices are numbers (`qos: 0|1|2`): pydantic converts text to numbers
    for int fields, not for a Literal of ints.
    """
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["250ms", "1s", "2m"]}),
]
"""A duration in seconds, written in config as `250ms`, `1s`, `2m`."""

Size = Annotated[
    int,
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["500MB", "1GB"]}),
]
"""A size in bytes, written in config as `500MB`, `1GB`."""
