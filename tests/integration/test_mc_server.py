"""Our MC server (simulators/frontends/mc_server.py) answers a third-party client exactly.

pymcprotocol (senrust, blocking sockets, its own frame encoder) reads and writes our server's
memory in word and bit units, and sees the end codes a Q-series CPU answers. The client runs
in a worker thread, the server on the test's event loop, both on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pymcprotocol
import pytest
from pymcprotocol.mcprotocolerror import MCProtocolError, UnsupportedComandError

from adapters.mc.frame import build_read, parse_response
from simulators.frontends.mc_server import McMemory, McServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def server() -> AsyncIterator[McServer]:
    memory = McMemory({"D": 1024, "W": 256, "R": 512, "M": 1024, "X": 256, "Y": 256, "B": 256})
    memory.set_words("D", 100, [1234, -2, 0xBEEF])
    memory.pack("D", 200, "<I", 4_000_000_000)  # low word first
    memory.set_words("W", 0x1F, [7])
    memory.set_words("R", 10, [99])
    memory.set_bits("M", 10, [True, False, True])
    memory.set_bits("X", 0x1A, [True])
    async with McServer(memory) as srv:
        yield srv


class Client:
    """pymcprotocol's Type3E, each call in a worker thread (it blocks)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.plc = pymcprotocol.Type3E(plctype="Q")

    async def __aenter__(self) -> Client:
        await asyncio.to_thread(self.plc.connect, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.plc.close)

    async def call(self, name: str, *args: object) -> object:
        return await asyncio.to_thread(getattr(self.plc, name), *args)


async def test_pymcprotocol_reads_words_and_bits_exactly(server: McServer) -> None:
    async with Client(server.port) as c:
        assert await c.call("batchread_wordunits", "D100", 3) == [
            1234,
            -2,
            struct.unpack("<h", b"\xef\xbe")[0],
        ]
        low, high = await c.call("batchread_wordunits", "D200", 2)  # type: ignore[misc]
        assert (low & 0xFFFF) | ((high & 0xFFFF) << 16) == 4_000_000_000
        assert await c.call("batchread_wordunits", "W1F", 1) == [7]
        assert await c.call("batchread_wordunits", "R10", 1) == [99]
        assert await c.call("batchread_bitunits", "M10", 4) == [1, 0, 1, 0]
        assert await c.call("batchread_bitunits", "X1A", 1) == [1]
        # M0-M15 read as one word: M10 and M12 are bits 10 and 12.
        assert await c.call("batchread_wordunits", "M0", 1) == [(1 << 10) | (1 << 12)]
    assert server.requests == 7


async def test_pymcprotocol_writes_what_we_then_read(server: McServer) -> None:
    async with Client(server.port) as c:
        await c.call("batchwrite_wordunits", "D300", [1, -1, 300])
        await c.call("batchwrite_bitunits", "Y10", [1, 0, 1])
        await c.call("batchwrite_bitunits", "M5", [1])
    assert server.memory.words["D"][300:303] == [1, 0xFFFF, 300]
    assert server.memory.bits["Y"][0x10:0x13] == [True, False, True]
    assert server.memory.bits["M"][5] is True


async def test_end_codes_for_what_a_cpu_refuses(server: McServer) -> None:
    async with Client(server.port) as c:
        with pytest.raises(MCProtocolError) as info:
            await c.call("batchread_wordunits", "D1020", 10)  # D1024 and up are not configured
        assert info.value.errorcode == "0xC056"
        with pytest.raises(MCProtocolError) as info:
            await c.call("batchread_wordunits", "L0", 1)  # no L device on this CPU
        assert info.value.errorcode == "0xC05C"
        with pytest.raises(UnsupportedComandError):
            await c.call("randomread", ["D0"], [])  # 0403: not a command we answer
        assert await c.call("batchread_wordunits", "D100", 1) == [1234], "still answering"


async def test_the_adapter_codec_reads_our_server(server: McServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(build_read("D", 1023, 2))
        head = await reader.readexactly(9)
        rest = await reader.readexactly(struct.unpack_from("<H", head, 7)[0])
        with pytest.raises(Exception, match=r"address out of range .*\(end code 0xC056\)"):
            parse_response(head + rest)
        writer.write(build_read("D", 100, 1))
        head = await reader.readexactly(9)
        rest = await reader.readexactly(struct.unpack_from("<H", head, 7)[0])
        assert parse_response(head + rest) == struct.pack("<H", 1234)
    finally:
        writer.close()
        await writer.wait_closed()
