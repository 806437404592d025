"""The checks S7 and MC writes make before anything is sent (`adapters.plcwrite`), as a table."""

from __future__ import annotations

import pytest

from adapters.plcwrite import check_value, shown
from gateway.adapter import WriteRefused

ACCEPTED = [
    ("bool", True, 1.0, 0.0, 0),
    ("int16", -32768, 1.0, 0.0, 0),
    ("uint16", 65535, 1.0, 0.0, 0),
    ("int16", 145.3, 0.1, 0.0, 0),
    ("uint32", 20.5, 0.5, 0.0, 0),
    ("float32", 3.0e38, 1.0, 0.0, 0),
    ("float64", 1e300, 1.0, 0.0, 0),
    ("string", "PN-42", 1.0, 0.0, 5),
]
REFUSED = [
    ("bool", 1, 1.0, 0.0, 0, "true or false"),
    ("int8", 128, 1.0, 0.0, 0, "out of range"),
    ("uint16", -1, 1.0, 0.0, 0, "out of range"),
    ("int16", 145.35, 0.1, 0.0, 0, "whole numbers"),
    ("int32", 1.5, 1.0, 0.0, 0, "whole numbers"),
    ("uint16", True, 1.0, 0.0, 0, "a number"),
    ("float32", 1e39, 1.0, 0.0, 0, "beyond its range"),
    ("float64", float("inf"), 1.0, 0.0, 0, "beyond its range"),
    ("string", "PN-420", 1.0, 0.0, 5, "5 characters"),
    ("string", "Grüße", 1.0, 0.0, 8, "ascii text only"),
    ("string", 42, 1.0, 0.0, 8, "write text"),
]


@pytest.mark.parametrize(("kind", "value", "scale", "offset", "chars"), ACCEPTED)
def test_accepted(kind: str, value: object, scale: float, offset: float, chars: int) -> None:
    check_value("x", kind, value, scale, offset, chars=chars)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "value", "scale", "offset", "chars", "words"), REFUSED)
def test_refused(
    kind: str, value: object, scale: float, offset: float, chars: int, words: str
) -> None:
    with pytest.raises(WriteRefused, match=words):
        check_value("x", kind, value, scale, offset, chars=chars)  # type: ignore[arg-type]


def test_shown_as_a_person_writes_it() -> None:
    assert shown("int16", 0.1, 0.0, 1453 * 0.1) == 145.3
    assert shown("float32", 1.0, 0.0, 0.10000000149011612) == 0.1
    assert shown("uint16", 1.0, 0.0, 7) == 7
