"""One MC protocol (SLMP, 3E binary) connection shared by every device on one host:port.

A MELSEC Ethernet port opened for MC protocol answers one request at a time per connection,
so the link sends one 3E frame and reads its answer before the next: the 9-byte head first,
then exactly the response data length it announces (`readexactly`: TCP does not keep frames
apart, and a few hundred words may come in two segments). Everything runs under the device's
timeout; a timeout, a malformed answer or a dropped connection closes the socket, so that a
late answer is never taken for the next request's, and the next read reconnects (the poller's
backoff paces it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

from gateway.config.models import McDevice

from .address import McAddress
from .errors import FrameError, LinkDown, NoResponse
from .frame import (
    HEAD_BYTES,
    Route,
    build_read,
    build_write,
    decode_bits,
    decode_words,
    parse_response,
    response_length,
)

log = logging.getLogger(__name__)


class McLink:
    """A shared, serialized MC connection: `request` for the pollers, `write` for the writer."""

    def __init__(self, device: McDevice) -> None:
        self.key = device.link
        self.users = 0
        """Devices using this link; the registry closes it when the last one leaves."""
        self._host, self._port = device.host, device.port
        self._timeout = device.timeout
        self.timer = min(0xFFFF, max(1, math.ceil(device.timeout / 0.25)))
        """The PLC's own monitoring timer, in 250 ms units: no longer than our timeout."""
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        """`PLC 192.168.1.81:5007`, as messages name it."""
        return f"PLC {self._host}:{self._port}"

    @property
    def connected(self) -> bool:
        """Whether the connection is open now."""
        return self._streams is not None

    async def read_words(
        self, device: str, head: int, points: int, route: Route, what: str
    ) -> bytes:
        """The data of a batch read in word units (2 bytes a point, little-endian).

        Raises LinkDown, NoResponse, FrameError or EndCodeError (the PLC refused it).
        """
        frame = build_read(device, head, points, timer=self.timer, route=route)
        data = await self.request(frame, what)
        if len(data) != 2 * points:
            raise FrameError(
                f"{self.where} answered {len(data)} bytes reading {what}, not {2 * points}"
            )
        return data

    async def request(self, frame: bytes, what: str) -> bytes:
        """Send one 3E request and return its response data (after the end code)."""
        async with self._lock:
            return await self._exchange(frame, "reading", what)

    async def write(
        self, address: McAddress, words: list[int], route: Route, what: str
    ) -> list[int] | bool:
        """Write a signal at `address` and read it back, in one turn of the link.

        A bit device's bool is written in bit units (`words` [0] or [1]) and read back as a
        bool; a bit of a word device (`D100.F`) is read, changed and written back (the other 15
        bits kept; no other request of ours comes between); words are written in word units and
        read back as words. Raises LinkDown, NoResponse, FrameError or EndCodeError.
        """
        timer, device, number = self.timer, address.device, address.number
        async with self._lock:
            if address.is_bit_device:
                frame = build_write(
                    device, number, [bool(words[0])], bits=True, timer=timer, route=route
                )
                await self._exchange(frame, "writing", what)
                read = build_read(device, number, 1, bits=True, timer=timer, route=route)
                return decode_bits(await self._exchange(read, "reading back", what), 1)[0]
            read = build_read(device, number, len(words), timer=timer, route=route)
            if address.bit is not None:
                mask = 1 << address.bit
                (old,) = decode_words(await self._exchange(read, "reading", what))
                words = [(old & ~mask) | (words[0] & mask)]
            frame = build_write(device, number, words, timer=timer, route=route)
            await self._exchange(frame, "writing", what)
            return list(decode_words(await self._exchange(read, "reading back", what)))

    async def _exchange(self, frame: bytes, verb: str, what: str) -> bytes:
        """One request and its answer (the lock held by the caller)."""
        try:
            async with asyncio.timeout(self._timeout):
                reader, writer = self._streams or await self._connect()
                writer.write(frame)
                await writer.drain()
                head = await reader.readexactly(HEAD_BYTES)
                rest = await reader.readexactly(response_length(head))
        except TimeoutError:
            await self._drop()
            raise NoResponse(
                f"no answer from {self.where} {verb} {what} within {self._timeout:g} s"
            ) from None
        except FrameError:
            await self._drop()
            raise
        except (OSError, asyncio.IncompleteReadError) as exc:
            await self._drop()
            raise LinkDown(f"connection to {self.where} lost {verb} {what}: {exc}") from exc
        return parse_response(head + rest, f"{verb} {what} on {self.where}")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            self._streams = await asyncio.open_connection(self._host, self._port)
        except OSError as exc:
            raise LinkDown(f"cannot connect to {self.where}: {exc.strerror or exc}") from exc
        log.debug("%s: connected", self.where)
        return self._streams

    async def _drop(self) -> None:
        streams, self._streams = self._streams, None
        if streams is None:
            return
        streams[1].close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await streams[1].wait_closed()

    async def aclose(self) -> None:
        """Close the connection (it reopens on the next read)."""
        async with self._lock:
            await self._drop()
