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
    for unit, factor in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
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


DURATION_OUT = PlainSerializer(format_duration, return_type=str)
"""Durations are written back out as text (`250ms`), the way they are read."""
DURATION_SCHEMA = WithJsonSchema({"type": "string", "examples": ["250ms", "1s", "2m"]})
SIZE_OUT = PlainSerializer(format_size, return_type=str)
SIZE_SCHEMA = WithJsonSchema({"type": "string", "examples": ["500MB", "1GB"]})

Duration = Annotated[float, BeforeValidator(parse_duration), DURATION_OUT, DURATION_SCHEMA]
"""A duration in seconds, written in config as `250ms`, `1s`, `2m`."""


def duration_between(low: float, high: float, why: str = "") -> BeforeValidator:
    """The validator of a duration field whose range is `low`..`high` seconds (both included).

    Use it in place of Duration's parser: `Annotated[float, duration_between(0.01, 600),
    DURATION_OUT, DURATION_SCHEMA]`. The message gives the range in the config's own units and,
    with `why`, what the bound is about: `'0ms' is out of range: write 10ms to 24h (...)`.
    """
    reason = f" ({why})" if why else ""
    where = f"write {_exact_duration(low)} to {_exact_duration(high)}"

    def check(value: object) -> float:
        seconds = parse_duration(value)
        if not low <= seconds <= high:
            raise ValueError(f"'{str(value).strip()}' is out of range: {where}{reason}")
        return seconds

    return BeforeValidator(check)


def _exact_duration(seconds: float) -> str:
    return format_duration(seconds) if seconds >= 0.001 else f"{seconds * 1000:g}ms"


def size_between(low: int, high: int, why: str = "") -> BeforeValidator:
    """The validator of a size field whose range is `low`..`high` bytes (both included)."""
    reason = f" ({why})" if why else ""
    where = f"write {format_size(low)} to {format_size(high)}"

    def check(value: object) -> int:
        size = parse_size(value)
        if not low <= size <= high:
            raise ValueError(f"'{str(value).strip()}' is out of range: {where}{reason}")
        return size

    return BeforeValidator(check)


def check_port(text: str) -> int:
    """The port number in `text` (digits), or ValueError giving the valid range."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"port {text or '(none)'} is out of range: ports are 1 to 65535")
    return int(text)


Size = Annotated[int, BeforeValidator(parse_size), SIZE_OUT, SIZE_SCHEMA]
"""A size in bytes, written in config as `500MB`, `1GB`."""
