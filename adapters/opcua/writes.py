"""Writing OPC UA variables with their own data type, reading them back, and calling methods.

An OPC UA server refuses a Write whose Variant type differs from the node's DataType (an Int32
node written as the Int64 Python's ints become is BadTypeMismatch, which some servers answer
with Good and no effect). So the node's DataType is read once per node and cached, and every
value is converted to exactly that type here, or refused with a sentence before anything is
sent. After the Write the value is read back and compared (a Float node compares as float32);
a server that answers Good and keeps its old value is an error naming both values.

Method calls convert each argument to the type its `InputArguments` declares, read the same
way, once per method.

`to_variant` and `same_value` are pure; the rest is the session I/O.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from asyncua import Node, ua

from gateway.adapter import ReadBackMismatch, WriteRefused
from gateway.model import Value

from .errors import OpcUaError
from .values import convert, status_text

_INTEGERS: dict[ua.VariantType, tuple[int, int]] = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}
_FLOATS = frozenset({ua.VariantType.Float, ua.VariantType.Double})


class OpcUaWriteMismatch(OpcUaError, ReadBackMismatch):
    """The server answered the Write with Good, but the value read back differs."""


def to_variant(name: str, value: Any, kind: ua.VariantType) -> ua.Variant:
    """`value` as a Variant of the node's type `kind`, or WriteRefused (nothing is sent)."""
    if kind == ua.VariantType.Boolean:
        if not isinstance(value, bool):
            raise WriteRefused(f"{name} is a Boolean: write true or false, not {value!r}")
        return ua.Variant(value, kind)
    if kind in (ua.VariantType.String, ua.VariantType.LocalizedText):
        if not isinstance(value, str):
            raise WriteRefused(f"{name} is a {kind.name}: write text, not {value!r}")
        text = ua.LocalizedText(value) if kind == ua.VariantType.LocalizedText else value
        return ua.Variant(text, kind)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WriteRefused(f"{name} is a {kind.name}: write a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise WriteRefused(f"{name}: {value} is not a finite number")
    if kind in _FLOATS:
        if kind == ua.VariantType.Float and abs(value) > 3.4028234663852886e38:
            raise WriteRefused(f"{name}: {value} is beyond what a Float holds")
        return ua.Variant(float(value), kind)
    if kind in _INTEGERS:
        if isinstance(value, float) and not value.is_integer():
            raise WriteRefused(f"{name} is an {kind.name}: write a whole number, not {value}")
        low, high = _INTEGERS[kind]
        if not low <= int(value) <= high:
            raise WriteRefused(
                f"{name}: {value} is outside what an {kind.name} holds ({low}..{high})"
            )
        return ua.Variant(int(value), kind)
    raise WriteRefused(f"{name}: its node holds a {kind.name}, which the gateway does not write")


def same_value(written: ua.Variant, read: Value) -> bool:
    """Whether the value read back is the one written (a Float compares as float32)."""
    value = written.Value
    if isinstance(value, ua.LocalizedText):
        value = value.Text
    if written.VariantType == ua.VariantType.Float and isinstance(read, float):
        return struct.pack(">f", value) == struct.pack(">f", read)
    return type(value) is type(read) and value == read


def shown(written: ua.Variant) -> Value:
    """The written value as a person writes it (a Float as its shortest float32 decimal)."""
    value = written.Value
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    if written.VariantType == ua.VariantType.Float:
        exact = struct.pack(">f", value)
        for digits in range(1, 10):
            if struct.pack(">f", short := float(f"{value:.{digits}g}")) == exact:
                return short
    result: Value = value
    return result


def read_value(data: ua.DataValue, node: str) -> Value:
    """A read-back DataValue as a sample value; OpcUaError-free: a bad status is a mismatch."""
    if data.StatusCode is not None and not data.StatusCode.is_good():
        return f"<{status_text(data.StatusCode)}>"
    value, error = convert(data.Value.Value if data.Value is not None else None)
    return value if error is None else f"<node {node}: {error}>"


class TypeCache:
    """The VariantType of each node and the input types of each method, read once."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str], ua.VariantType] = {}
        self._inputs: dict[tuple[str, str], list[tuple[str, ua.VariantType]]] = {}

    async def variable(self, endpoint: str, node: Node) -> ua.VariantType:
        key = (endpoint, node.nodeid.to_string())
        kind = self._types.get(key)
        if kind is None:
            kind = self._types[key] = await node.read_data_type_as_variant_type()
        return kind

    async def inputs(self, endpoint: str, method: Node) -> list[tuple[str, ua.VariantType]]:
        key = (endpoint, method.nodeid.to_string())
        found = self._inputs.get(key)
        if found is None:
            found = []
            for child in await method.get_children():
                name = await child.read_browse_name()
                if name.Name != "InputArguments":
                    continue
                for argument in await child.read_value() or []:
                    kind = ua.datatype_to_varianttype(argument.DataType)
                    if not isinstance(kind, ua.VariantType):  # a structure: refused on call
                        kind = ua.VariantType.ExtensionObject
                    found.append((argument.Name, kind))
            self._inputs[key] = found
        return found


async def write_and_read_back(
    node: Node, name: str, where: str, value: Any, kind: ua.VariantType
) -> tuple[Value, Value]:
    """Write `value` as `kind` to `node`, read it back: (written, read back), or a mismatch."""
    variant = to_variant(name, value, kind)
    await node.write_value(ua.DataValue(variant))
    read = read_value(await node.read_data_value(), where)
    written = shown(variant)
    if not same_value(variant, read):
        raise OpcUaWriteMismatch(
            f"{where}: wrote {written!r} to {name} but read back {read!r}: the server did not "
            "take the value",
            written,
            read,
        )
    if isinstance(read, float) and kind == ua.VariantType.Float:
        read = written
    return written, read
