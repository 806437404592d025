"""Values of every PLC number type, for the S7 and MC codecs' round-trip property tests, and
the one way a decoded value equals what was encoded (a float32 is published as its shortest
decimal, SPEC "What a reading becomes")."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from gateway.model import Value

NUMBERS: dict[str, st.SearchStrategy[int] | st.SearchStrategy[float]] = {
    "int8": st.integers(-128, 127),
    "uint8": st.integers(0, 255),
    "int16": st.integers(-(2**15), 2**15 - 1),
    "uint16": st.integers(0, 2**16 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "uint32": st.integers(0, 2**32 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
    "uint64": st.integers(0, 2**64 - 1),
    "float32": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "float64": st.floats(allow_nan=False, allow_infinity=False),
}
"""A strategy per type (int8 and uint8 are S7's only)."""


def assert_decodes_back(kind: str, decoded: Value, value: Value) -> None:
    """`decoded` is `value` as published: exactly, or for a float32 the same float32."""
    if kind == "float32":
        assert isinstance(decoded, float) and isinstance(value, float)
        assert struct.pack("<f", decoded) == struct.pack("<f", value)
    else:
        assert decoded == value
