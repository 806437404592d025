"""Benchmark: write latency, from the HTTP request to the read-back, while many devices are polled.

Real processes on loopback, as `modbus_scale.py` runs them: pymodbus server processes serving
the devices as unit ids, `gerbang run` in its own process (pinned to CPU 0 with `--pin`) with
its HTTP API on, mosquitto, and an MQTT subscriber counting the values that arrive. This process
sends `POST /api/v1/devices/{id}/signals/s000/write` one after the other, `--rate` a second, to
devices in turn; each answer comes after the gateway wrote the register (function 6, ahead of
the device's next scan), read it back and compared.

Figures: write latency p50/p99/max (request sent to answer received, over real HTTP), writes
that did not answer 200, and the read figures of the same window (values/s delivered against
offered, p99 sample latency) to compare with a `modbus_scale.py` run without writes.

Prints one line and writes bench/results/write-latency-<devices>x<interval>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import bench_broker, cpu_seconds, save, signals  # noqa: E402
from bench.counter import Counter  # noqa: E402
from bench.modbus_scale import ServerFarm, Workload, device_list, start_gerbang  # noqa: E402
from gateway.api.auth import digest  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.opcua_server import free_port  # noqa: E402

TOKEN = "bench-token-0123456789abcdefghijklmnopqrstuvwxyz"
WRITABLE = "s000"
"""The signal written: the first of every device (uint16, holding register 0)."""


def gerbang_config(
    workload: Workload, devices: list[dict[str, object]], broker: Mosquitto, api: int, tmp: Path
) -> Path:
    for device in devices:
        sigs = device["signals"] = [dict(s) for s in device["signals"]]  # type: ignore[attr-defined]
        sigs[0] |= {"writable": True, "min": 0, "max": 65535}
    config = {
        "version": 1,
        "gateway": {"id": "bench", "site": "lab", "log_level": "warning"},
        "api": {
            "listen": f"127.0.0.1:{api}",
            "tokens": [{"name": "bench", "sha256": digest(TOKEN)}],
        },
        "mqtt": {"host": broker.host, "port": broker.port, "mode": workload.mode, "qos": 1},
        "buffer": {"path": str(tmp / "buffer"), "max_size": "2GB"},
        "devices": devices,
    }
    path = tmp / "gateway.json"
    path.write_bytes(orjson.dumps(config))
    return path


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def write_loop(
    client: httpx.AsyncClient, devices: list[str], rate: float, seconds: float
) -> tuple[list[float], int]:
    """Writes one after the other at `rate` a second for `seconds`: latencies (ms), failures."""
    latencies: list[float] = []
    failed = 0
    period = 1.0 / rate
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        device = devices[n % len(devices)]
        url = f"/api/v1/devices/{device}/signals/{WRITABLE}/write"
        sent = time.perf_counter()
        answer = await client.post(url, json={"value": n % 1000})
        elapsed = (time.perf_counter() - sent) * 1000
        if answer.status_code == 200 and answer.json()["read_back"] == n % 1000:
            latencies.append(elapsed)
        else:
            failed += 1
        n += 1
        await asyncio.sleep(max(0.0, start + n * period - time.monotonic()))  # a paced load
    return latencies, failed


async def run(workload: Workload, rate: float) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="gerbang-bench-writes-"))
    _, registers = signals(workload.signals)
    farm = ServerFarm(workload.devices, workload.servers, registers)
    broker = bench_broker(tmp / "broker")
    gateway: subprocess.Popen[bytes] | None = None
    counter: Counter | None = None
    results: dict[str, object] = {
        "devices": workload.devices,
        "signals_per_device": workload.signals,
        "interval": workload.interval,
        "writes_per_s": rate,
        "seconds": workload.seconds,
        "offered_values_per_s": round(workload.offered),
    }
    try:
        broker.start()
        devices = device_list(workload, farm)
        api = free_port()
        counter = Counter(broker.host, broker.port, "factory/#", workload.mode)
        gateway, ready_s = await start_gerbang(
            gerbang_config(workload, devices, broker, api, tmp), workload.pin, tmp
        )
        results["ready_s"] = round(ready_s, 2)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api}", headers=headers, timeout=10
        ) as client:
            await asyncio.sleep(3)  # connections, first scans
            counter.mark()
            cpu0, t0 = cpu_seconds(gateway.pid), time.monotonic()
            ids = [str(d["id"]) for d in devices]
            latencies, failed = await write_loop(client, ids, rate, workload.seconds)
            elapsed = time.monotonic() - t0
            cpu1 = cpu_seconds(gateway.pid)
        seen = counter.report()
        results |= {
            "writes": len(latencies) + failed,
            "writes_failed": failed,
            "write_p50_ms": percentile(latencies, 0.50),
            "write_p99_ms": percentile(latencies, 0.99),
            "write_max_ms": round(max(latencies), 2) if latencies else None,
            "write_mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
            "values_per_s": round(int(seen["values"] or 0) / elapsed),
            "read_p50_ms": seen["p50_ms"],
            "read_p99_ms": seen["p99_ms"],
            "gateway_cpu_percent": round((cpu1 - cpu0) / elapsed * 100, 1),
        }
    finally:
        if gateway is not None:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(30)
            except subprocess.TimeoutExpired:
                gateway.kill()
                gateway.wait()
        if counter is not None:
            counter.close()
        farm.stop()
        broker.stop()
    return results


def line(name: str, r: dict[str, object]) -> str:
    return (
        f"{name}: {r['writes']} writes ({r['writes_failed']} failed), request to read-back "
        f"p50 {r['write_p50_ms']} ms, p99 {r['write_p99_ms']} ms, max {r['write_max_ms']} ms; "
        f"meanwhile {r['values_per_s']:,} of {r['offered_values_per_s']:,} values/s read, "
        f"p99 {r['read_p99_ms']} ms, gateway {r['gateway_cpu_percent']}% of a core"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--interval", default="100ms")
    parser.add_argument("--servers", type=int, default=2, help="server processes")
    parser.add_argument("--seconds", type=float, default=30, help="the measured window")
    parser.add_argument("--rate", type=float, default=10, help="writes a second")
    parser.add_argument("--pin", action="store_true", help="pin the gateway to CPU 0")
    parser.add_argument("--name", help="results file name (default from the workload)")
    args = parser.parse_args()
    workload = Workload(
        devices=args.devices,
        signals=args.signals,
        interval=args.interval,
        servers=args.servers,
        seconds=args.seconds,
        pin=args.pin,
        influx=False,
    )
    results = await run(workload, args.rate)
    name = args.name or f"write-latency-{workload.devices}x{workload.interval}"
    print(line(name, results))
    save(name, results)


if __name__ == "__main__":
    asyncio.run(main())
