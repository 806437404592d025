"""An S7 PLC's memory served by python-snap7's own server, on loopback unless told otherwise.

`S7Memory` holds the data blocks and the M, I and Q areas as bytearrays that the python-snap7
`Server` (pure Python, one thread per client) answers reads and writes from; a DB that was not
added answers "object does not exist" (0x0A) and a read past a DB's end "address out of range"
(0x05), as a real CPU does. It serves the simulators (`gerbang sim run MODEL --protocol s7`,
`s7_frontend.py`) and the S7 adapter's tests, and counts the read requests it answers, so that
a test can check that a scan costs the planner's minimum.

python-snap7 binds 0.0.0.0 unless told: `S7Memory` always binds the host it is given
(127.0.0.1 by default) and never port 102 unless asked (102 needs root).
"""

from __future__ import annotations

import struct
from types import TracebackType

from snap7.server import Server
from snap7.type import SrvArea, SrvEvent

_AREAS: dict[str, SrvArea] = {"M": SrvArea.MK, "I": SrvArea.PE, "Q": SrvArea.PA}


class S7Memory:
    """Data blocks and M/I/Q areas served over ISO-on-TCP by python-snap7's server."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, area_size: int = 256) -> None:
        self.host = host
        self.port = port
        self.dbs: dict[int, bytearray] = {}
        self.areas: dict[str, bytearray] = {name: bytearray(area_size) for name in _AREAS}
        self.reads = 0
        """Read requests answered since start."""
        self._server: Server | None = None

    def add_db(self, number: int, size: int) -> bytearray:
        """A new data block of `size` bytes (zeros); served from the next request on."""
        data = self.dbs[number] = bytearray(size)
        if self._server is not None:
            self._server.register_area(SrvArea.DB, number, data)
        return data

    def remove_db(self, number: int) -> None:
        """The DB no longer exists (a download that deleted it)."""
        self.dbs.pop(number, None)
        if self._server is not None:
            self._server.unregister_area(SrvArea.DB, number)

    def write(self, area: str, db: int, byte: int, data: bytes) -> None:
        """Set bytes of a DB (`area` "DB") or of M, I, Q, consistently with concurrent reads."""
        target = self.dbs[db] if area == "DB" else self.areas[area]
        srv_area, index = (SrvArea.DB, db) if area == "DB" else (_AREAS[area], 0)
        if self._server is None:
            target[byte : byte + len(data)] = data
            return
        self._server.lock_area(srv_area, index)
        try:
            target[byte : byte + len(data)] = data
        finally:
            self._server.unlock_area(srv_area, index)

    def read(self, area: str, db: int, byte: int, size: int) -> bytes:
        """Bytes of a DB (`area` "DB") or of M, I, Q, never half of a client's write."""
        source = self.dbs[db] if area == "DB" else self.areas[area]
        if self._server is None:
            return bytes(source[byte : byte + size])
        srv_area, index = (SrvArea.DB, db) if area == "DB" else (_AREAS[area], 0)
        self._server.lock_area(srv_area, index)
        try:
            return bytes(source[byte : byte + size])
        finally:
            self._server.unlock_area(srv_area, index)

    def pack(self, area: str, db: int, byte: int, fmt: str, *values: object) -> None:
        """`write` of `struct.pack(fmt, *values)` (big-endian formats: `>f`, `>H`, ...)."""
        self.write(area, db, byte, struct.pack(fmt, *values))

    def _count(self, event: SrvEvent) -> None:
        self.reads += 1

    def start(self) -> S7Memory:
        """Listen on host:port (a free port when 0; `port` then holds it)."""
        server = Server(log=False)
        for number, data in self.dbs.items():
            server.register_area(SrvArea.DB, number, data)
        for name, data in self.areas.items():
            server.register_area(_AREAS[name], 0, data)
        server.set_read_events_callback(self._count)
        server.start_to(self.host, self.port)
        assert server.server_socket is not None
        self.port = server.server_socket.getsockname()[1]
        self._server = server
        return self

    def stop(self) -> None:
        """Stop listening and end every client connection (the PLC is gone)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> S7Memory:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
