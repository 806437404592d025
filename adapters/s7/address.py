"""S7 addresses as Siemens tools write them, and the bytes a typed signal occupies there.

A technician copies addresses from the PLC program (STEP 7, TIA Portal), so every spelling
those tools print is accepted: `DB1.DBX10.0`, `DB1.DBW8`, `MW20`, `M0.1`, `I0.3`, `QW4`, with
an optional `%` (TIA Portal), spaces (STEP 7 Classic: `DB1.DBX 10.0`), lower case, and the
German mnemonics `E` (input, Eingang) and `A` (output, Ausgang).

    area   size letter                      examples
    DB<n>  .DBX byte.bit .DBB .DBW .DBD     DB1.DBX10.0  DB2.DBB0  DB1.DBW8  DB1.DBD0
    M      X (or none) byte.bit, B, W, D    M0.1  MB3  MW20  MD4
    I / E  X (or none) byte.bit, B, W, D    I0.3  IW2  E0.3
    Q / A  X (or none) byte.bit, B, W, D    Q1.7  QW4  A1.7

The size letter must agree with the signal's type (`locate`): bool X, int8/uint8 B, int16/
uint16 W, int32/uint32/float32 D; a 64-bit value starts at the byte its D address names and is
8 bytes; a string (S7 STRING[length]: max-length byte, actual-length byte, characters) starts
at the byte of its B address and takes length + 2 bytes. A wrong letter would read half a
value, or two, without any error from the PLC: so it is refused here, once, at config time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from adapters.s7.errors import S7AddressError

Area: TypeAlias = Literal["DB", "M", "I", "Q"]
SizeLetter: TypeAlias = Literal["X", "B", "W", "D"]

MAX_DB = 65535
MAX_BYTE = 65535
"""The last byte offset: a DB (not "optimized") and the M/I/Q areas end before 64 KiB."""
MAX_STRING = 254
"""The longest S7 STRING: its length bytes are one byte each."""

_AREA_ALIASES: dict[str, Area] = {"M": "M", "I": "I", "E": "I", "Q": "Q", "A": "Q"}
_LETTER_WIDTH: dict[str, int] = {"X": 1, "B": 1, "W": 2, "D": 4}
_LETTERS: dict[str, SizeLetter] = {"X": "X", "B": "B", "W": "W", "D": "D"}
_LETTER_NAME: dict[str, str] = {"X": "bit", "B": "byte", "W": "word", "D": "double word"}
_FORMAT = (
    "expected DB<n>.DBX<byte>.<bit>, DB<n>.DBB<byte>, DB<n>.DBW<byte>, DB<n>.DBD<byte>, "
    "or an M, I or Q address such as M0.1, MB3, MW20, MD4, I0.3, IW2, Q1.7, QW4"
)
_OFFSET = re.compile(r"(\d+)(?:\.(\d+))?", re.ASCII)
_NOT_SUPPORTED = {
    "P": "peripheral addresses (PIW, PQW) are not supported: read the process image (IW, QW)",
    "T": "timers are not supported: copy the timer's value to a DB or merker word",
    "C": "counters are not supported: copy the counter's value to a DB or merker word",
    "Z": "counters are not supported: copy the counter's value to a DB or merker word",
    "V": "V memory (S7-200) is not supported: on an S7-200 it is DB1 (V100 is DB1.DBB100)",
}

TYPE_LAYOUT: dict[str, tuple[SizeLetter, int]] = {
    "bool": ("X", 1),
    "int8": ("B", 1),
    "uint8": ("B", 1),
    "int16": ("W", 2),
    "uint16": ("W", 2),
    "int32": ("D", 4),
    "uint32": ("D", 4),
    "float32": ("D", 4),
    "int64": ("D", 8),
    "uint64": ("D", 8),
    "float64": ("D", 8),
    "string": ("B", 2),  # plus `length` characters
}
"""Each type's size letter and the bytes it occupies from the address's byte."""

_S7_NAMES: dict[str, str] = {
    "bool": "BOOL",
    "int8": "SINT",
    "uint8": "USINT / BYTE",
    "int16": "INT",
    "uint16": "UINT / WORD",
    "int32": "DINT",
    "uint32": "UDINT / DWORD",
    "float32": "REAL",
    "int64": "LINT",
    "uint64": "ULINT / LWORD",
    "float64": "LREAL",
    "string": "STRING",
}
_DEFAULT_TYPE: dict[str, str] = {"X": "bool", "B": "uint8", "W": "uint16"}


@dataclass(frozen=True, slots=True)
class S7Address:
    """One parsed S7 address: area, data block number (0 outside DBs), byte, bit, size letter.

    `bit` is set exactly when `size` is `X`. `str()` gives the canonical spelling (`DB1.DBX10.0`,
    `MW20`, `I0.3`), the one status and error messages show.
    """

    area: Area
    db: int
    byte: int
    bit: int | None
    size: SizeLetter

    def __post_init__(self) -> None:
        if (self.area == "DB") != (self.db > 0) or not 0 <= self.db <= MAX_DB:
            raise S7AddressError(f"data block number {self.db} does not fit area {self.area}")
        if not 0 <= self.byte <= MAX_BYTE:
            raise S7AddressError(f"byte {self.byte} is past the last byte {MAX_BYTE}")
        if (self.size == "X") != (self.bit is not None):
            raise S7AddressError("a bit (X) address, and only a bit address, names a bit")
        if self.bit is not None and not 0 <= self.bit <= 7:
            raise S7AddressError(f"bit {self.bit} does not exist: the bits of a byte are 0-7")

    def __str__(self) -> str:
        bit = f".{self.bit}" if self.bit is not None else ""
        if self.area == "DB":
            return f"DB{self.db}.DB{self.size}{self.byte}{bit}"
        letter = "" if self.size == "X" else self.size
        return f"{self.area}{letter}{self.byte}{bit}"

    @property
    def width(self) -> int:
        """Bytes the size letter names: 1 (X, B), 2 (W) or 4 (D)."""
        return _LETTER_WIDTH[self.size]


def _fail(text: str, what: str, *, formats: bool = False) -> S7AddressError:
    """The error for `text`; with `formats`, the list of spellings follows (the address is not
    recognisable as any of them)."""
    return S7AddressError(f"{text!r}: {what}" + (f"; {_FORMAT}" if formats else ""))


def parse_address(text: str) -> S7Address:
    """The `S7Address` of `text`, or S7AddressError naming the part that is wrong."""
    s = "".join(text.split()).upper().removeprefix("%")
    if not s:
        raise _fail(text, "the address is empty", formats=True)
    if s.startswith("DB"):
        return _parse_db(text, s)
    area = _AREA_ALIASES.get(s[0])
    if area is None:
        hint = _NOT_SUPPORTED.get(s[0], f"{s[0]!r} is not an area (DB, M, I, Q)")
        raise _fail(text, hint, formats=s[0] not in _NOT_SUPPORTED)
    rest = s[1:]
    letter = _LETTERS.get(rest[:1])
    if letter is not None:
        offset = rest[1:]
    else:
        letter, offset = "X", rest
    return _finish(text, area, 0, letter, offset, f"{area}{'' if letter == 'X' else letter}")


def _parse_db(text: str, s: str) -> S7Address:
    match = re.fullmatch(r"DB(\d*)(.*)", s, re.ASCII)
    assert match is not None  # `s` starts with DB
    number, rest = match.groups()
    if not number:
        raise _fail(text, "a data block address names the block's number after DB, as DB1.DBW8")
    db = int(number)
    if not 1 <= db <= MAX_DB:
        raise _fail(text, f"data block numbers are 1-{MAX_DB}, not {db}")
    if not rest.startswith(".DB"):
        example = f"DB{db}.DBW{rest.lstrip('.XBWD') or 0}"
        raise _fail(text, f"after DB{db} comes .DB and the size letter, as {example}")
    letter, offset = _LETTERS.get(rest[3:4]), rest[4:]
    if letter is None:
        raise _fail(
            text,
            f"{rest[3:4] or 'nothing'!r} after DB{db}.DB is not a size letter: "
            "X (bit), B (byte), W (word) or D (double word)",
        )
    return _finish(text, "DB", db, letter, offset, f"DB{db}.DB{letter}")


def _finish(
    text: str, area: Area, db: int, letter: SizeLetter, offset: str, prefix: str
) -> S7Address:
    match = _OFFSET.fullmatch(offset)
    if match is None:
        raise _fail(
            text,
            f"{offset or 'nothing'!r} after {prefix} is not a byte offset "
            + ("and bit (10.0)" if letter == "X" else "(digits, as 8)"),
        )
    byte, bit = int(match[1]), match[2]
    if byte > MAX_BYTE:
        raise _fail(text, f"byte {byte} is past the last byte {MAX_BYTE}")
    if letter == "X":
        if bit is None:
            raise _fail(text, f"a bit address names the bit after the byte, as {prefix}{byte}.0")
        if int(bit) > 7:
            raise _fail(text, f"bit {bit} does not exist: the bits of a byte are 0-7")
        return S7Address(area, db, byte, int(bit), "X")
    if bit is not None:
        name = _LETTER_NAME[letter]
        raise _fail(
            text,
            f"a {name} address ({prefix}) names a byte, not a bit: drop .{bit}, "
            "or read one bit with X",
        )
    return S7Address(area, db, byte, None, letter)


@dataclass(frozen=True, slots=True)
class S7Location:
    """Where a typed signal lies: its address and the bytes it spans from `address.byte`.

    The planner and the codec work on these; `key` is what one read request may span (one DB,
    or one of the M, I, Q areas).
    """

    address: S7Address
    type: str
    size: int
    """Bytes occupied, from `address.byte`: 1 for a bool (its byte), length + 2 for a string."""
    length: int | None = None
    """A string's maximum number of characters (its STRING[n] declaration)."""

    @property
    def key(self) -> tuple[str, int]:
        """(area, db): what one read request may span."""
        return self.address.area, self.address.db

    @property
    def start(self) -> int:
        """The first byte occupied."""
        return self.address.byte

    @property
    def end(self) -> int:
        """One past the last byte occupied."""
        return self.address.byte + self.size


def default_type(address: S7Address) -> str:
    """The type of a signal that names none: bool (X), uint8 (B), uint16 (W).

    A double word has no default: a REAL read as a DWORD would be a silent wrong value.
    """
    if address.size not in _DEFAULT_TYPE:
        raise S7AddressError(
            f"{address}: a double word needs a type: float32 (REAL), int32 (DINT) "
            "or uint32 (UDINT / DWORD)"
        )
    return _DEFAULT_TYPE[address.size]


def locate(
    address: str | S7Address, type: str | None = None, length: int | None = None
) -> S7Location:
    """The location of a signal of `type` at `address`, checking that the two agree.

    Raises S7AddressError naming the address, the type and the address the type needs.
    """
    addr = parse_address(address) if isinstance(address, str) else address
    kind = type or default_type(addr)
    if kind not in TYPE_LAYOUT:
        raise S7AddressError(f"{addr}: type {kind} is not one of {', '.join(TYPE_LAYOUT)}")
    letter, size = TYPE_LAYOUT[kind]
    s7_name = _S7_NAMES[kind]
    if addr.size != letter:
        raise S7AddressError(
            f"{addr} is a {_LETTER_NAME[addr.size]} ({addr.size}) address, but {kind} "
            f"({s7_name}) needs a {_LETTER_NAME[letter]} ({letter}) address, as "
            f"{_respell(addr, letter)}"
        )
    if kind == "string":
        if length is None or not 1 <= length <= MAX_STRING:
            raise S7AddressError(
                f"{addr}: a string needs length, its STRING[n] size in characters "
                f"(1-{MAX_STRING})" + ("" if length is None else f", not {length}")
            )
        size += length
    elif length is not None:
        raise S7AddressError(f"{addr}: length is only for type string, not {kind}")
    if addr.byte + size - 1 > MAX_BYTE:
        raise S7AddressError(f"{addr}: {kind} spans {size} bytes, past the last byte {MAX_BYTE}")
    return S7Location(addr, kind, size, length)


def _respell(addr: S7Address, letter: SizeLetter) -> str:
    bit = 0 if letter == "X" else None
    return str(S7Address(addr.area, addr.db, addr.byte, bit, letter))
