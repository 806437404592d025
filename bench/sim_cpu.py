"""CPU cost of the simulators: every model in one process, served over Modbus TCP, for a while.

Prints the process CPU time as a share of one core, idle (nothing served) versus all models
running at --speed 1 and 10, with one client polling every unit once a second. Run it with
`.venv/bin/python bench/sim_cpu.py [seconds]`; it is a measurement, not a test.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time

from pymodbus.client import AsyncModbusTcpClient

from simulators.core.clock import RealClock
from simulators.engine import Simulation
from simulators.frontends.modbus_server import ModbusFrontend
from simulators.models import MODELS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(seconds: float, speed: float | None) -> float:
    """CPU seconds per wall second while serving every model (or idling when speed is None)."""
    frontends: list[tuple[ModbusFrontend, int]] = []
    if speed is not None:
        for seed, model in enumerate(MODELS.values()):
            frontend = ModbusFrontend(Simulation(model, RealClock(speed), seed=seed))
            port = free_port()
            await frontend.start_tcp("127.0.0.1", port)
            frontends.append((frontend, port))
    clients = []
    for frontend, port in frontends:
        client = AsyncModbusTcpClient("127.0.0.1", port=port)
        await client.connect()
        clients.append((client, list(frontend.sim.units)))
    cpu0, wall0 = time.process_time(), time.monotonic()
    while time.monotonic() - wall0 < seconds:
        for client, units in clients:
            for unit in units:
                await client.read_input_registers(0, count=20, device_id=unit)
        await asyncio.sleep(1.0)
    cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    for client, _ in clients:
        client.close()
    for frontend, _ in frontends:
        await frontend.stop()
    return cpu


async def measure_opcua(seconds: float, speed: float) -> float:
    """CPU seconds per wall second while serving every model over OPC UA (no client)."""
    from simulators.export import device_id
    from simulators.frontends.opcua_server import OpcUaFrontend

    frontends = []
    for seed, model in enumerate(MODELS.values()):
        sim = Simulation(model, RealClock(speed), seed=seed)
        frontend = OpcUaFrontend(sim, {u.unit_id: device_id(model, u) for u in model.units})
        await frontend.start("127.0.0.1", free_port())
        frontends.append(frontend)
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    for frontend in frontends:
        await frontend.stop()
    return cpu


async def main(seconds: float) -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    units = sum(len(m.units) for m in MODELS.values())
    print(f"{len(MODELS)} models, {units} units, {seconds:g} s each, polled at 1 Hz")
    for label, speed in (("idle event loop", None), ("speed ×1", 1.0), ("speed ×10", 10.0)):
        share = await measure(seconds, speed)
        print(f"  {label:<16} {share * 100:5.1f} % of one core")
    share = await measure_opcua(seconds, 1.0)
    print(f"  {'OPC UA ×1':<16} {share * 100:5.1f} % of one core (all variables written at 2 Hz)")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0))
