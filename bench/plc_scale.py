"""Benchmark: Siemens S7 and MELSEC (MC) devices x 100 signals through the gateway, next to Modbus.

The same workload for each protocol: `--devices` devices of 100 signals (uint16, int32, float32
in turn: 167 words, 334 bytes) every `--interval` (100 x 100 at 1 s: 10,000 values/s), read by
`gerbang run` in its own process and published to mosquitto, counted by an MQTT subscriber
process. The PLCs are real loopback servers in `--servers` processes of their own: python-snap7's
server (`S7Memory`; each device its own DB on one PLC), our MC server (`McServer`; each device
its own block of D registers), pymodbus (`bench.modbus_scale`'s server; each device a unit id).
The servers count the read requests they answer, so requests per scan are counted at the
server, against the planner's minimum for that protocol (S7 within the PDU python-snap7 grants,
MC within 960 words, Modbus within 125 registers).

Figures per protocol: values/s delivered, gateway CPU seconds per 10k values (from /proc, the
gateway process alone), p50/p99 latency to the subscriber, peak RSS, requests per scan.
`--seconds 10` is a smoke run (the machine this was written on is shared); a measurement wants
60 s or more and an idle machine.

Prints one line per protocol and writes bench/results/plc-scale-<devices>x<interval>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    TYPES,
    bench_broker,
    cpu_seconds,
    rss_peak_mb,
    save,
    start_servers,
)
from bench.counter import Counter  # noqa: E402
from bench.modbus_scale import SERVER as MODBUS_SERVER  # noqa: E402
from bench.modbus_scale import start_gerbang  # noqa: E402
from gateway.config.types import parse_duration  # noqa: E402

S7_SERVER = """
import sys, struct
sys.path.insert(0, sys.argv[1])
from simulators.frontends.s7_server import S7Memory
port, devices, size = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mem = S7Memory(port=port)
for n in range(1, devices + 1):
    db = mem.add_db(n, size)
    db[:] = bytes((i * 7) % 251 for i in range(size))
mem.start()
print("READY", flush=True)
while sys.stdin.readline():
    print(mem.reads, flush=True)  # read requests answered so far, on any line
"""

MC_SERVER = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from simulators.frontends.mc_server import McMemory, McServer
async def main(port, devices, words):
    memory = McMemory({"D": devices * words})
    memory.set_words("D", 0, [(i * 7) % 1000 for i in range(devices * words)])
    server = await McServer(memory, "127.0.0.1", port).start()
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(server.requests, flush=True)
asyncio.run(main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"""

MC_STRIDE = 200
"""D registers per device on the MC server (a device's 167 words, then a gap)."""


def layout(count: int) -> list[tuple[str, int]]:
    """(type, word offset) of `count` signals: uint16, int32, float32 in turn."""
    out, word = [], 0
    for i in range(count):
        kind = TYPES[i % 3]
        out.append((kind, word))
        word += 1 if kind == "uint16" else 2
    return out


def device_signals(protocol: str, n: int, count: int) -> list[dict[str, object]]:
    """The signals of device number `n` (0-based) in `protocol`'s addressing."""
    out: list[dict[str, object]] = []
    for i, (kind, word) in enumerate(layout(count)):
        sig: dict[str, object] = {"name": f"s{i:03d}", "type": kind}
        if protocol == "modbus":
            sig.update(table="holding", address=word)
        elif protocol == "s7":
            letter = "W" if kind == "uint16" else "D"
            sig["address"] = f"DB{n + 1}.DB{letter}{2 * word}"
        else:
            sig["address"] = f"D{n * MC_STRIDE + word}"
        out.append(sig)
    return out


def minimum_requests(protocol: str, count: int, pdu: int = 480) -> int:
    """The planner's minimum of read requests for one device's scan."""
    if protocol == "modbus":
        return -(-sum(1 if k == "uint16" else 2 for k, _ in layout(count)) // 125)
    signals = device_signals(protocol, 0, count)
    if protocol == "s7":
        from adapters.s7.address import locate as s7_locate
        from adapters.s7.planner import plan_reads as s7_plan

        return len(
            s7_plan([s7_locate(str(s["address"]), str(s["type"])) for s in signals], pdu, 20)
        )
    from adapters.mc.address import locate as mc_locate
    from adapters.mc.planner import plan_reads as mc_plan

    locations = [mc_locate(str(s["address"]), str(s["type"])) for s in signals]
    return len(mc_plan(locations, 960, 10))


class Farm:
    """Server processes of one protocol, each serving its share of the devices."""

    def __init__(self, protocol: str, devices: int, servers: int, signals: int) -> None:
        self.protocol = protocol
        self.per_server = -(-devices // servers)
        words = sum(1 if k == "uint16" else 2 for k, _ in layout(signals))
        script, size = {
            "modbus": (MODBUS_SERVER, words),
            "s7": (S7_SERVER, 2 * words),
            "mc": (MC_SERVER, MC_STRIDE),
        }[protocol]
        self.procs = start_servers(script, servers, self.per_server, size)

    def entry(self, n: int, signals: int, interval: str) -> dict[str, object]:
        """The gateway's entry for device `n`."""
        port = self.procs[n // self.per_server][1]
        local = n % self.per_server
        entry: dict[str, object] = {
            "id": f"dev-{n:04d}",
            "protocol": {"modbus": "modbus-tcp"}.get(self.protocol, self.protocol),
            "host": "127.0.0.1",
            "port": port,
            "interval": interval,
            "timeout": "2s",
            "signals": device_signals(self.protocol, local, signals),
        }
        if self.protocol == "modbus":
            entry["unit"] = local + 1
        return entry

    def reads(self) -> int:
        """Read requests answered so far by all the servers."""
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


async def run_one(
    protocol: str, devices: int, signals: int, interval: str, servers: int, seconds: float
) -> dict[str, object]:
    """One protocol's run: its figures."""
    tmp = Path(tempfile.mkdtemp(prefix=f"gerbang-bench-{protocol}-"))
    farm = Farm(protocol, devices, servers, signals)
    broker = bench_broker(tmp / "broker")
    gateway: subprocess.Popen[bytes] | None = None
    counter: Counter | None = None
    offered = devices * signals / parse_duration(interval)
    results: dict[str, object] = {"protocol": protocol, "offered_values_per_s": round(offered)}
    try:
        broker.start()
        counter = Counter(broker.host, broker.port, "factory/#", "per_device")
        config = {
            "version": 1,
            "gateway": {"id": "bench", "site": "lab", "log_level": "warning"},
            "api": {"enabled": False},
            "mqtt": {"host": broker.host, "port": broker.port, "mode": "per_device", "qos": 1},
            "buffer": {"path": str(tmp / "buffer"), "max_size": "2GB"},
            "devices": [farm.entry(n, signals, interval) for n in range(devices)],
        }
        path = tmp / "gateway.json"
        path.write_bytes(orjson.dumps(config))
        gateway, ready_s = await start_gerbang(path, False, tmp)
        await asyncio.sleep(3)  # connections, first scans
        counter.mark()
        reads0, server0 = farm.reads(), farm.cpu_seconds()
        cpu0, t0 = cpu_seconds(gateway.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, t1 = cpu_seconds(gateway.pid), time.monotonic()
        reads1, server1 = farm.reads(), farm.cpu_seconds()
        seen = counter.report()
        elapsed = t1 - t0
        values = int(seen["values"] or 0)
        scans = values / signals
        results.update(
            values_per_s=round(values / elapsed),
            cpu_s_per_10k=round((cpu1 - cpu0) / max(values, 1) * 10_000, 4),
            gateway_cpu_percent=round((cpu1 - cpu0) / elapsed * 100, 1),
            server_cpu_percent=round((server1 - server0) / elapsed * 100, 1),
            p50_ms=seen["p50_ms"],
            p99_ms=seen["p99_ms"],
            peak_rss_mb=round(rss_peak_mb(gateway.pid), 1),
            requests_per_scan=round((reads1 - reads0) / scans, 2) if scans else None,
            requests_per_scan_minimum=minimum_requests(protocol, signals),
            ready_s=round(ready_s, 2),
        )
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
        with contextlib.suppress(Exception):
            broker.stop()
    return results


def line(results: dict[str, object]) -> str:
    """The one line of figures a protocol's run prints."""
    return (
        f"{results['protocol']}: {results['values_per_s']:,} of "
        f"{results['offered_values_per_s']:,} values/s, {results['cpu_s_per_10k']} CPU s per 10k "
        f"({results['gateway_cpu_percent']}% of a core), p50 {results['p50_ms']} ms, "
        f"p99 {results['p99_ms']} ms, peak RSS {results['peak_rss_mb']} MB, requests/scan "
        f"{results['requests_per_scan']} (minimum {results['requests_per_scan_minimum']}), "
        f"servers {results['server_cpu_percent']}% CPU"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocols", default="modbus,s7,mc")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--signals", type=int, default=100)
    parser.add_argument("--interval", default="1s")
    parser.add_argument("--servers", type=int, default=2, help="server processes")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--name", help="results file name (default from the workload)")
    args = parser.parse_args()
    runs = []
    for protocol in args.protocols.split(","):
        results = await run_one(
            protocol, args.devices, args.signals, args.interval, args.servers, args.seconds
        )
        print(line(results), flush=True)
        runs.append(results)
    name = args.name or f"plc-scale-{args.devices}x{args.interval}"
    save(
        name,
        {
            "devices": args.devices,
            "signals_per_device": args.signals,
            "interval": args.interval,
            "seconds": args.seconds,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
