"""One S7 connection shared by every device on one PLC (host, port, rack, slot, type).

An S7 CPU gives a client a handful of connection resources (PG, OP, S7 basic), so devices that
read one PLC share one ISO-on-TCP connection, and their reads are serialized on it. The client
is python-snap7 3.x's `AsyncClient`: pure-Python asyncio streams, one lock around each
request/response, the PDU size negotiated at connect. Every call here runs under the device's
timeout; a timeout or a dropped connection closes the client, so that a late answer can never
be taken for the next request's, and the next read reconnects (the poller's backoff paces it).

`read_area` is used one planned item at a time: the async client's `read_multi_vars` sends the
items one by one anyway, and the planner keeps every item within the negotiated PDU so that
python-snap7 never splits one behind our back (README: measured 0.17 ms a read on loopback).
"""

from __future__ import annotations

import asyncio
import logging
import re

from snap7 import AsyncClient
from snap7.error import S7ConnectionError, S7ProtocolError, S7TimeoutError
from snap7.error import S7Error as Snap7Error
from snap7.type import Area

from adapters.s7.planner import DEFAULT_PDU
from gateway.config.models import S7Device

from .errors import ItemRefused, LinkDown, NoResponse, WriteFailed

log = logging.getLogger(__name__)

AREAS: dict[str, Area] = {"DB": Area.DB, "M": Area.MK, "I": Area.PE, "Q": Area.PA}
CONNECTION_TYPES: dict[str, int] = {"pg": 1, "op": 2, "basic": 3}
_RETURN_CODE = re.compile(r"\(0x([0-9a-fA-F]{2})\)")
"""python-snap7 names a refused item's return code in its message only: `... (0x05)`."""


class S7Link:
    """A shared, serialized S7 connection: `read` for the pollers, `write` for the writer."""

    def __init__(self, device: S7Device) -> None:
        self.key = device.link
        self.users = 0
        """Devices using this link; the registry closes it when the last one leaves."""
        self._host, self._port = device.host, device.port
        self._rack, self._slot = device.rack, device.slot
        self._type = CONNECTION_TYPES[device.connection_type]
        self._pdu_request = device.pdu_size
        self._timeout = device.timeout
        self._client: AsyncClient | None = None
        self._lock = asyncio.Lock()
        self.pdu_size = min(DEFAULT_PDU, device.pdu_size)
        """The PDU size the PLC granted (240, the least any grants, until connected)."""

    @property
    def where(self) -> str:
        """`PLC 192.168.1.80:102 rack 0 slot 1`, as messages name it."""
        return f"PLC {self._host}:{self._port} rack {self._rack} slot {self._slot}"

    @property
    def connected(self) -> bool:
        """Whether the connection is open now."""
        return self._client is not None and self._client.is_alive

    async def _connect(self) -> AsyncClient:
        client = AsyncClient()
        client.connection_type = self._type
        client.pdu_length = self._pdu_request
        try:
            async with asyncio.timeout(self._timeout):
                await client.connect(self._host, self._rack, self._slot, self._port)
        except TimeoutError:
            await self._drop(client)
            raise NoResponse(f"no answer from {self.where} within {self._timeout:g} s") from None
        except (Snap7Error, OSError) as exc:
            await self._drop(client)
            raise LinkDown(f"cannot connect to {self.where}: {exc}") from exc
        assert client.connection is not None  # connect() succeeded
        client.connection.timeout = self._timeout
        self.pdu_size = client.pdu_length
        log.debug("%s: connected, PDU %d bytes", self.where, self.pdu_size)
        return client

    async def read(self, area: str, db: int, start: int, size: int, what: str) -> bytes:
        """`size` bytes of `area` (DB `db`) from byte `start`; `what` names them in errors.

        Raises LinkDown, NoResponse or ItemRefused.
        """
        async with self._lock:
            client = await self._ready()
            data = await self._call(client, "reading", what, area, db, start, size)
        if len(data) != size:
            raise NoResponse(f"{self.where} answered {len(data)} bytes of {what}, not {size}")
        return data

    async def write(
        self, area: str, db: int, start: int, data: bytes, what: str, bit: int | None = None
    ) -> bytes:
        """Write `data` from byte `start` and read those bytes back, in one turn of the link.

        With `bit`, only that bit of the byte is written: the byte is read and its other bits
        kept (read-modify-write, as python-snap7's `db_write_bool`; its server does not honour
        S7 bit writes, and no other request of ours comes between, though the PLC program
        could change another bit of that byte in the few milliseconds between). Raises
        LinkDown, NoResponse or ItemRefused (the PLC refused the write or the read-back).
        """
        async with self._lock:
            client = await self._ready()
            if bit is not None:
                mask = 1 << bit
                old = (await self._call(client, "reading", what, area, db, start, 1))[0]
                data = bytes([(old & ~mask) | (data[0] & mask)])
            await self._call(client, "writing", what, area, db, start, len(data), data)
            back = await self._call(client, "reading back", what, area, db, start, len(data))
        if len(back) != len(data):
            raise NoResponse(f"{self.where} answered {len(back)} bytes of {what}, not {len(data)}")
        return back

    async def _ready(self) -> AsyncClient:
        client = self._client
        if client is None or not client.is_alive:
            await self._drop(client)
            client = self._client = await self._connect()
        return client

    async def _call(
        self,
        client: AsyncClient,
        verb: str,
        what: str,
        area: str,
        db: int,
        start: int,
        size: int,
        data: bytes | None = None,
    ) -> bytes:
        """One read (or, with `data`, one write) under the timeout, errors mapped."""
        try:
            async with asyncio.timeout(self._timeout):
                if data is None:
                    return bytes(await client.read_area(AREAS[area], db, start, size))
                await client.write_area(AREAS[area], db, start, bytearray(data))
                return b""
        except TimeoutError:
            await self._drop(client)
            raise NoResponse(
                f"no answer from {self.where} {verb} {what} within {self._timeout:g} s"
            ) from None
        except S7ProtocolError as exc:
            code = _RETURN_CODE.search(str(exc))
            if code is not None and client.is_alive:
                raise ItemRefused(int(code[1], 16), f"{what} on {self.where}", verb) from exc
            if data is not None and client.is_alive:
                # A write refused as a whole (python-snap7's server: class 0x84 code 0x04 for
                # an absent DB): the connection is fine, this address is not.
                raise WriteFailed(f"{self.where} refused {verb} {what}: {exc}") from exc
            await self._drop(client)
            raise LinkDown(f"bad answer from {self.where} {verb} {what}: {exc}") from exc
        except (S7ConnectionError, S7TimeoutError, Snap7Error, OSError) as exc:
            await self._drop(client)
            raise LinkDown(f"connection to {self.where} lost: {exc}") from exc

    async def _drop(self, client: AsyncClient | None) -> None:
        if client is self._client:
            self._client = None
        if client is None:
            return
        try:
            async with asyncio.timeout(1.0):
                await client.disconnect()
        except (TimeoutError, Snap7Error, OSError):
            log.debug("%s: disconnect did not complete; socket dropped", self.where)

    async def aclose(self) -> None:
        """Close the connection (it reopens on the next read)."""
        async with self._lock:
            await self._drop(self._client)
