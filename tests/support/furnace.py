"""A Modbus unit holding one value of every type, byte order and word order at known addresses,
the signals that read it and the values they must decode to.

Shared by the adapter tests (in-process pollers) and the end-to-end tests (`gerbang run`), so
both check the same exact values.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from tests.support.modbus_server import RegisterBank


def regs(fmt: str, value: Any) -> list[int]:
    """Big-endian registers of `value` packed with struct format `fmt`."""
    raw = struct.pack(">" + fmt, value)
    return list(struct.unpack(f">{len(raw) // 2}H", raw))


def swap_words(registers: list[int]) -> list[int]:
    return list(reversed(registers))


def swap_bytes(registers: list[int]) -> list[int]:
    return [((r & 0xFF) << 8) | (r >> 8) for r in registers]


def furnace_bank() -> RegisterBank:
    """A unit holding one value of every type and order, at known addresses."""
    bank = RegisterBank()
    bank.set("holding", 0, regs("f", 1452.5))  # float32 ABCD
    bank.set("holding", 2, swap_words(regs("I", 123_456_789)))  # uint32 CDAB
    bank.set("holding", 4, regs("h", -1234))  # int16
    bank.set("holding", 5, regs("H", 0b10000))  # status word: bit 4 set
    bank.set("holding", 6, swap_bytes(regs("i", -7_654_321)))  # int32 BADC
    bank.set("holding", 8, swap_bytes(swap_words(regs("d", -2.25e10))))  # float64 DCBA
    bank.set("holding", 12, regs("Q", 2**63 + 5))  # uint64
    bank.set("holding", 16, regs("q", -(2**40)))  # int64
    bank.set("holding", 40, list(struct.unpack(">4H", b"PP-ABS\0\0")))  # string, 4 registers
    bank.set("input", 10, [3105])  # power_kw x0.1
    bank.set("input", 11, regs("f", float("nan")))  # a broken sensor
    bank.set("coil", 2, [True])
    bank.set("discrete", 3, [True])
    return bank


FURNACE_SIGNALS: list[dict[str, Any]] = [
    {"name": "melt_temp", "table": "holding", "address": 0, "type": "float32", "unit": "degC"},
    {"name": "parts", "table": "holding", "address": 2, "type": "uint32", "word_order": "little"},
    {"name": "offset_i16", "table": "holding", "address": 4, "type": "int16"},
    {"name": "alarm", "table": "holding", "address": 5, "type": "bool", "bit": 4},
    {"name": "alarm_low", "table": "holding", "address": 5, "type": "bool", "bit": 3},
    {"name": "i32_badc", "table": "holding", "address": 6, "type": "int32", "byte_order": "little"},
    {
        "name": "f64_dcba",
        "table": "holding",
        "address": 8,
        "type": "float64",
        "byte_order": "little",
        "word_order": "little",
    },
    {"name": "big_counter", "table": "holding", "address": 12, "type": "uint64"},
    {"name": "i64", "table": "holding", "address": 16, "type": "int64"},
    {"name": "recipe", "table": "holding", "address": 40, "type": "string", "length": 4},
    {"name": "power_kw", "table": "input", "address": 10, "scale": 0.1, "unit": "kW"},
    {"name": "broken", "table": "input", "address": 11, "type": "float32"},
    {"name": "heater_on", "table": "coil", "address": 2},
    {"name": "door_open", "table": "discrete", "address": 3},
]

FURNACE_EXPECTED = {
    "melt_temp": 1452.5,
    "parts": 123_456_789,
    "offset_i16": -1234,
    "alarm": True,
    "alarm_low": False,
    "i32_badc": -7_654_321,
    "f64_dcba": -2.25e10,
    "big_counter": 2**63 + 5,
    "i64": -(2**40),
    "recipe": "PP-ABS",
    "power_kw": pytest.approx(310.5),
    "heater_on": True,
    "door_open": True,
}
