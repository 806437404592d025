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
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    bench_broker,
    cpu_seconds,
    rss_mb,
    rss_peak_mb,
    save,
    signals,
    start_servers,
)
from bench.counter import Counter  # noqa: E402
from gateway.config.types import parse_duration  # noqa: E402
from tests.support.influx import VictoriaMetrics  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402

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
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(bank.reads, flush=True)  # read requests served so far, on any line
asyncio.run(main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"""


@dataclass
class Workload:
    """What one run offers: devices x signals every interval, through one gateway."""

    devices: int = 100
    signals: int = 100
    interval: str = "1s"
    mode: str = "per_device"
    servers: int = 2
    seconds: float = 30
    pin: bool = False
    influx: bool = True
    alarms: int = 0
    """Alarm rules per device (`above`/`clear_below` on its first signals): the alarm cost."""
    oee: bool = False
    """OEE for every device (a site calendar; each counts its second signal as parts)."""

    @property
    def offered(self) -> float:
        return self.devices * self.signals / parse_duration(self.interval)

    @property
    def name(self) -> str:
        return f"modbus-scale-{self.mode}-{self.devices}x{self.interval}"


class ServerFarm:
    """pymodbus server processes, each serving its share of the devices as unit ids."""

    def __init__(self, devices: int, servers: int, registers: int) -> None:
        self.per_server = -(-devices // servers)
        self.procs = start_servers(SERVER, servers, self.per_server, registers)

    def address(self, device: int) -> tuple[int, int]:
        """(port, unit id) of device number `device`."""
        return self.procs[device // self.per_server][1], device % self.per_server + 1

    def reads(self) -> int:
        """Read requests served so far by all the servers."""
        total = 0
        for proc, _ in self.procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("\n")
            proc.stdin.flush()
            total += int(proc.stdout.readline())
        return total

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(proc.pid) for proc, _ in self.procs)

    def stop(self) -> None:
        for proc, _ in self.procs:
            proc.terminate()
            proc.wait(10)


def device_list(workload: Workload, farm: ServerFarm) -> list[dict[str, object]]:
    sig, _ = signals(workload.signals)
    if workload.alarms:
        # Limits the values never reach: the rules are evaluated every scan, none trips.
        rule = {"above": 1e12, "clear_below": 1e11}
        sig = [
            {**s, "alarms": [{"name": f"a{i}", **rule}]} if i < workload.alarms else s
            for i, s in enumerate(sig)
        ]
    devices = []
    # OEE without a state signal: running while the counter moves (here it never does, so
    # the engine accounts stop time and a stop per device: its full cost every scan).
    oee = {"total_count": sig[1]["name"], "ideal_cycle_time": "1s"} if workload.oee else None
    for n in range(workload.devices):
        port, unit = farm.address(n)
        devices.append(
            {
                "id": f"dev-{n:04d}",
                "protocol": "modbus-tcp",
                "host": "127.0.0.1",
                "port": port,
                "unit": unit,
                "interval": workload.interval,
                "timeout": "2s",
                "signals": sig,
                **({"oee": oee} if oee else {}),
            }
        )
    return devices


def gerbang_config(
    workload: Workload,
    devices: list[dict[str, object]],
    broker: Mosquitto,
    vm: VictoriaMetrics,
    tmp: Path,
) -> Path:
    config = {
        "version": 1,
        "gateway": {"id": "bench", "site": "lab", "log_level": "warning"},
        "api": {"enabled": False},
        "mqtt": {"host": broker.host, "port": broker.port, "mode": workload.mode, "qos": 1},
        "influxdb": {
            "enabled": workload.influx,
            "api": "v2",
            "url": vm.url,
            "org": "lab",
            "bucket": "bench",
        },
        "buffer": {"path": str(tmp / "buffer"), "max_size": "2GB"},
        "devices": devices,
    }
    if workload.oee:
        config["oee"] = {
            "timezone": "Asia/Jakarta",
            "shifts": [{"name": "all", "start": "00:00", "end": "24:00"}],
            "publish_interval": "1m",
        }
    path = tmp / "gateway.json"
    path.write_bytes(orjson.dumps(config))
    return path


async def start_gerbang(
    config: Path, pin: bool, tmp: Path
) -> tuple[subprocess.Popen[bytes], float]:
    """`gerbang run` in its own process; returns it and the seconds until it said READY=1."""
    command = [sys.executable, "-m", "gateway.cli", "run", "-c", str(config)]
    if pin:
        command = ["taskset", "-c", "0", *command]
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp / "notify.sock"))
    notify.settimeout(120)
    started = time.monotonic()
    gateway = subprocess.Popen(  # taskset execs the gateway: the same process
        command,
        stderr=(tmp / "gateway.log").open("wb"),
        env={**os.environ, "NOTIFY_SOCKET": str(tmp / "notify.sock")},
    )
    with notify:
        while b"READY=1" not in await asyncio.to_thread(notify.recv, 4096):
            pass
    return gateway, time.monotonic() - started


async def measure(
    workload: Workload,
    pid: int,
    counter: Counter,
    farm: ServerFarm,
    broker: Mosquitto,
    vm: VictoriaMetrics | None,
) -> dict[str, object]:
    """Let the first scans pass, then count one window of `workload.seconds`."""
    await asyncio.sleep(5)  # connections, first scans
    counter.mark()
    reads0, server0, broker0 = farm.reads(), farm.cpu_seconds(), cpu_seconds(broker.pid)
    cpu0, t0, wall0 = cpu_seconds(pid), time.monotonic(), time.time()
    rss_start = rss_mb(pid)
    await asyncio.sleep(workload.seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    reads1, server1, broker1 = farm.reads(), farm.cpu_seconds(), cpu_seconds(broker.pid)
    seen = counter.report()
    elapsed = t1 - t0
    values = int(seen["values"] or 0)
    scans = values / workload.signals
    _, registers = signals(workload.signals)
    results: dict[str, object] = {
        "values_per_s": round(values / elapsed),
        "cpu_s_per_10k": round((cpu1 - cpu0) / max(values, 1) * 10_000, 4),
        "gateway_cpu_percent": round((cpu1 - cpu0) / elapsed * 100, 1),
        "server_cpu_percent": round((server1 - server0) / elapsed * 100, 1),
        "broker_cpu_percent": round((broker1 - broker0) / elapsed * 100, 1),
        "p50_ms": seen["p50_ms"],
        "p99_ms": seen["p99_ms"],
        "peak_rss_mb": round(rss_peak_mb(pid), 1),
        "rss_mb_start_end": [round(rss_start, 1), round(rss_mb(pid), 1)],
        "requests_per_scan": round((reads1 - reads0) / scans, 2) if scans else None,
        "requests_per_scan_minimum": -(-registers // 125),
    }
    if vm is not None:
        stored = vm.series('{__name__="machine_s000"}')
        in_window = sum(1 for points in stored.values() for ts in points if wall0 * 1000 <= ts)
        results["influx_points_per_s_s000"] = round(in_window / elapsed)
    return results


async def run(workload: Workload, peer: str | None = None) -> dict[str, object]:
    """One run of `workload` through Gerbang (or through `peer`): its figures."""
    tmp = Path(tempfile.mkdtemp(prefix="gerbang-bench-scale-"))
    _, registers = signals(workload.signals)
    farm = ServerFarm(workload.devices, workload.servers, registers)
    broker = bench_broker(tmp / "broker")
    vm = VictoriaMetrics(tmp / "vm")
    gateway: subprocess.Popen[bytes] | None = None
    counter: Counter | None = None
    platform = None
    results: dict[str, object] = {
        "gateway": peer or "gerbang",
        "devices": workload.devices,
        "signals_per_device": workload.signals,
        "interval": workload.interval,
        "mode": workload.mode,
        "influxdb": workload.influx and peer is None,
        "offered_values_per_s": round(workload.offered),
    }
    try:
        broker.start()
        if results["influxdb"]:
            vm.start()
        devices = device_list(workload, farm)
        if peer is None:
            counter = Counter(broker.host, broker.port, "factory/#", workload.mode)
            config = gerbang_config(workload, devices, broker, vm, tmp)
            gateway, ready_s = await start_gerbang(config, workload.pin, tmp)
            pid = gateway.pid
        else:
            from bench.peers import thingsboard

            counter = Counter(broker.host, broker.port, thingsboard.TOPIC, "thingsboard")
            python = thingsboard.install()
            thingsboard.write_config(tmp / "peer", devices, broker.host, broker.port)
            platform = thingsboard.Platform(broker.host, broker.port).start()
            started = time.monotonic()
            gateway = thingsboard.start(
                tmp / "peer", python=python, pin="0" if workload.pin else None
            )
            pid = gateway.pid
            ready_s = time.monotonic() - started  # it has no readiness signal
        results["ready_s"] = round(ready_s, 2)
        results.update(
            await measure(workload, pid, counter, farm, broker, vm if results["influxdb"] else None)
        )
    finally:
        if gateway is not None and peer is not None:
            from bench.peers import thingsboard

            thingsboard.stop(gateway)
        elif gateway is not None:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(30)
            except subprocess.TimeoutExpired:
                gateway.kill()
                gateway.wait()
        if counter is not None:
            counter.close()
        if platform is not None:
            platform.close()
        farm.stop()
        broker.stop()
        with contextlib.suppress(Exception):
            vm.stop()
    return results


def line(name: str, results: dict[str, object]) -> str:
    """The one line of figures a run prints."""
    return (
        f"{name}: {results['values_per_s']:,} of {results['offered_values_per_s']:,} values/s, "
        f"{results['cpu_s_per_10k']} CPU s per 10k ({results['gateway_cpu_percent']}% of a core), "
        f"p50 {results['p50_ms']} ms, p99 {results['p99_ms']} ms, "
        f"peak RSS {results['peak_rss_mb']} MB (window {results['rss_mb_start_end']}), "
        f"requests/scan {results['requests_per_scan']} (minimum "
        f"{results['requests_per_scan_minimum']}), servers {results['server_cpu_percent']}% CPU, "
        f"broker {results['broker_cpu_percent']}%, READY after {results['ready_s']} s"
    )


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
    parser.add_argument("--name", help="results file name (default from the workload)")
    parser.add_argument("--alarms", type=int, default=0, help="alarm rules per device")
    parser.add_argument("--oee", action="store_true", help="OEE for every device")
    args = parser.parse_args()
    workload = Workload(
        devices=args.devices,
        signals=args.signals,
        interval=args.interval,
        mode=args.mode,
        servers=args.servers,
        seconds=args.seconds,
        pin=args.pin,
        influx=not args.no_influx,
        alarms=args.alarms,
        oee=args.oee,
    )
    results = await run(workload)
    name = args.name or workload.name
    print(line(name, results))
    save(name, results)


if __name__ == "__main__":
    asyncio.run(main())
