"""Encoding a write (adapters/modbus/encode.py): tables against hand-made registers, refusals
with their reasons, and round trips through the real decoder (decode(encode(v)) == v)."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.modbus.codec import compile_block
from adapters.modbus.encode import (
    EncodeError,
    WritePlan,
    decimals_of,
    merge_bit,
    plan_write,
    registers_of,
)
from gateway.config.models import ModbusSignal

ORDERS = [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")]
INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def sig(**fields: Any) -> ModbusSignal:
    base = {"name": "sp", "table": "holding", "address": 50, "writable": True}
    return ModbusSignal.model_validate({**base, **fields})


def decoded(signal: ModbusSignal, registers: list[int] | tuple[int, ...]) -> Any:
    out: list[Any] = [None]
    block = compile_block(signal.table, signal.address, len(registers), [(0, signal)])
    block.decode(list(registers), 1, out)
    return out[0].value


@pytest.mark.parametrize(
    ("fields", "value", "expected"),
    [
        ({"type": "uint16", "scale": 0.1}, 145.3, WritePlan(6, 50, (1453,))),
        ({"type": "int16", "scale": 0.1, "offset": -50}, -12.5, WritePlan(6, 50, (375,))),
        ({"type": "int16"}, -2, WritePlan(6, 50, (0xFFFE,))),
        ({"type": "uint32"}, 0x0A0B0C0D, WritePlan(16, 50, (0x0A0B, 0x0C0D))),
        (
            {"type": "uint32", "word_order": "little"},
            0x0A0B0C0D,
            WritePlan(16, 50, (0x0C0D, 0x0A0B)),
        ),
        (
            {"type": "uint32", "byte_order": "little"},
            0x0A0B0C0D,
            WritePlan(16, 50, (0x0B0A, 0x0D0C)),
        ),
        (
            {"type": "uint32", "byte_order": "little", "word_order": "little"},
            0x0A0B0C0D,
            WritePlan(16, 50, (0x0D0C, 0x0B0A)),
        ),
        ({"type": "float32"}, 1450.0, WritePlan(16, 50, (0x44B5, 0x4000))),
        ({"type": "float64"}, 1.0, WritePlan(16, 50, (0x3FF0, 0, 0, 0))),
        ({"type": "string", "length": 3}, "AB1", WritePlan(16, 50, (0x4142, 0x3100, 0))),
        ({"type": "string", "length": 1}, "AB", WritePlan(6, 50, (0x4142,))),
        ({"type": "bool"}, True, WritePlan(6, 50, (1,))),
        ({"type": "bool", "byte_order": "little"}, True, WritePlan(6, 50, (0x0100,))),
        ({"type": "bool", "bit": 4}, True, WritePlan(6, 50, (), bit=True)),
        ({"table": "coil", "address": 7}, True, WritePlan(5, 7, bit=True)),
        ({"table": "coil", "address": 7}, False, WritePlan(5, 7, bit=False)),
    ],
)
def test_write_plans(fields: dict[str, Any], value: Any, expected: WritePlan) -> None:
    assert plan_write(sig(**fields), value) == expected


def test_a_device_that_takes_only_the_multiple_functions_gets_15_and_16() -> None:
    assert plan_write(sig(table="coil"), True, multiple=True) == WritePlan(15, 50, bit=True)
    assert plan_write(sig(type="uint16"), 3, multiple=True) == WritePlan(16, 50, (3,))
    assert plan_write(sig(type="bool", bit=2), True, multiple=True).read_modify_write


@pytest.mark.parametrize(
    ("fields", "value", "reason"),
    [
        ({"type": "uint16", "scale": 0.1}, 145.35, "cannot be written exactly with scale 0.1"),
        ({"type": "uint16"}, 12.5, "write a whole number, not 12.5"),
        ({"type": "uint16"}, -1, "outside what a uint16 holds (0..65535)"),
        ({"type": "uint16"}, 65536, "outside what a uint16 holds"),
        ({"type": "int16", "scale": 0.1}, 4000, "4000 (raw 40000) is outside what a int16"),
        ({"type": "float32"}, 1e39, "beyond what a float32 holds"),
        ({"type": "float32"}, math.nan, "not a finite number"),
        ({"type": "uint16"}, True, "write a number, not True"),
        ({"type": "uint16"}, "12", "write a number, not '12'"),
        ({"type": "bool"}, 1, "write true or false, not 1"),
        ({"table": "coil"}, "on", "write true or false"),
        ({"type": "string", "length": 1}, "ABC", "3 characters do not fit its 1 registers"),
        ({"type": "string", "length": 2}, "Bänd", "is not ASCII text"),
        ({"type": "string", "length": 2}, 12, "write text, not 12"),
    ],
)
def test_refusals_say_why(fields: dict[str, Any], value: Any, reason: str) -> None:
    with pytest.raises(EncodeError, match=r"^sp") as caught:
        plan_write(sig(**fields), value)
    assert reason in str(caught.value)


@pytest.mark.parametrize("byte_order", ["big", "little"])
def test_a_bit_write_keeps_the_other_bits(byte_order: str) -> None:
    signal = sig(type="bool", bit=4, byte_order=byte_order)
    word = 0b1010_0000_0000_0001 if byte_order == "big" else 0b0000_0001_1010_0000
    merged = merge_bit(signal, word, True)
    assert decoded(signal, [merged]) is True
    assert merged ^ word in (0x0010, 0x1000)  # exactly one bit changed
    assert merge_bit(signal, merged, False) == word


def test_decimals_of() -> None:
    assert [decimals_of(x) for x in (0.1, 0.25, 10, 1.0, 0.001)] == [1, 2, 0, 0, 3]


@given(st.sampled_from(sorted(INT_RANGES)), st.sampled_from(ORDERS), st.data())
def test_integers_round_trip(kind: str, orders: tuple[str, str], data: st.DataObject) -> None:
    low, high = INT_RANGES[kind]
    value = data.draw(st.integers(low, high))
    signal = sig(type=kind, byte_order=orders[0], word_order=orders[1])
    assert decoded(signal, plan_write(signal, value).registers) == value


@given(st.sampled_from(ORDERS), st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_float32_round_trips(orders: tuple[str, str], value: float) -> None:
    signal = sig(type="float32", byte_order=orders[0], word_order=orders[1])
    back = decoded(signal, plan_write(signal, value).registers)
    # Published as the shortest decimal of the same float32 (SPEC), so compare as float32.
    assert struct.pack("<f", back) == struct.pack("<f", value)


@given(st.sampled_from(ORDERS), st.floats(allow_nan=False, allow_infinity=False))
def test_float64_round_trips(orders: tuple[str, str], value: float) -> None:
    signal = sig(type="float64", byte_order=orders[0], word_order=orders[1])
    assert decoded(signal, plan_write(signal, value).registers) == value


@given(
    st.sampled_from([(0.1, 0.0), (0.01, 0.0), (0.5, 0.0), (0.1, -40.0), (10.0, 5.0)]),
    st.integers(-(2**15), 2**15 - 1),
)
def test_scaled_values_round_trip_to_their_decimals(
    scale_offset: tuple[float, float], raw: int
) -> None:
    scale, offset = scale_offset
    signal = sig(type="int16", scale=scale, offset=offset)
    places = decimals_of(scale)
    value = round(raw * scale + offset, places)  # what a technician types
    registers = plan_write(signal, value).registers
    assert registers == tuple(struct.unpack(">H", struct.pack(">h", raw)))
    assert round(decoded(signal, registers), places) == value


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8))
def test_strings_round_trip(text: str) -> None:
    for byte_order in ("big", "little"):
        signal = sig(type="string", length=4, byte_order=byte_order)
        assert decoded(signal, registers_of(signal, text)) == text
