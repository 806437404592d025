"""MELSEC device addresses as GX Works writes them: `D100`, `X1A`, `M10`, `W1F`, `D100.F`.

    device  kind  numbers      what it is
    D       word  decimal      data register
    W       word  hexadecimal  link register
    R       word  decimal      file register
    M       bit   decimal      internal relay
    X       bit   hexadecimal  input (X/Y are hexadecimal on Q, L and iQ-R; octal on FX/iQ-F,
    Y       bit   hexadecimal  output   which this parser does not read yet)
    B       bit   hexadecimal  link relay
    L       bit   decimal      latch relay

A word device holds int16/uint16 in one word, int32/uint32/float32 in two and 64-bit types in
four, low word first (MELSEC order); a string spans `length` words, two characters a word, the
first in the low byte. A bool is a bit device, or one bit of a word written `D100.F` (the bit in
hexadecimal, 0-F, as iQ-R writes it); a bool on a whole word is true when the word is not 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.mc.errors import McAddressError
from adapters.mc.frame import BIT_DEVICES, DEVICE_CODES, HEX_DEVICES, MAX_NUMBER

TYPE_WORDS: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
    "float64": 4,
}
"""Words a numeric type spans on a word device."""
MAX_STRING_WORDS = 480
_FORMAT = "expected a device letter (D, W, R, M, X, Y, B, L) and its number, as D100, X1A, M10"
_SHAPE = re.compile(r"([A-Z]+)([0-9A-F]*)(?:\.([0-9A-F]*))?", re.ASCII)
_OTHER_DEVICES = {
    "ZR": "ZR (file register by serial number) is not supported yet: use R",
    "SD": "special registers (SD) are not supported yet",
    "SM": "special relays (SM) are not supported yet",
    "T": "timers are not supported: copy the value to a D register",
    "TN": "timers are not supported: copy the value to a D register",
    "C": "counters are not supported: copy the value to a D register",
    "CN": "counters are not supported: copy the value to a D register",
    "K": "K4M0-style digit notation is not supported: read the bits, or copy them to a D register",
}


@dataclass(frozen=True, slots=True)
class McAddress:
    """One parsed device address: device letter, device number, and a bit of a word device."""

    device: str
    number: int
    bit: int | None = None

    def __post_init__(self) -> None:
        if self.device not in DEVICE_CODES:
            raise McAddressError(f"device {self.device!r} is not one of {', '.join(DEVICE_CODES)}")
        if not 0 <= self.number <= MAX_NUMBER:
            raise McAddressError(f"device number {self.number} is past {MAX_NUMBER}")
        if self.bit is not None and (self.is_bit_device or not 0 <= self.bit <= 15):
            raise McAddressError("only a word device names a bit, 0-F")

    @property
    def is_bit_device(self) -> bool:
        """Whether the device holds bits (M, X, Y, B, L) rather than words."""
        return self.device in BIT_DEVICES

    def __str__(self) -> str:
        number = f"{self.number:X}" if self.device in HEX_DEVICES else str(self.number)
        bit = "" if self.bit is None else f".{self.bit:X}"
        return f"{self.device}{number}{bit}"


def _fail(text: str, what: str) -> McAddressError:
    return McAddressError(f"{text!r}: {what}")


def parse_address(text: str) -> McAddress:
    """The `McAddress` of `text`, or McAddressError naming the part that is wrong."""
    s = "".join(text.split()).upper()
    match = _SHAPE.fullmatch(s)
    if not s or match is None:
        if s[:1] in HEX_DEVICES:
            raise _fail(text, f"{s[0]} numbers are hexadecimal (0-9, A-F) on Q, L and iQ-R")
        hint = _OTHER_DEVICES["K"] if s[:1] == "K" else "not a device address"
        raise _fail(text, f"{hint}; {_FORMAT}")
    letters, digits, bit = match.groups()
    # Hexadecimal numbers can start with letters (XA, BFF): the device is the first letter
    # when that letter is a hexadecimal device.
    if letters[0] in HEX_DEVICES and len(letters) > 1 and all(c in "ABCDEF" for c in letters[1:]):
        letters, digits = letters[0], letters[1:] + digits
    if (
        letters not in DEVICE_CODES
        and letters[0] in DEVICE_CODES
        and not letters[1:].strip("ABCDEF")
    ):
        letters, digits = letters[0], letters[1:] + digits  # D1A, DA: reported as not decimal
    if letters not in DEVICE_CODES:
        hint = _OTHER_DEVICES.get(letters, f"{letters!r} is not a device")
        raise _fail(text, f"{hint}; {_FORMAT}")
    if not digits:
        raise _fail(text, f"{letters} needs its device number, as {letters}10")
    hexadecimal = letters in HEX_DEVICES
    if not hexadecimal and not digits.isdigit():
        raise _fail(
            text, f"{letters} numbers are decimal, not {digits!r} (only X, Y, B, W are hexadecimal)"
        )
    number = int(digits, 16 if hexadecimal else 10)
    if number > MAX_NUMBER:
        raise _fail(text, f"device number {number} is past the last one a request names")
    if bit is None:
        return McAddress(letters, number)
    if letters in BIT_DEVICES:
        raise _fail(text, f"{letters} is a bit device: {letters}{digits} is one bit already")
    if len(bit) != 1:
        raise _fail(text, f"the bit of a word is one hexadecimal digit 0-F, as {letters}{digits}.F")
    return McAddress(letters, number, int(bit, 16))


@dataclass(frozen=True, slots=True)
class McLocation:
    """Where a typed signal lies, in the word space one batch read in word units addresses.

    For a word device `word` is the device number; for a bit device it is the number of the
    16-bit word holding the bit (`number // 16`), read from device number `word * 16`.
    """

    address: McAddress
    type: str
    word: int
    words: int
    bit: int | None
    """The bit in the word for a bool (bit devices always; word devices with `.b`)."""

    @property
    def end(self) -> int:
        """One past the last word occupied."""
        return self.word + self.words


def locate(
    address: str | McAddress, type: str | None = None, length: int | None = None
) -> McLocation:
    """The location of a signal of `type` at `address`, checking that the two agree.

    Bit devices default to bool, word devices to int16 (a MELSEC word is signed, as in GX Works).
    """
    addr = parse_address(address) if isinstance(address, str) else address
    kind = type or ("bool" if addr.is_bit_device or addr.bit is not None else "int16")
    if addr.is_bit_device:
        if kind != "bool":
            raise McAddressError(
                f"{addr} is a bit device: type bool, not {kind} (copy bits to a D register "
                "to read them as a number)"
            )
        return McLocation(addr, kind, addr.number // 16, 1, addr.number % 16)
    if addr.bit is not None and kind != "bool":
        raise McAddressError(f"{addr} names a bit: type bool, not {kind}")
    if kind == "string":
        if length is None or not 1 <= length <= MAX_STRING_WORDS:
            raise McAddressError(
                f"{addr}: a string needs length, the words it spans (1-{MAX_STRING_WORDS}, "
                "two characters a word)"
            )
        words = length
    elif length is not None:
        raise McAddressError(f"{addr}: length is only for type string, not {kind}")
    elif kind == "bool":
        words = 1
    elif kind in TYPE_WORDS:
        words = TYPE_WORDS[kind]
    else:
        raise McAddressError(
            f"{addr}: type {kind} is not bool, string or one of {', '.join(TYPE_WORDS)}"
        )
    if addr.number + words - 1 > MAX_NUMBER:
        raise McAddressError(f"{addr}: {kind} spans {words} words, past the last device number")
    return McLocation(addr, kind, addr.number, words, addr.bit)
