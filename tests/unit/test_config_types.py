"""Durations and sizes as a technician writes them, and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config.types import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1s", 1.0),
        ("1.5s", 1.5),
        ("1.1s", 1.1),
        ("2m", 120.0),
        ("2min", 120.0),
        ("1h", 3600.0),
        (" 10 s ", 10.0),
        ("0ms", 0.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (60, "'60' has no time unit; did you mean '60s' or '60ms'?"),
        ("60", "'60' has no time unit; did you mean '60s' or '60ms'?"),
        ("1 sec", "'1 sec' is not a duration; write a number and a unit: ms, s, m or h"),
        ("-1s", "'-1s' is not a duration"),
        (True, "expected a duration such as 500ms, 1s or 2m, got True"),
    ],
)
def test_parse_duration_teaches_the_form(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (1.0, "1s"), (1.5, "1500ms"), (120.0, "2m"), (7200.0, "2h"), (0.0, "0ms")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_duration_round_trip_in_milliseconds(ms: int) -> None:
    seconds = ms / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1GB", 1_000_000_000),
        ("500MB", 500_000_000),
        ("64KiB", 65_536),
        ("1.5GiB", 1_610_612_736),
        ("10 b", 10),
        (4096, 4096),
    ],
)
def test_parse_size(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("100", "'100' has no unit; did you mean '100MB' or '100GB'?"),
        ("1 gig", "'1 gig' is not a size; write a number and a unit: B, KB, MB or GB"),
        (-1, "a size cannot be negative"),
        (1.5, "expected a size such as 500MB or 1GB, got 1.5"),
    ],
)
def test_parse_size_teaches_the_form(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_size(value)
    assert str(caught.value).startswith(message)


@given(st.integers(min_value=0, max_value=10**15))
def test_size_round_trip(size: int) -> None:
    assert parse_size(format_size(size)) == size
