"""A `Simulation` served over Modbus TCP or RTU with pymodbus, one unit id per machine.

The pymodbus device only carries requests: its `action` hook answers reads from the
simulation's register image (which an updater task refreshes every tick, whatever the reads)
and hands writes to `Simulation.write`, which checks them against the declaration. Unmapped
addresses answer exception 02, out-of-range writes exception 03. Communication faults act
here: `silent` answers nothing, `slow` answers late, `exception` answers exception 04; the
fault control coils (1000+) always answer, so that a trainee can clear the fault they set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimAction, SimData, SimDevice

from simulators.core.faults import FAULT_COIL_BASE, SLOW_DELAY_S
from simulators.engine import DEVICE_FAILURE, Simulation

log = logging.getLogger(__name__)

_FC_TABLE = {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 3: "holding", 6: "holding"}
_FC_TABLE |= {16: "holding", 4: "input", 22: "holding", 23: "holding"}
UPDATE_PERIOD = 0.1
"""Real seconds between two refreshes of the register image."""


class ModbusFrontend:
    """The pymodbus server of one simulation, and the task that advances it."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.server: ModbusTcpServer | ModbusSerialServer | None = None
        self._updater: asyncio.Task[None] | None = None
        self.requests = 0

    def _device(self, unit_id: int) -> SimDevice:
        sim = self.sim.units[unit_id]
        regs = max((a + 1 for t in ("holding", "input") for a in sim.image[t]), default=1)
        bits = max(FAULT_COIL_BASE + len(sim.fault_list), *sim.image["discrete"], 1) + 1
        bits = (bits + 15) // 16 * 16
        bit_block = [SimData(0, values=[False] * bits, datatype=DataType.BITS)]
        reg_block = [SimData(0, count=regs, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(
            id=unit_id,
            simdata=(list(bit_block), list(bit_block), list(reg_block), list(reg_block)),
            use_bit_addressing=True,
            action=self._action(unit_id),
        )

    def _action(self, unit_id: int) -> SimAction:
        sim = self.sim

        async def action(
            fc: int,
            start: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            self.requests += 1
            table = _FC_TABLE[fc]
            bits = table in ("coil", "discrete")
            control = table == "coil" and address >= FAULT_COIL_BASE
            # The fault control coils always answer, so that a fault can be cleared.
            fault = None if control else sim.comm_fault(unit_id)
            if fault == "silent":
                # No answer while the fault lasts; then the late answer is dropped by clients.
                while sim.comm_fault(unit_id) == "silent":  # noqa: ASYNC110 - polled state
                    await asyncio.sleep(0.1)
            elif fault == "exception":
                return ExcCodes(DEVICE_FAILURE)
            elif fault == "slow":
                await asyncio.sleep(SLOW_DELAY_S)
            if set_values is not None:
                values = [int(v) for v in set_values]
                code = sim.write(unit_id, table, address, values)
                return ExcCodes(code) if code else None
            if not bits:
                got = sim.read(unit_id, table, address, count)
                if isinstance(got, int):
                    return ExcCodes(got)
                registers[address - start : address - start + count] = got
                return None
            # Bit tables: `count` is in 16-bit words here; the first bit must be mapped.
            if sim.read(unit_id, table, address, 1) == 2:
                return ExcCodes.ILLEGAL_ADDRESS
            image = sim.units[unit_id].image[table]
            first = (address // 16) * 16
            for i in range(count * 16):
                word = (first + i) // 16 - start
                if image.get(first + i):
                    registers[word] |= 1 << ((first + i) % 16)
                else:
                    registers[word] &= ~(1 << ((first + i) % 16)) & 0xFFFF
            return None

        return action

    async def _update(self) -> None:
        while True:
            self.sim.advance()
            await asyncio.sleep(UPDATE_PERIOD)

    def _start_updater(self) -> None:
        self.sim.advance()
        self._updater = asyncio.create_task(self._update(), name=f"sim:{self.sim.model.name}")

    async def start_tcp(self, host: str, port: int) -> None:
        """Serve Modbus TCP on host:port (every unit id of the model on one endpoint)."""
        devices = [self._device(u) for u in self.sim.units]
        self.server = ModbusTcpServer(devices, address=(host, port))
        self._start_updater()
        await self.server.serve_forever(background=True)

    async def start_rtu(
        self, serial_port: str, baudrate: int = 19200, parity: str = "N", stopbits: int = 1
    ) -> None:
        """Serve Modbus RTU on a serial port (or one end of a pty pair)."""
        devices = [self._device(u) for u in self.sim.units]
        self.server = ModbusSerialServer(
            devices,
            framer=FramerType.RTU,
            port=serial_port,
            baudrate=baudrate,
            parity=parity,
            stopbits=stopbits,
        )
        self._start_updater()
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self._updater is not None:
            self._updater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._updater
            self._updater = None
        if self.server is not None:
            await self.server.shutdown()
            self.server = None


@contextlib.asynccontextmanager
async def pty_pair(directory: str | None = None) -> AsyncIterator[tuple[str, str]]:
    """Two linked pseudo-terminals made by socat: (server end, client end)."""
    socat = shutil.which("socat")
    if socat is None:
        raise RuntimeError("socat is not installed (sudo apt-get install socat; make does this)")
    with tempfile.TemporaryDirectory(prefix="gerbang-pty-", dir=directory) as tmp:
        a, b = Path(tmp) / "sim", Path(tmp) / "client"
        proc = await asyncio.create_subprocess_exec(
            socat, "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}",
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 5
            while not (a.exists() and b.exists()):
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError("socat did not create the pseudo-terminal pair")
                await asyncio.sleep(0.02)
            yield str(a), str(b)
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
