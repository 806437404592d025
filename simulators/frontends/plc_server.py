"""A `Simulation` served as a Siemens S7 PLC (python-snap7's server) or a MELSEC PLC (our MC
server), at the addresses of `simulators.plc_map`.

An updater task advances the simulation every 100 ms (values follow the simulated clock, never
the reads) and copies each unit's register image into the PLC memory in that family's byte and
word order. Modbus communication faults (silent, exception, slow) do not act here.

Writes. A client writes into the PLC memory, which the next copy would overwrite: a setpoint
written over S7 or MC would hold for 100 ms and then snap back. So before each step the
updater compares every writable signal's memory with what it last put there, and hands what a
client changed to `Simulation.write`, as the Modbus frontend does with a write request: the
machine takes the setpoint (or, outside its range, refuses it, and the copy puts the old
value back, which the gateway's read-back then reports).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

from simulators.engine import Simulation
from simulators.frontends.mc_server import McMemory, McServer
from simulators.frontends.s7_server import S7Memory
from simulators.plc_map import DB_SIZE, MC_UNIT, PlcSignal, plc_signals

log = logging.getLogger(__name__)

UPDATE_PERIOD = 0.1


class PlcFrontend:
    """One simulation served over `protocol` s7 or mc; `start(host, port)`, then `stop()`."""

    def __init__(self, sim: Simulation, protocol: str) -> None:
        self.sim = sim
        self.protocol = protocol
        self.port = 0
        self._map: dict[int, list[PlcSignal]] = {
            uid: list(plc_signals(u.unit, protocol)) for uid, u in sim.units.items()
        }
        self.s7: S7Memory | None = None
        self.mc: McServer | None = None
        self._updater: asyncio.Task[None] | None = None
        self._writable = [
            (uid, p)
            for uid, signals in self._map.items()
            for p in signals
            if (p.signal.table, p.signal.address) in sim.units[uid].writable
        ]
        self._shown: dict[tuple[int, int], list[int]] = {}
        """What `refresh` last put at each writable signal (unit, offset), in image order."""

    def refresh(self) -> None:
        """Copy every unit's register image into the PLC memory."""
        for uid, signals in self._map.items():
            image = self.sim.units[uid].image
            for p in signals:
                s = p.signal
                if s.table in ("discrete", "coil"):
                    self._set_bit(uid, p, bool(image[s.table].get(s.address)))
                    continue
                words = [int(image[s.table].get(s.address + i, 0)) for i in range(s.size)]
                if s.size == 2 and s.word_order == "little":
                    words.reverse()  # now high word first, as S7 keeps it
                self._set_words(uid, p, words)
        for uid, p in self._writable:
            self._shown[(uid, p.offset)] = self._in_memory(uid, p)

    def take_writes(self) -> None:
        """Hand every writable signal a client changed in the PLC memory to the simulation."""
        for uid, p in self._writable:
            now = self._in_memory(uid, p)
            if now != self._shown.get((uid, p.offset), now):
                refused = self.sim.write(uid, p.signal.table, p.signal.address, now)
                if refused is not None:
                    log.warning(
                        "%s unit %d: write of %s to %s refused (out of range): %s put back",
                        self.sim.model.name,
                        uid,
                        now,
                        p.address,
                        p.signal.name,
                    )

    def _in_memory(self, uid: int, p: PlcSignal) -> list[int]:
        """A signal's value in the PLC memory as the register image holds it (words, or one
        0/1 for a bit): the inverse of `_set_bit` and `_set_words`."""
        s = p.signal
        if s.table in ("discrete", "coil"):
            if self.s7 is not None:
                return [self.s7.read("DB", uid, p.offset, 1)[0] >> (p.bit or 0) & 1]
            assert self.mc is not None
            return [int(self.mc.memory.bits["M"][p.offset])]
        if self.s7 is not None:
            raw = self.s7.read("DB", uid, p.offset, 2 * s.size)
            words = list(struct.unpack(f">{s.size}H", raw))
        else:
            assert self.mc is not None
            words = self.mc.memory.words["D"][p.offset : p.offset + s.size]
            if len(words) == 2:
                words.reverse()  # MELSEC keeps the low word first
        if s.size == 2 and s.word_order == "little":
            words.reverse()
        return words

    def _set_bit(self, uid: int, p: PlcSignal, value: bool) -> None:
        if self.s7 is not None:
            old, mask = self.s7.dbs[uid][p.offset], 1 << (p.bit or 0)
            self.s7.write("DB", uid, p.offset, bytes([(old | mask) if value else (old & ~mask)]))
        elif self.mc is not None:
            self.mc.memory.set_bits("M", p.offset, [value])

    def _set_words(self, uid: int, p: PlcSignal, words: list[int]) -> None:
        if self.s7 is not None:
            self.s7.write("DB", uid, p.offset, struct.pack(f">{len(words)}H", *words))
        elif self.mc is not None:
            if p.signal.type == "string":  # the first character in the low byte
                words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
            elif len(words) == 2:
                words.reverse()  # MELSEC: low word first
            self.mc.memory.set_words("D", p.offset, words)

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port and start advancing the simulation."""
        self.sim.advance()
        if self.protocol == "s7":
            mem = S7Memory(host, port)
            for uid in self.sim.units:
                mem.add_db(uid, DB_SIZE)
            self.s7 = mem.start()
            self.port = mem.port
        else:
            units = max(self.sim.units)
            memory = McMemory({"D": MC_UNIT * units, "M": MC_UNIT * units})
            self.mc = await McServer(memory, host, port).start()
            self.port = self.mc.port
        self.refresh()
        self._updater = asyncio.create_task(self._update(), name=f"sim:{self.sim.model.name}")

    async def _update(self) -> None:
        while True:
            await asyncio.sleep(UPDATE_PERIOD)
            self.take_writes()
            self.sim.advance()
            self.refresh()

    @property
    def requests(self) -> int:
        """Read requests answered so far."""
        if self.s7 is not None:
            return self.s7.reads
        return self.mc.requests if self.mc is not None else 0

    async def stop(self) -> None:
        """Stop the updater and the server."""
        if self._updater is not None:
            self._updater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._updater
            self._updater = None
        if self.s7 is not None:
            await asyncio.to_thread(self.s7.stop)
            self.s7 = None
        if self.mc is not None:
            await self.mc.stop()
            self.mc = None
