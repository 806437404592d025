"""How numbers are published (gateway.numbers): decimals of scale and offset, shortest float32."""

from __future__ import annotations

import struct
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.numbers import decimals_of, exact_scaling, rounder, shortest_float32


def as_float32(value: float) -> float:
    try:
        return float(struct.unpack("<f", struct.pack("<f", value))[0])
    except OverflowError:  # past the largest float32
        return float("inf")


def fewest_digits(value: float) -> int:
    """The fewest significant digits of any decimal that reads back as the float32 `value`."""
    exact = Decimal(value)
    for digits in range(1, 10):
        for rounding in (ROUND_FLOOR, ROUND_CEILING):
            candidate = Context(prec=digits, rounding=rounding).plus(exact)
            if as_float32(float(candidate)) == value:
                return digits
    raise AssertionError(value)


def digits_of(value: float) -> int:
    return len(Decimal(repr(value)).normalize().as_tuple().digits)


@pytest.mark.parametrize(
    ("number", "decimals"), [(0.1, 1), (0.25, 2), (2.0, 0), (1e-05, 5), (-40.0, 0), (0.5, 1)]
)
def test_decimals_of_a_config_number(number: float, decimals: int) -> None:
    assert decimals_of(number) == decimals


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("1.1", "1.1"),
        ("1452.3", "1452.3"),
        ("0.1", "0.1"),
        ("3.4028235e+38", "3.4028235e+38"),
        ("1e-45", "1e-45"),
        ("16777216", "16777216.0"),
        ("-273.15", "-273.15"),
    ],
)
def test_shortest_float32_of_familiar_values(written: str, kept: str) -> None:
    assert repr(shortest_float32(as_float32(float(written)))) == kept


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
@example(1.100000023841858)
@example(8388607.5)
@example(0.00000011920928955078125)
def test_shortest_float32_reads_back_the_same_and_is_shortest(value: float) -> None:
    written = shortest_float32(value)
    assert as_float32(written) == value
    if value:
        assert digits_of(written) == fewest_digits(value)


@pytest.mark.parametrize(
    ("kind", "scale", "offset", "decimals", "raw", "written"),
    [
        ("uint16", 0.1, 0.0, None, 513 * 0.1, "51.3"),
        ("int16", 0.01, -40.0, None, 7001 * 0.01 - 40, "30.01"),
        ("uint16", 0.1, 0.0, 3, 513 * 0.1, "51.3"),
        ("float32", 1.0, 0.0, None, as_float32(1.1), "1.1"),
        ("float64", 0.1, 0.0, None, 513.0 * 0.1, "51.3"),
        (None, 1.0, 0.0, 1, 2.345, "2.3"),
    ],
)
def test_rounder_writes_what_a_person_would(kind, scale, offset, decimals, raw, written) -> None:
    fix = rounder(kind, scale, offset, decimals)
    assert fix is not None
    assert repr(fix(raw)) == written


@pytest.mark.parametrize(
    ("kind", "scale", "offset", "decimals"),
    [
        ("uint16", 1.0, 0.0, None),
        ("int32", 2.0, 10.0, None),
        ("float64", 1.0, 0.0, None),
        (None, 1.0, 0.0, None),
        ("bool", 1.0, 0.0, None),
        ("string", 1.0, 0.0, 2),
        ("uint16", 1.0, 0.0, 2),
    ],
)
def test_signals_that_need_nothing_cost_nothing(kind, scale, offset, decimals) -> None:
    assert rounder(kind, scale, offset, decimals) is None


@given(
    raw=st.integers(-(2**63), 2**64 - 1),
    scale=st.sampled_from([0.1, 0.01, 0.5, 0.25, 2.0, 0.001, 1.5]),
    offset=st.sampled_from([0.0, -40.0, 0.5, -273.15, 10.0]),
)
def test_exact_scaling_is_the_decimal_a_person_writes(
    raw: int, scale: float, offset: float
) -> None:
    exact = exact_scaling("int64", scale, offset)
    if scale == 1.0 and offset == 0.0:
        assert exact is None
        return
    assert exact is not None
    times, plus, per = exact
    expected = Decimal(raw) * Decimal(repr(scale)) + Decimal(repr(offset))
    assert (raw * times + plus) / per == float(expected)


def test_exact_scaling_leaves_fewer_decimals_and_floats_to_the_rounder() -> None:
    assert exact_scaling("uint16", 0.01, 0.0, decimals=1) is None
    assert exact_scaling("float32", 0.1, 0.0) is None
    assert exact_scaling("uint16", 0.01, 0.0, decimals=3) == (1, 0, 100)
