"""A Modbus TCP device that answers wrongly: too many registers, or a frame that cannot be
decoded. Served by a raw asyncio server on loopback (no Modbus library would send these)."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Callable

import pytest

from adapters.modbus.errors import NoResponse
from adapters.modbus.link import ModbusLink
from gateway import loop_errors
from gateway.config.models import ModbusTcpDevice

pytestmark = pytest.mark.integration


def extra_registers(tid: bytes) -> bytes:
    """Four registers where two were asked for."""
    body = bytes([1, 3, 8]) + struct.pack(">4H", 1, 2, 3, 4)
    return tid + b"\x00\x00" + struct.pack(">H", len(body)) + body


def bad_byte_count(tid: bytes) -> bytes:
    """A byte count of 250 in a 6-byte frame: pymodbus's framer raises in data_received."""
    body = bytes([1, 3, 250, 0, 0, 0])
    return tid + b"\x00\x00" + struct.pack(">H", len(body)) + body


async def serve(answer: Callable[[bytes], bytes]) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await reader.read(12):
                writer.write(answer(request[:2]))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def link_to(port: int) -> ModbusLink:
    device = ModbusTcpDevice(id="press-1", protocol="modbus-tcp", host="127.0.0.1", port=port)
    return ModbusLink.for_device(device, 0.5)


async def test_a_response_with_extra_registers_is_refused() -> None:
    async for port in serve(extra_registers):
        link = link_to(port)
        try:
            with pytest.raises(NoResponse, match="answered 4 registers where 2 were asked for"):
                await link.read("holding", 0, 2, 1)
        finally:
            link.close()


async def test_a_malformed_frame_is_one_log_line_not_a_traceback(caplog) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(loop_errors.quiet_protocol_errors())
    caplog.set_level(logging.WARNING)
    try:
        async for port in serve(bad_byte_count):
            link = link_to(port)
            try:
                for _ in range(3):
                    with pytest.raises(NoResponse):
                        await link.read("holding", 0, 2, 1)
            finally:
                link.close()
    finally:
        loop.set_exception_handler(None)
    ours = [r for r in caplog.records if r.name == "gateway.loop_errors"]
    assert len(ours) == 1, "one line per peer and minute"
    assert "could not be decoded" in ours[0].getMessage()
    assert "127.0.0.1:" in ours[0].getMessage()
    assert not [r for r in caplog.records if r.name == "asyncio"], "no asyncio traceback"
