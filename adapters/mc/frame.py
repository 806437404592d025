"""The MC protocol / SLMP 3E binary frame: batch read and write requests, responses.

A 3E request (all fields little-endian):

    50 00     subheader
    00        network number (0: the station connected to)
    FF        PC number (FF: the CPU of that station)
    FF 03     request destination module I/O number (03FF: the CPU)
    00        request destination module station number
    LL LL     request data length: bytes from the monitoring timer to the end
    TT TT     monitoring timer, in 250 ms units (0: wait forever)
    CC CC     command: 0401 batch read, 1401 batch write
    SS SS     subcommand: 0000 word units, 0001 bit units
    NN NN NN  head device number (3 bytes)
    DC        device code (D = A8, M = 90, ...)
    PP PP     number of points
    ...       write data: words little-endian; bits two per byte, the first in the high nibble

and its response:

    D0 00 NN PC IO IO ST LL LL   subheader and route echoed, response data length
    EE EE                        end code (0: success)
    ...                          read data (success) or error information (9 bytes)

Only the Q/L-compatible subcommands (3-byte device numbers, 1-byte device codes) are built:
Q, L, iQ-R and iQ-F CPUs all accept them for the devices below.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.mc.errors import EndCodeError, FrameError

DEVICE_CODES: dict[str, int] = {
    "D": 0xA8,  # data register
    "W": 0xB4,  # link register (hexadecimal numbers)
    "R": 0xAF,  # file register
    "M": 0x90,  # internal relay
    "X": 0x9C,  # input (hexadecimal numbers)
    "Y": 0x9D,  # output (hexadecimal numbers)
    "B": 0xA0,  # link relay (hexadecimal numbers)
    "L": 0x92,  # latch relay
}
BIT_DEVICES = frozenset({"M", "X", "Y", "B", "L"})
HEX_DEVICES = frozenset({"X", "Y", "B", "W"})

BATCH_READ = 0x0401
BATCH_WRITE = 0x1401
WORD_UNITS = 0x0000
BIT_UNITS = 0x0001
MAX_WORDS = 960
"""Word points in one batch read or write."""
MAX_BITS = 7168
"""Bit points in one batch read or write in bit units (iQ-F: 3584)."""
MAX_NUMBER = 0xFFFFFF
"""A head device number is 3 bytes."""

REQUEST_SUBHEADER = b"\x50\x00"
RESPONSE_SUBHEADER = b"\xd0\x00"
HEAD_BYTES = 9
"""Bytes of a response before its data length field's content: read these first."""


@dataclass(frozen=True, slots=True)
class Route:
    """Which station and CPU a request goes to; the defaults reach the CPU connected to."""

    network: int = 0x00
    pc: int = 0xFF
    module_io: int = 0x03FF
    station: int = 0x00

    def pack(self) -> bytes:
        """The 5 route bytes of a 3E frame."""
        return struct.pack("<BBHB", self.network, self.pc, self.module_io, self.station)


LOCAL = Route()


def _request(command: int, subcommand: int, body: bytes, timer: int, route: Route) -> bytes:
    payload = struct.pack("<HHH", timer, command, subcommand) + body
    return REQUEST_SUBHEADER + route.pack() + struct.pack("<H", len(payload)) + payload


def _device(device: str, number: int, points: int, limit: int) -> bytes:
    if device not in DEVICE_CODES:
        raise ValueError(f"device {device!r} is not one of {', '.join(DEVICE_CODES)}")
    if not 0 <= number <= MAX_NUMBER:
        raise ValueError(f"device number {number} does not fit 3 bytes")
    if not 1 <= points <= limit:
        raise ValueError(f"{points} points: one request carries 1-{limit}")
    return number.to_bytes(3, "little") + bytes([DEVICE_CODES[device]]) + struct.pack("<H", points)


def build_read(
    device: str,
    number: int,
    points: int,
    *,
    bits: bool = False,
    timer: int = 4,
    route: Route = LOCAL,
) -> bytes:
    """A batch read (0401) of `points` words (or, with `bits`, bit points) from `device` `number`.

    Word units on a bit device read 16 bits a point, the lowest device number in bit 0.
    `timer` is the PLC's own wait limit in 250 ms units (4: 1 s).
    """
    limit = MAX_BITS if bits else MAX_WORDS
    if bits and device not in BIT_DEVICES:
        raise ValueError(f"{device} is a word device: read it in word units")
    body = _device(device, number, points, limit)
    return _request(BATCH_READ, BIT_UNITS if bits else WORD_UNITS, body, timer, route)


def build_write(
    device: str,
    number: int,
    values: Sequence[int] | Sequence[bool],
    *,
    bits: bool = False,
    timer: int = 4,
    route: Route = LOCAL,
) -> bytes:
    """A batch write (1401) of `values`: 16-bit words, or with `bits` one bool per bit point."""
    limit = MAX_BITS if bits else MAX_WORDS
    if bits and device not in BIT_DEVICES:
        raise ValueError(f"{device} is a word device: write it in word units")
    head = _device(device, number, len(values), limit)
    data = encode_bits(values) if bits else encode_words(values)
    return _request(BATCH_WRITE, BIT_UNITS if bits else WORD_UNITS, head + data, timer, route)


def encode_words(values: Sequence[int]) -> bytes:
    """16-bit words little-endian; negative values as two's complement."""
    return struct.pack(f"<{len(values)}H", *(v & 0xFFFF for v in values))


def decode_words(data: bytes) -> tuple[int, ...]:
    """Unsigned 16-bit words from little-endian bytes."""
    if len(data) % 2:
        raise FrameError(f"{len(data)} bytes of word data: not a whole number of words")
    return struct.unpack(f"<{len(data) // 2}H", data)


def encode_bits(values: Sequence[bool] | Sequence[int]) -> bytes:
    """Bit points two per byte: the first in the high nibble (0x10), the second in the low.

    A point is on when its value is true (True, or a non-zero int)."""
    out = bytearray((len(values) + 1) // 2)
    for n, value in enumerate(values):
        if value:
            out[n // 2] |= 0x10 if n % 2 == 0 else 0x01
    return bytes(out)


def decode_bits(data: bytes, points: int) -> list[bool]:
    """The first `points` bit points of bit-unit read data (two per byte, high nibble first)."""
    if len(data) < (points + 1) // 2:
        raise FrameError(f"{len(data)} bytes of bit data for {points} points")
    return [bool(data[n // 2] & (0x10 if n % 2 == 0 else 0x01)) for n in range(points)]


def response_length(head: bytes) -> int:
    """From the first `HEAD_BYTES` of a response, the bytes that follow (end code and data).

    The I/O shell reads the head, then exactly this many bytes: TCP does not keep frames apart.
    """
    if len(head) < HEAD_BYTES:
        raise FrameError(f"a 3E response head is {HEAD_BYTES} bytes, got {len(head)}")
    if head[:2] != RESPONSE_SUBHEADER:
        raise FrameError(
            f"subheader {head[:2].hex(' ')} is not a 3E binary response (d0 00): "
            "is the PLC port set to binary and 3E frames?"
        )
    (length,) = struct.unpack_from("<H", head, 7)
    if length < 2:
        raise FrameError(f"response data length {length} leaves no room for the end code")
    return length


def parse_response(frame: bytes, what: str = "") -> bytes:
    """The data of a whole 3E response; EndCodeError when the PLC refused the request.

    `what` names the request in the error (`reading D100-D109`).
    """
    length = response_length(frame)
    if len(frame) != HEAD_BYTES + length:
        raise FrameError(
            f"response data length says {length} bytes, the frame has {len(frame) - HEAD_BYTES}"
        )
    (end_code,) = struct.unpack_from("<H", frame, HEAD_BYTES)
    if end_code:
        raise EndCodeError(end_code, what)
    return frame[HEAD_BYTES + 2 :]


def build_response(data: bytes = b"", end_code: int = 0, route: Route = LOCAL) -> bytes:
    """A 3E response as a PLC sends it: for simulators and tests.

    An error response carries the 9 bytes of error information (route, command, subcommand) a
    PLC appends; they are zeros here.
    """
    body = struct.pack("<H", end_code) + (data if end_code == 0 else bytes(9))
    return RESPONSE_SUBHEADER + route.pack() + struct.pack("<H", len(body)) + body


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed batch read or write request: what a simulator needs to answer it."""

    command: int
    subcommand: int
    device: str
    number: int
    points: int
    data: bytes
    route: Route
    timer: int


_CODE_DEVICES = {code: name for name, code in DEVICE_CODES.items()}


def parse_request(frame: bytes) -> Request:
    """The inverse of `build_read` / `build_write`: FrameError on anything else, EndCodeError
    with the code a PLC would answer for an unknown command or device."""
    if len(frame) < 21 or frame[:2] != REQUEST_SUBHEADER:
        raise FrameError(f"not a 3E binary request: {frame[:21].hex(' ')}")
    network, pc, module_io, station, length = struct.unpack_from("<BBHBH", frame, 2)
    if length != len(frame) - 9:
        raise EndCodeError(0xC061, f"(request data length {length}, got {len(frame) - 9})")
    timer, command, subcommand = struct.unpack_from("<HHH", frame, 9)
    if command not in (BATCH_READ, BATCH_WRITE) or subcommand not in (WORD_UNITS, BIT_UNITS):
        raise EndCodeError(0xC059, f"(command {command:04X}, subcommand {subcommand:04X})")
    number = int.from_bytes(frame[15:18], "little")
    device = _CODE_DEVICES.get(frame[18])
    if device is None:
        raise EndCodeError(0xC05C, f"(device code 0x{frame[18]:02X})")
    (points,) = struct.unpack_from("<H", frame, 19)
    route = Route(network, pc, module_io, station)
    return Request(command, subcommand, device, number, points, frame[21:], route, timer)
