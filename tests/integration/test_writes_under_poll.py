"""Writes through the write service (the path HTTP and MQTT share) to a device polled every
100 ms, against a real pymodbus server that logs every request with its values.

Done when (issue 14): a write while the device is polled at 100 ms does not lose a scan or
reorder a write. Checked at the wire (the writes arrive in the order they were asked, each one
request of function 16), in the scans (never an older setpoint after a newer one, none failed,
no overrun, no gap) and in the record (one entry per write, in order, and the same entries
read by a new gateway on the same state folder: the record across a restart).
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from pathlib import Path
from typing import Any

import pytest

from gateway.config.models import Config
from gateway.model import GOOD, DeviceState
from gateway.service import Gateway
from tests.support.collect import CollectingSink
from tests.support.wait import eventually
from tests.support.write_server import LoggingBankServer, WriteBank

pytestmark = pytest.mark.integration

WRITES = 20


class WireLog(LoggingBankServer):
    """A LoggingBankServer that also keeps the float written by each function 16, in order."""

    def __init__(self, banks: dict[int, WriteBank]) -> None:
        super().__init__(banks)  # type: ignore[arg-type]
        self.floats: list[float] = []

    def _action(self, unit: int) -> Any:
        inner = super()._action(unit)

        async def action(fc, start, address, count, registers, set_values):  # type: ignore[no-untyped-def]
            if fc == 16 and set_values is not None:
                self.floats.append(struct.unpack(">f", struct.pack(">HH", *set_values))[0])
            return await inner(fc, start, address, count, registers, set_values)

        return action


async def test_writes_at_100ms_polling_keep_their_order_and_every_scan(tmp_path: Path) -> None:
    bank = WriteBank()
    bank.set("holding", 50, [0x4348, 0])  # temp_setpoint 200.0
    bank.set("input", 0, [7])
    server = WireLog({1: bank})
    await server.start_tcp()
    config = Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "gw"},
            "mqtt": {"enabled": False},
            "buffer": {"path": str(tmp_path / "buffer")},
            "devices": [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "interval": "100ms",
                    "timeout": "500ms",
                    "signals": [
                        {
                            "name": "temp_setpoint",
                            "table": "holding",
                            "address": 50,
                            "type": "float32",
                            "writable": True,
                            "min": 0,
                            "max": 1600,
                        },
                        {"name": "cycles", "table": "input", "address": 0},
                    ],
                }
            ],
        }
    )
    gateway = Gateway(config)
    sink = CollectingSink()
    gateway.sinks.append(sink)
    gateway.pipeline.sinks.append(sink)
    await gateway.start()
    try:
        status = gateway.devices["furnace-1"].status
        await eventually(lambda: status.state is DeviceState.ONLINE)
        await sink.wait_for(lambda: len(sink.batches_of("furnace-1")) >= 3)
        values = [float(1000 + n) for n in range(WRITES)]
        # Asked one after the other without waiting (a technician and MQTT commands at once),
        # in two bursts with scans between them.
        first = [
            asyncio.create_task(gateway.writes.write("furnace-1", "temp_setpoint", v, f"t{i}"))
            for i, v in enumerate(values[:10])
        ]
        done = await asyncio.gather(*first)
        seen = len(sink.batches_of("furnace-1"))
        await sink.wait_for(lambda: len(sink.batches_of("furnace-1")) >= seen + 3)
        rest = [
            asyncio.create_task(gateway.writes.write("furnace-1", "temp_setpoint", v, f"t{i}"))
            for i, v in enumerate(values[10:], start=10)
        ]
        done += await asyncio.gather(*rest)
        seen = len(sink.batches_of("furnace-1"))
        await sink.wait_for(lambda: len(sink.batches_of("furnace-1")) >= seen + 5)

        assert [w.read_back for w in done] == values
        assert server.floats == values  # at the wire: in order, one request each
        assert bank.writes == [16] * WRITES
        batches = sink.batches_of("furnace-1")
        assert status.polls_failed == 0 and status.overruns == 0
        assert all(s.quality is GOOD for b in batches for s in b.samples)
        seen_setpoints = [
            s.value for b in batches for s in b.samples if s.signal == "temp_setpoint"
        ]
        assert seen_setpoints == sorted(seen_setpoints)  # never an older value after a newer
        assert seen_setpoints[-1] == values[-1]
        gaps = [b.ts - a.ts for a, b in itertools.pairwise(batches)]
        assert max(gaps) < 250, gaps  # no scan lost at 100 ms
        record = gateway.writes.record.latest(WRITES)[::-1]
        assert [(e["who"], e["value"], e["result"]) for e in record] == [
            (f"t{i}", v, "ok") for i, v in enumerate(values)
        ]
    finally:
        await gateway.stop(deadline=2)
        await server.stop()
    # The record survives the gateway: a new one on the same state folder lists the same writes.
    again = Gateway(config).writes.record.latest(WRITES)[::-1]
    assert [(e["who"], e["value"]) for e in again] == [(f"t{i}", v) for i, v in enumerate(values)]
