"""Benchmark: OPC UA monitored items at 100 ms through the gateway, counted at an MQTT subscriber.

Real processes on loopback: one OPC UA server in its own process (`--items` Double variables,
every one changed every `--period`): asyncua, or node-opcua (`--server node-opcua`, Node.js,
which offers the 50,000 changes/s of 5,000 items where one asyncua process manages about
10,000); `gerbang run` in its own process pinned to CPU 0 and subscribed to all of them (one
device, `interval` = period), MQTT per_device at QoS 1 to mosquitto, and the counting subscriber
(`bench/counter.py`). Figures: notifications/s delivered (values counted at the subscriber),
gateway CPU seconds per 10k values (/proc, the gateway process alone), p50/p99 latency from the
source timestamp to arrival at the subscriber, peak RSS, and what the server achieved (it can
be the bottleneck: it is one process changing every variable).

Prints one line and writes bench/results/opcua-<items>[-node-opcua].json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import bench_broker, cpu_seconds, rss_peak_mb, save  # noqa: E402
from bench.counter import Counter  # noqa: E402
from tests.support.node_opcua_server import HERE as NODE_OPCUA  # noqa: E402
from tests.support.node_opcua_server import ensure_installed  # noqa: E402
from tests.support.opcua_server import free_port  # noqa: E402

SERVER = """
import asyncio, sys, time
from datetime import datetime, timezone
from asyncua import Server, ua
async def main(port, items, period):
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench/")
    idx = await server.register_namespace("urn:gerbang:bench")
    obj = await server.nodes.objects.add_object(idx, "Bench")
    nodes = [await obj.add_variable(ua.NodeId(f"v{i}", idx), f"v{i}", 0.0) for i in range(items)]
    ids = [n.nodeid for n in nodes]
    async with server:
        print("READY", flush=True)
        tick, rounds, started = 0, 0, time.monotonic()
        while True:
            tick += 1
            now = datetime.now(timezone.utc)
            for i, nodeid in enumerate(ids):
                value = ua.Variant(float(tick + i), ua.VariantType.Double)
                await server.write_attribute_value(
                    nodeid, ua.DataValue(value, SourceTimestamp=now, ServerTimestamp=now)
                )
            rounds += 1
            if rounds % 50 == 0:
                print(f"RATE {rounds * items / (time.monotonic() - started):.0f}", flush=True)
            await asyncio.sleep(max(0.0, started + rounds * period - time.monotonic()))
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--period", type=float, default=0.1)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--server",
        choices=("asyncua", "node-opcua"),
        default="asyncua",
        help="node-opcua offers more than the 10,000 changes/s one asyncua process manages",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gerbang-bench-opcua-"))
    port = free_port()
    if args.server == "asyncua":
        command = [sys.executable, "-c", SERVER, str(port), str(args.items), str(args.period)]
        endpoint = f"opc.tcp://127.0.0.1:{port}/bench/"
    else:
        node = ensure_installed()
        script = Path(__file__).with_name("opcua_node_server.js")
        command = [node, str(script), str(port), str(args.items), str(args.period), str(tmp)]
        endpoint = f"opc.tcp://127.0.0.1:{port}/bench"
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NODE_PATH": str(NODE_OPCUA / "node_modules")},
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "READY"
    broker = bench_broker(tmp / "broker")
    broker.start()
    signals = [
        {"name": f"v{i}", "node": f"nsu=urn:gerbang:bench;s=v{i}"} for i in range(args.items)
    ]
    config = {
        "version": 1,
        "gateway": {"id": "bench", "site": "lab", "log_level": "warning"},
        "mqtt": {"host": broker.host, "port": broker.port, "mode": "per_device", "qos": 1},
        "buffer": {"path": str(tmp / "buffer")},
        "devices": [
            {
                "id": "bench",
                "protocol": "opcua",
                "endpoint": endpoint,
                "interval": f"{round(args.period * 1000)}ms",
                "signals": signals,
            }
        ],
    }
    path = tmp / "gateway.json"
    path.write_bytes(orjson.dumps(config))
    counter = Counter(broker.host, broker.port, "factory/lab/bench", "per_device")
    gateway = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "gateway.cli", "run", "-c", str(path)],
        stderr=(tmp / "gateway.log").open("wb"),
    )
    results: dict[str, object] = {
        "items": args.items,
        "period_s": args.period,
        "server": args.server,
        "offered_per_s": round(args.items / args.period),
    }
    try:
        await asyncio.sleep(8)  # connect, subscribe, past the initial burst
        counter.mark()
        cpu0, server0, t0 = cpu_seconds(gateway.pid), cpu_seconds(server.pid), time.monotonic()
        await asyncio.sleep(args.seconds)
        cpu1, server1, t1 = cpu_seconds(gateway.pid), cpu_seconds(server.pid), time.monotonic()
        seen = counter.report()
        values = int(seen["values"] or 0)
        results.update(
            notifications_per_s=round(values / (t1 - t0)),
            cpu_s_per_10k=round((cpu1 - cpu0) / max(values, 1) * 10_000, 3),
            gateway_cpu_percent=round((cpu1 - cpu0) / (t1 - t0) * 100, 1),
            server_cpu_percent=round((server1 - server0) / (t1 - t0) * 100, 1),
            p50_ms=seen["p50_ms"],
            p99_ms=seen["p99_ms"],
            peak_rss_mb=round(rss_peak_mb(gateway.pid), 1),
        )
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
        server.terminate()
        rates = [line.split()[1] for line in server.stdout if line.startswith("RATE")]
        server.wait(10)
        results["server_rate"] = int(rates[-1]) if rates else None
        counter.close()
        broker.stop()
    results["note"] = (
        "latency: from a message's ts (the newest OPC UA source timestamp in it) to its "
        "arrival at the subscriber; per_device, one MQTT message per publish response"
    )
    print(
        f"opcua-subscriptions {args.items} items @ {args.period * 1000:.0f} ms: "
        f"{results['notifications_per_s']:,}/s delivered of {results['offered_per_s']:,}/s "
        f"offered ({args.server} managed {results.get('server_rate')}/s, "
        f"{results['server_cpu_percent']}% CPU), "
        f"{results['cpu_s_per_10k']} CPU s per 10k ({results['gateway_cpu_percent']}% of a core), "
        f"p50 {results['p50_ms']} ms, "
        f"p99 {results['p99_ms']} ms, peak RSS {results['peak_rss_mb']} MB"
    )
    save(f"opcua-{args.items}" + ("-node-opcua" if args.server == "node-opcua" else ""), results)


if __name__ == "__main__":
    asyncio.run(main())
