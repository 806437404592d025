"""Benchmark: many Modbus TCP devices x 100 signals through the gateway to MQTT and InfluxDB.

Real processes on loopback: `--servers` pymodbus server processes, each serving its share of the
devices as unit ids on one port (a TCP-to-RTU converter with many units), `gerbang run` in its
own process (pinned to CPU 0 with `--pin`), mosquitto, victoria-metrics (InfluxDB v2 write API),
and an MQTT subscriber in this process. Every device has 100 signals (uint16, int32, float32 in
turn: 167 registers, 2 requests a scan at least).

Figures: values/s delivered (counted by the subscriber, and by victoria-metrics), gateway CPU
seconds per 10k values (from /proc, the gateway process alone), p50/p99 latency from the sample
timestamp (the device's response) to arrival at the subscriber, peak RSS, Modbus requests per
scan against the minimum. Where the servers are the bottleneck, `server_cpu_percent` says so.

Prints one line and writes bench/results/modbus-scale-<mode>-<devices>x<interval>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import cpu_seconds, rss_peak_mb, save, signals  # noqa: E402
from gateway.config.types import parse_duration  # noqa: E402
from tests.support.influx import VictoriaMetrics  # noqa: E402
from tests.support.mosquitto import Mosquitto, Subscriber  # noqa: E402
from tests.support.opcua_server import free_port  # noqa: E402

SERVER = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.support.modbus_server import BankServer, RegisterBank
async def main(port, units, registers):
    bank = RegisterBank()
    bank.set("holding", 0, [(i * 7) % 1000 for i in range(registers)])
    server = BankServer({unit: bank for unit in range(1, units + 1)})
    await server.start_tcp(port)
    print("READY", flush=True)
    await asyncio.Event().wait()
asyncio.run(main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--interval", default="1s")
    parser.add_argument("--mode", choices=("per_device", "per_signal"), default="per_device")
    parser.add_argument("--servers", type=int, default=2, help="server processes")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pin", action="store_true", help="pin the gateway to CPU 0")
    parser.add_argument("--no-influx", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gerbang-bench-scale-"))
    sig, registers = signals(args.signals)
    per_server = -(-args.devices // args.servers)
    servers: list[tuple[subprocess.Popen[str], int]] = []
    for _ in range(args.servers):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(REPO), str(port), str(per_server), str(registers)],
            stdout=subprocess.PIPE,
            text=True,
        )
        servers.append((proc, port))
    for proc, _ in servers:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    broker = Mosquitto(tmp / "broker")
    broker.start()
    vm = VictoriaMetrics(tmp / "vm")
    if not args.no_influx:
        vm.start()
    devices = []
    for n in range(args.devices):
        _, port = servers[n // per_server]
        devices.append(
            {
                "id": f"dev-{n:04d}",
                "protocol": "modbus-tcp",
                "host": "127.0.0.1",
                "port": port,
                "unit": n % per_server + 1,
                "interval": args.interval,
                "timeout": "2s",
                "signals": sig,
            }
        )
    config = {
        "version": 1,
        "gateway": {"id": "bench", "site": "lab", "log_level": "warning"},
        "api": {"enabled": False},
        "mqtt": {"host": broker.host, "port": broker.port, "mode": args.mode, "qos": 1},
        "influxdb": {
            "enabled": not args.no_influx,
            "api": "v2",
            "url": vm.url,
            "org": "lab",
            "bucket": "bench",
        },
        "buffer": {"path": str(tmp / "buffer"), "max_size": "2GB"},
        "devices": devices,
    }
    path = tmp / "gateway.json"
    path.write_bytes(orjson.dumps(config))
    sub = await Subscriber(broker, "factory/#").ready()
    command = [sys.executable, "-m", "gateway.cli", "run", "-c", str(path)]
    if args.pin:
        command = ["taskset", "-c", "0", *command]
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp / "notify.sock"))
    notify.settimeout(120)
    started = time.monotonic()
    gateway = subprocess.Popen(
        command,
        stderr=(tmp / "gateway.log").open("wb"),
        env={**os.environ, "NOTIFY_SOCKET": str(tmp / "notify.sock")},
    )
    pid = gateway.pid  # taskset execs the gateway: same process
    while b"READY=1" not in await asyncio.to_thread(notify.recv, 4096):
        pass
    ready_s = time.monotonic() - started
    offered = args.devices * args.signals / parse_duration(args.interval)
    results: dict[str, object] = {
        "devices": args.devices,
        "signals_per_device": args.signals,
        "interval": args.interval,
        "mode": args.mode,
        "influxdb": not args.no_influx,
        "offered_values_per_s": round(offered),
    }
    try:
        results["ready_s"] = round(ready_s, 2)
        await asyncio.sleep(5)  # connections, first scans
        mark = len(sub.messages)
        server_cpu0 = sum(cpu_seconds(p.pid) for p, _ in servers)
        cpu0, t0, wall0 = cpu_seconds(pid), time.monotonic(), time.time()
        await asyncio.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        server_cpu1 = sum(cpu_seconds(p.pid) for p, _ in servers)
        window = [m for m in sub.messages[mark:] if "$" not in m.topic]
        offset = time.time() - time.monotonic()
        if args.mode == "per_device":
            values = 0
            lags = []
            for m in window:
                body = m.json()
                values += len(body["values"])
                lags.append((m.at + offset) * 1000 - body["ts"])
        else:
            values = len(window)
            lags = [(m.at + offset) * 1000 - m.json()["ts"] for m in window]
        lags.sort()
        elapsed = t1 - t0
        results.update(
            values_per_s=round(values / elapsed),
            cpu_s_per_10k=round((cpu1 - cpu0) / max(values, 1) * 10_000, 4),
            gateway_cpu_percent=round((cpu1 - cpu0) / elapsed * 100, 1),
            server_cpu_percent=round((server_cpu1 - server_cpu0) / elapsed * 100, 1),
            p50_ms=round(lags[len(lags) // 2], 1) if lags else None,
            p99_ms=round(lags[int(len(lags) * 0.99)], 1) if lags else None,
            peak_rss_mb=round(rss_peak_mb(pid), 1),
            requests_per_scan=2 if registers > 125 else 1,
        )
        if not args.no_influx:
            stored = vm.series('{__name__="machine_s000"}')
            in_window = sum(1 for points in stored.values() for ts in points if wall0 * 1000 <= ts)
            results["influx_points_per_s_s000"] = round(in_window / elapsed)
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
        sub.close()
        for proc, _ in servers:
            proc.terminate()
            proc.wait(10)
        broker.stop()
        vm.stop()
    name = f"modbus-scale-{args.mode}-{args.devices}x{args.interval}"
    print(
        f"{name}: {results['values_per_s']:,} of {results['offered_values_per_s']:,} values/s, "
        f"{results['cpu_s_per_10k']} CPU s per 10k ({results['gateway_cpu_percent']}% of a core), "
        f"p50 {results['p50_ms']} ms, p99 {results['p99_ms']} ms, "
        f"peak RSS {results['peak_rss_mb']} MB, servers {results['server_cpu_percent']}% CPU, "
        f"READY after {results['ready_s']} s"
    )
    save(name, results)


if __name__ == "__main__":
    asyncio.run(main())
