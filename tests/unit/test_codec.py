"""Register decoding: every type in every byte and word order, against `struct`."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.modbus.codec import compile_block, encode_value
from gateway.config.models import ModbusSignal
from gateway.model import BAD, GOOD, Sample

ORDERS = [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")]
INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def as_float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def sig(**fields: Any) -> ModbusSignal:
    return ModbusSignal.model_validate({"name": "v", "table": "holding", "address": 0, **fields})


def decode_one(signal: ModbusSignal, registers: list[int], start: int = 0) -> Sample:
    out: list[Sample | None] = [None]
    compile_block(signal.table, start, len(registers), [(0, signal)]).decode(registers, 7, out)
    assert out[0] is not None
    return out[0]


@pytest.mark.parametrize(
    ("byte_order", "word_order", "expected"),
    [
        ("big", "big", [0x0A0B, 0x0C0D]),
        ("big", "little", [0x0C0D, 0x0A0B]),
        ("little", "big", [0x0B0A, 0x0D0C]),
        ("little", "little", [0x0D0C, 0x0B0A]),
    ],
)
def test_the_four_orders_of_a_32_bit_value(byte_order, word_order, expected) -> None:
    signal = sig(type="uint32", byte_order=byte_order, word_order=word_order)
    assert encode_value(signal, 0x0A0B0C0D) == expected
    assert decode_one(signal, expected).value == 0x0A0B0C0D


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@pytest.mark.parametrize("type_", sorted(INT_RANGES))
@given(data=st.data())
def test_integers_round_trip_in_every_order(type_, byte_order, word_order, data) -> None:
    lo, hi = INT_RANGES[type_]
    value = data.draw(st.integers(lo, hi))
    signal = sig(type=type_, byte_order=byte_order, word_order=word_order)
    registers = encode_value(signal, value)
    sample = decode_one(signal, registers)
    assert sample.value == value
    assert type(sample.value) is int
    if (byte_order, word_order) == ("big", "big"):
        fmt = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q"}.get(
            type_, "Q"
        )
        raw = struct.pack(">" + fmt, value)
        assert registers == list(struct.unpack(f">{len(raw) // 2}H", raw))


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@given(value=st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_float32_round_trips_in_every_order(byte_order, word_order, value) -> None:
    signal = sig(type="float32", byte_order=byte_order, word_order=word_order)
    decoded = decode_one(signal, encode_value(signal, value)).value
    assert isinstance(decoded, float)
    assert as_float32(decoded) == value  # published shortest, reads back as the same float32


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_float64_round_trips_in_every_order(byte_order, word_order, value) -> None:
    signal = sig(type="float64", byte_order=byte_order, word_order=word_order)
    assert decode_one(signal, encode_value(signal, value)).value == value


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_bad(raw: float) -> None:
    registers = list(struct.unpack(">2H", struct.pack(">f", raw)))
    sample = decode_one(sig(type="float32"), registers)
    assert sample.quality is BAD
    assert sample.value is None


def test_scale_and_offset() -> None:
    sample = decode_one(
        sig(type="int16", scale=0.1, offset=-40), [struct.unpack(">H", struct.pack(">h", -55))[0]]
    )
    assert sample.value == pytest.approx(-45.5)
    assert decode_one(sig(type="uint16", scale=0.5), [3]).value == 1.5


@pytest.mark.parametrize(
    ("fields", "registers", "written"),
    [
        ({"type": "uint16", "scale": 0.1}, [513], "51.3"),
        ({"type": "int16", "scale": 0.01, "offset": -40}, [7001], "30.01"),
        ({"type": "uint16", "scale": 0.1, "decimals": 0}, [513], "51.0"),
        ({"type": "uint16", "scale": 2}, [513], "1026.0"),
        ({"type": "float32"}, list(struct.unpack(">2H", struct.pack(">f", 1.1))), "1.1"),
        (
            {"type": "float32", "scale": 0.1},
            list(struct.unpack(">2H", struct.pack(">f", 1.1))),
            "0.11",
        ),
        (
            {"type": "float32", "decimals": 2},
            list(struct.unpack(">2H", struct.pack(">f", 2.345678))),
            "2.35",
        ),
        (
            {"type": "float64", "scale": 0.1},
            list(struct.unpack(">4H", struct.pack(">d", 513.0))),
            "51.3",
        ),
        ({"type": "uint32"}, [0, 513], "513"),
    ],
)
def test_numbers_are_written_as_a_person_would(fields, registers, written) -> None:
    assert repr(decode_one(sig(**fields), registers).value) == written


@pytest.mark.parametrize("bit", range(16))
def test_each_bit_of_a_register(bit: int) -> None:
    word = 1 << bit
    assert decode_one(sig(type="bool", bit=bit), [word]).value is True
    assert decode_one(sig(type="bool", bit=bit), [0xFFFF ^ word]).value is False
    little = sig(type="bool", bit=bit, byte_order="little")
    assert decode_one(little, encode_value(little, True)).value is True


def test_bool_register_without_bit_is_nonzero() -> None:
    assert decode_one(sig(type="bool"), [0]).value is False
    assert decode_one(sig(type="bool"), [0x0100]).value is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"PP-ABS\0\0", "PP-ABS"),
        (b"AB  \0\0\0\0", "AB"),
        (b"12345678", "12345678"),
        (b"\xffA\0\0\0\0\0\0", "\ufffdA"),
    ],
)
def test_strings_strip_trailing_nuls_and_spaces(raw: bytes, expected: str) -> None:
    registers = list(struct.unpack(">4H", raw))
    assert decode_one(sig(type="string", length=4), registers).value == expected


def test_string_with_swapped_bytes() -> None:
    signal = sig(type="string", length=2, byte_order="little")
    assert encode_value(signal, "ABCD") == [0x4241, 0x4443]
    assert decode_one(signal, [0x4241, 0x4443]).value == "ABCD"


def test_a_block_decodes_every_member_at_its_offset() -> None:
    signals = [
        ModbusSignal(name="a", table="input", address=10, type="int16"),
        ModbusSignal(name="b", table="input", address=12, type="float32", word_order="little"),
        ModbusSignal(name="c", table="input", address=15, type="bool", bit=2),
    ]
    registers = [0] * 6
    registers[0:1] = encode_value(signals[0], -3)
    registers[2:4] = encode_value(signals[1], 2.5)
    registers[5:6] = encode_value(signals[2], True)
    out: list[Sample | None] = [None] * 3
    compile_block("input", 10, 6, list(enumerate(signals))).decode(registers, 99, out)
    assert [(s.signal, s.value, s.quality, s.ts) for s in out] == [
        ("a", -3, GOOD, 99),
        ("b", 2.5, GOOD, 99),
        ("c", True, GOOD, 99),
    ]


def test_bits_tables() -> None:
    signals = [
        ModbusSignal(name="door", table="discrete", address=3),
        ModbusSignal(name="lamp", table="discrete", address=5),
    ]
    out: list[Sample | None] = [None, None]
    compile_block("discrete", 3, 3, list(enumerate(signals))).decode([True, False, False], 1, out)
    assert [s.value for s in out] == [True, False]


def test_a_signal_outside_its_block_is_refused() -> None:
    with pytest.raises(ValueError):
        compile_block("holding", 0, 1, [(0, sig(type="uint32"))])


def test_decoding_is_exact_for_huge_uint64() -> None:
    assert decode_one(sig(type="uint64"), [0xFFFF] * 4).value == 2**64 - 1
    assert math.isfinite(decode_one(sig(type="float64"), [0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF]).value)
