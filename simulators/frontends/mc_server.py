"""An MC protocol (SLMP, 3E binary frame) server of ours, answering from a device memory.

A MELSEC CPU's Ethernet port opened for MC protocol, as far as a client can tell: batch read
(0401) and batch write (1401) in word units (subcommand 0000) and bit units (0001) of the
devices D, W, R (words) and M, X, Y, B, L (bits), answered from `McMemory`. A request past a
device's configured range answers end code 0xC056 (address out of range), an unknown command
0xC059, an unknown device code 0xC05C, a bit-unit access to a word device 0xC05C, a length that
does not match 0xC061, too many points 0xC051/0xC052: the codes a real Q/iQ-R CPU answers.
It uses the same pure frame codec as the adapter (`adapters.mc.frame`) and is checked against
a third-party client (pymcprotocol) in the tests.

It serves the simulators (`gerbang sim run MODEL --protocol mc`) and the MC adapter's tests,
and counts the requests it answers, so that a test can check a scan costs the planner's minimum.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

from adapters.mc.errors import EndCodeError, FrameError
from adapters.mc.frame import (
    BATCH_READ,
    BIT_DEVICES,
    BIT_UNITS,
    MAX_BITS,
    MAX_WORDS,
    build_response,
    decode_bits,
    encode_bits,
    parse_request,
)

log = logging.getLogger(__name__)

DEFAULT_SIZES: dict[str, int] = {
    "D": 12288,
    "W": 8192,
    "R": 32768,
    "M": 8192,
    "X": 8192,
    "Y": 8192,
    "B": 8192,
    "L": 8192,
}
"""Points of each device: a Q-series CPU's default device settings."""
MAX_REQUEST = 8192
"""Bytes of a request frame we read at most (a batch write of 960 words is 1,941)."""


class McMemory:
    """The devices of one CPU: words as ints 0-65535, bits as bools; sizes fixed at creation."""

    def __init__(self, sizes: dict[str, int] | None = None) -> None:
        self.sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
        self.words: dict[str, list[int]] = {
            d: [0] * n for d, n in self.sizes.items() if d not in BIT_DEVICES
        }
        self.bits: dict[str, list[bool]] = {
            d: [False] * n for d, n in self.sizes.items() if d in BIT_DEVICES
        }

    def set_words(self, device: str, number: int, values: list[int]) -> None:
        """Set consecutive words from `number` (negative values as two's complement)."""
        self.words[device][number : number + len(values)] = [v & 0xFFFF for v in values]

    def pack(self, device: str, number: int, fmt: str, *values: object) -> None:
        """Set words from little-endian `struct` bytes: `pack("D", 200, "<I", 70000)`."""
        raw = struct.pack(fmt, *values)
        self.set_words(device, number, list(struct.unpack(f"<{len(raw) // 2}H", raw)))

    def set_bits(self, device: str, number: int, values: list[bool]) -> None:
        """Set consecutive bits from `number`."""
        self.bits[device][number : number + len(values)] = values

    def _check(self, device: str, number: int, count: int) -> None:
        if device not in self.sizes:
            raise EndCodeError(0xC05C, f"(device {device} not configured)")
        if number + count > self.sizes[device]:
            raise EndCodeError(0xC056, f"({device}{number} + {count} points)")

    def read_words(self, device: str, number: int, points: int) -> bytes:
        """Word-unit read data: words little-endian; a bit device 16 bits a point."""
        if device in BIT_DEVICES:
            self._check(device, number, 16 * points)
            bits = self.bits[device][number : number + 16 * points]
            words = [sum(1 << b for b in range(16) if bits[16 * p + b]) for p in range(points)]
        else:
            self._check(device, number, points)
            words = self.words[device][number : number + points]
        return struct.pack(f"<{points}H", *words)

    def write_words(self, device: str, number: int, points: int, data: bytes) -> None:
        """Word-unit write: the inverse of `read_words`."""
        if len(data) != 2 * points:
            raise EndCodeError(0xC061, f"({len(data)} bytes for {points} words)")
        words = struct.unpack(f"<{points}H", data)
        if device in BIT_DEVICES:
            self._check(device, number, 16 * points)
            bits = [bool(w >> b & 1) for w in words for b in range(16)]
            self.bits[device][number : number + 16 * points] = bits
        else:
            self._check(device, number, points)
            self.words[device][number : number + points] = list(words)

    def read_bits(self, device: str, number: int, points: int) -> bytes:
        """Bit-unit read data: two points a byte, the first in the high nibble."""
        if device not in BIT_DEVICES:
            raise EndCodeError(0xC05C, f"(bit units on word device {device})")
        self._check(device, number, points)
        return encode_bits(self.bits[device][number : number + points])

    def write_bits(self, device: str, number: int, points: int, data: bytes) -> None:
        """Bit-unit write: the inverse of `read_bits`."""
        if device not in BIT_DEVICES:
            raise EndCodeError(0xC05C, f"(bit units on word device {device})")
        if len(data) != (points + 1) // 2:
            raise EndCodeError(0xC061, f"({len(data)} bytes for {points} bits)")
        self._check(device, number, points)
        self.bits[device][number : number + points] = decode_bits(data, points)

    def answer(self, frame: bytes) -> bytes:
        """The 3E response to one request frame (an error response for a refused one)."""
        try:
            req = parse_request(frame)
        except EndCodeError as exc:
            return build_response(end_code=exc.code)
        bits = req.subcommand == BIT_UNITS
        limit = MAX_BITS if bits else MAX_WORDS
        if not 1 <= req.points <= limit:
            return build_response(end_code=0xC051 if bits else 0xC052, route=req.route)
        try:
            if req.command == BATCH_READ:
                if req.data:
                    raise EndCodeError(0xC061, "(data after a read request)")
                read = self.read_bits if bits else self.read_words
                return build_response(read(req.device, req.number, req.points), route=req.route)
            write = self.write_bits if bits else self.write_words
            write(req.device, req.number, req.points, req.data)
            return build_response(route=req.route)
        except EndCodeError as exc:
            return build_response(end_code=exc.code, route=req.route)


class McServer:
    """An asyncio TCP server answering 3E binary frames from an `McMemory`."""

    def __init__(self, memory: McMemory, host: str = "127.0.0.1", port: int = 0) -> None:
        self.memory = memory
        self.host = host
        self.port = port
        self.requests = 0
        """Requests answered since start."""
        self.silent = False
        """When True, requests are read and never answered (a CPU that hangs)."""
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> McServer:
        """Listen on host:port (a free port when 0; `port` then holds it)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients[task] = writer
        try:
            while True:
                head = await reader.readexactly(9)
                if head[:2] != b"\x50\x00":
                    raise FrameError(f"not a 3E binary request: {head.hex(' ')}")
                (length,) = struct.unpack_from("<H", head, 7)
                if length > MAX_REQUEST:
                    raise FrameError(f"request data length {length} is too long")
                frame = head + await reader.readexactly(length)
                if self.silent:
                    continue
                self.requests += 1
                writer.write(self.memory.answer(frame))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # `stop` ends the connection. A handler that ended cancelled would be logged as an
            # error by asyncio's stream callback (3.11), so it ends normally instead.
            pass
        except FrameError as exc:
            log.warning("MC server: %s; closing the connection", exc)
        finally:
            self._clients.pop(task, None)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        """Stop listening and close every client connection (the PLC is gone)."""
        if self._server is None:
            return
        self._server.close()
        handlers = list(self._clients)
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> McServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
