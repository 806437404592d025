"""Benchmark: what an outage of both sinks costs the SD card, and how fast the backlog drains.

Real processes on loopback: one pymodbus server holding DEVICES units of SIGNALS registers each
(uint16, int32 and float32 in turn), `gerbang run` in its own process polling them every second
(DEVICES x SIGNALS values/s, 1,000 by default), MQTT (QoS 1, per_device) and InfluxDB 1.x (api v1)
both enabled. Phases:

1. healthy: both sinks up for --healthy seconds: bytes the gateway wrote to disk (should be ~0:
   the write-behind buffer only writes what waits longer than a second);
2. outage: both sinks down for --outage seconds: bytes written (from /proc/PID/io
   write_bytes, the gateway process alone), extrapolated to an hour, and the buffer on disk;
3. drain: both sinks back: samples/s each sink delivers until it is live again (counted by an
   MQTT subscriber and by queries to InfluxDB, not by the gateway).

Prints one line of figures and writes them to bench/results/outage-drain.json.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import bench_broker, save, signals, write_bytes  # noqa: E402
from gateway.config.types import parse_duration  # noqa: E402
from tests.support.influx import Influxd  # noqa: E402
from tests.support.modbus_server import BankServer, RegisterBank  # noqa: E402
from tests.support.mosquitto import Received, Subscriber  # noqa: E402


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--healthy", type=float, default=30)
    parser.add_argument("--outage", type=float, default=120)
    parser.add_argument("--interval", default="1s", help="poll interval of every device")
    parser.add_argument("--name", default="outage-drain", help="results/NAME.json")
    args = parser.parse_args()
    per_second = 1 / parse_duration(args.interval)
    tmp = Path(tempfile.mkdtemp(prefix="gerbang-bench-"))
    sig, _ = signals(args.signals)
    bank = RegisterBank()
    bank.set("holding", 0, [i % 1000 for i in range(2 * args.signals)])
    modbus = BankServer(dict.fromkeys(range(1, args.devices + 1), bank))
    await modbus.start_tcp()
    broker = bench_broker(tmp / "broker")
    influxd = Influxd(tmp / "influxd")
    config = {
        "version": 1,
        "gateway": {"id": "bench", "site": "lab", "log_level": "warning"},
        "mqtt": {"host": broker.host, "port": broker.port, "mode": "per_device", "qos": 1},
        "influxdb": {"enabled": True, "api": "v1", "url": influxd.url, "database": "bench"},
        "buffer": {"path": str(tmp / "buffer"), "max_size": "4GB"},
        "devices": [
            {
                "id": f"dev-{unit:03d}",
                "protocol": "modbus-tcp",
                "host": "127.0.0.1",
                "port": modbus.port,
                "unit": unit,
                "interval": args.interval,
                "signals": sig,
            }
            for unit in range(1, args.devices + 1)
        ],
    }
    path = tmp / "gateway.json"
    path.write_bytes(orjson.dumps(config))
    rate = round(args.devices * args.signals * per_second)
    influxd.start()
    influxd.execute('CREATE DATABASE "bench"')
    broker.start()
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(path)],
        stderr=(tmp / "gateway.log").open("wb"),
    )
    results: dict[str, object] = {"values_per_s": rate}
    try:
        await asyncio.sleep(5)  # start-up and first connections
        before = write_bytes(gateway.pid)
        await asyncio.sleep(args.healthy)
        healthy = write_bytes(gateway.pid) - before
        results["healthy_bytes_per_hour"] = round(healthy * 3600 / args.healthy)

        broker.stop()
        influxd.stop()
        before = write_bytes(gateway.pid)
        outage_started = time.time()
        await asyncio.sleep(args.outage)
        written = write_bytes(gateway.pid) - before
        results["outage_bytes_per_hour"] = round(written * 3600 / args.outage)
        results["buffer_on_disk_bytes"] = du(tmp / "buffer")
        backlog = round(rate * args.outage)  # nominal; what arrived is counted below
        results["backlog_samples_per_sink"] = backlog

        # Drain: count what arrives with a timestamp from the outage.
        outage_ms = int(outage_started * 1000)
        now_ms = int(time.time() * 1000)
        broker.start()
        sub = await Subscriber(broker, "factory/#").ready()
        influxd.start()
        started = time.monotonic()
        window = f"time >= {outage_ms}ms AND time <= {now_ms}ms"

        def influx_count(where: str) -> int:
            rows = influxd.query(f"SELECT count(s000) FROM machine WHERE {where}", "bench")
            return rows[0]["count"] if rows else 0

        def backlog_messages() -> list[Received]:
            return [
                m
                for m in sub.messages
                if "$" not in m.topic and outage_ms <= m.json()["ts"] <= now_ms
            ]

        def mqtt_live() -> bool:
            return any("$" not in m.topic and m.json()["ts"] > now_ms for m in sub.messages[-50:])

        # InfluxDB: poll the count of backlog points until it stops growing and live data came.
        influx_first = influx_full = None
        last_count = -1
        while time.monotonic() - started < 900:
            count = influx_count(window)
            now = time.monotonic()
            if count and influx_first is None:
                influx_first = now
            if count and count == last_count and influx_count(f"time > {now_ms}ms"):
                break
            if count != last_count:
                influx_full = now
            last_count = count
            await asyncio.sleep(0.01)
        await sub.wait_for(mqtt_live, 900)
        sub.close()
        backlog = backlog_messages()
        mqtt_samples = sum(len(m.json()["values"]) for m in backlog)
        influx_samples = max(last_count, 0) * args.signals
        drained_at: dict[str, float] = {}
        if len(backlog) > 1:
            drained_at["mqtt"] = backlog[-1].at - backlog[0].at
        if influx_first is not None and influx_full is not None:
            drained_at["influxdb"] = influx_full - influx_first
        for sink, samples in (("mqtt", mqtt_samples), ("influxdb", influx_samples)):
            took = drained_at.get(sink)
            results[f"{sink}_backlog_delivered"] = samples
            results[f"{sink}_drain_s"] = round(took, 2) if took else None
            results[f"{sink}_drain_samples_per_s"] = round(samples / took) if took else None
        results["note"] = (
            "drain: from the first to the last backlog sample's arrival (MQTT: subscriber "
            "arrival times; InfluxDB: count polled every 10 ms); "
            "bytes: /proc/PID/io write_bytes of the gateway process (log to a file included)"
        )
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
        broker.stop()
        influxd.stop()
        await modbus.stop()
    print(
        f"{args.name}: {rate} values/s; healthy {results['healthy_bytes_per_hour']:,} B/h; "
        f"outage {results['outage_bytes_per_hour']:,} B/h written, "
        f"{results['buffer_on_disk_bytes']:,} B on disk after {args.outage:.0f} s; "
        f"drain mqtt {results['mqtt_drain_samples_per_s']} samples/s, "
        f"influxdb {results['influxdb_drain_samples_per_s']} samples/s"
    )
    save(args.name, results)


if __name__ == "__main__":
    asyncio.run(main())
