"""SPEC "Nothing lost", as a user would test it: `gerbang run` polling a real Modbus server while
both sinks (a real mosquitto and a real influxd) are down, killed with SIGKILL in the middle of
the outage, started again, and the sinks brought back.

Every scan from before the kill (but the last second, which the write-behind buffer may not
have flushed) and every scan after the restart must arrive, at both sinks, in order, with the
original timestamps and no gap but the time the gateway was dead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.support.influx import Influxd
from tests.support.modbus_server import BankServer, RegisterBank
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

INTERVAL_MS = 100
TOPIC = "factory/pasuruan/casting/furnace-1"


def start_gateway(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def check_timeline(stamps: list[int], first_start: int, killed: int, restarted: int) -> None:
    """In order, starting with the first run, no gap but the dead time (±1 s lost at the kill)."""
    assert stamps == sorted(stamps), "delivered out of order"
    assert len(set(stamps)) == len(stamps), "a scan delivered twice"
    assert first_start <= stamps[0] < killed - 1000, "the first run's scans are missing"
    gaps = [(b - a, a) for a, b in itertools.pairwise(stamps)]
    big = [(gap, at) for gap, at in gaps if gap > 5 * INTERVAL_MS]
    assert len(big) <= 1, f"gaps other than the restart: {big}"
    for gap, at in big:
        # At most the last second is lost (0.5 s more for scheduling on a loaded machine).
        assert at >= killed - 1500, f"lost {killed - at} ms before the kill (at most ~1 s)"
        assert at + gap <= restarted + 15_000, "the restarted gateway's scans are missing"
    assert stamps[-1] > restarted


async def test_kill_9_during_an_outage_loses_nothing(tmp_path: Path) -> None:
    bank = RegisterBank()
    bank.set("holding", 0, [0])
    modbus = BankServer({1: bank})
    await modbus.start_tcp()
    broker = Mosquitto(tmp_path / "broker", persistence=True)
    influxd = Influxd(tmp_path / "influxd")
    config = tmp_path / "gateway.json"
    config.write_bytes(
        orjson.dumps(
            {
                "version": 1,
                "gateway": {"id": "e2e", "site": "pasuruan", "area": "casting"},
                "mqtt": {
                    "host": broker.host,
                    "port": broker.port,
                    "mode": "per_device",
                    "retain": False,
                },
                "influxdb": {
                    "enabled": True,
                    "api": "v1",
                    "url": influxd.url,
                    "database": "telemetry",
                    "timeout": "2s",
                },
                "buffer": {"path": str(tmp_path / "buffer")},
                "devices": [
                    {
                        "id": "furnace-1",
                        "protocol": "modbus-tcp",
                        "host": "127.0.0.1",
                        "port": modbus.port,
                        "interval": f"{INTERVAL_MS}ms",
                        "measurement": "furnace",
                        "signals": [{"name": "count", "table": "holding", "address": 0}],
                    }
                ],
            }
        )
    )
    # A subscriber with a persistent session, so the broker keeps for it what arrives later.
    broker.start()
    sub = await Subscriber(broker, TOPIC, client_id="witness", clean_session=False).ready()
    sub.close()
    broker.stop()

    log = tmp_path / "gateway.log"
    first_start = int(time.time() * 1000)
    gateway = start_gateway(config, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        # Both sinks are down: the scans go to the buffer, on disk after a second.
        segments = lambda: [  # noqa: E731
            p for p in (tmp_path / "buffer").glob("*/*.seg") if p.stat().st_size > 2000
        ]
        await eventually(lambda: len(segments()) == 2, 30)
        # A sleep on purpose: the test is about time passing. One more flush period (1 s) of
        # scans, some of them not yet flushed, is what a kill -9 may lose at most.
        await asyncio.sleep(1.0)
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(10)
        killed = int(time.time() * 1000)

        second = start_gateway(config, log)
        restarted = int(time.time() * 1000)
        await asyncio.to_thread(influxd.start)
        influxd.execute('CREATE DATABASE "telemetry"')
        await asyncio.to_thread(broker.start)
        sub = await Subscriber(broker, TOPIC, client_id="witness", clean_session=False).ready()
        try:
            target = restarted + 3000
            await sub.wait_for(lambda: sub.messages and sub.messages[-1].json()["ts"] > target, 60)
            await eventually(
                lambda: influxd.query(f"SELECT count FROM furnace WHERE time > {target}ms"), 60
            )
            stamps = [m.json()["ts"] for m in sub.messages]
            check_timeline(stamps, first_start, killed, restarted)
            rows = influxd.query("SELECT count FROM furnace")
            check_timeline([r["time"] for r in rows], first_start, killed, restarted)
            # Each sink's outbox flushes on its own, so the last second before the kill may
            # differ between them; and the sinks drain at their own pace, so compare up to the
            # newest scan both have.
            times = [r["time"] for r in rows]
            newest = min(stamps[-1], times[-1])

            def compared(seq: list[int]) -> list[int]:
                return [t for t in seq if t <= newest and not killed - 1500 <= t <= restarted]

            assert compared(times) == compared(stamps), "both sinks got the same scans"
        finally:
            sub.close()
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        for proc in (gateway, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        broker.stop()
        influxd.stop()
        await modbus.stop()
        print(log.read_text()[-3000:])
