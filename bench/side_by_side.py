"""Benchmark: the modbus-scale workload through Gerbang and through a peer, in the same run.

The peer is ThingsBoard's IoT Gateway (bench/peers/thingsboard.sh installs it from PyPI into
its own venv at run time; none of its code is in this repository), with its Modbus connector
and its MQTT client pointed at the same local mosquitto. Both gateways read the same pymodbus
servers (100 signals a device: uint16, int32, float32 in turn), MQTT only (QoS 1; the peer has
no InfluxDB output), each pinned to CPU 0, one after the other, counted by the same subscriber
process.

Two loads: a moderate one both carry (10 devices at 1 s: 1,000 values/s), for CPU per 10k
values, and 10 devices at 100 ms (10,000 values/s offered), beyond the peer's most (it makes
one Modbus request per signal, and past its knee it has no back-pressure: at 50,000 offered it
collapses to under 100 values/s while its memory grows). Gerbang's most comes from the scaling
curve (bench/results/scaling-curve-100ms.json) when it was run. Prints one line per run and the
ratios, and writes bench/results/side-by-side.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import save  # noqa: E402
from bench.modbus_scale import Workload, line, run  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", choices=("thingsboard",), default="thingsboard")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    loads = {
        "moderate": Workload(devices=10, interval="1s", influx=False, pin=True),
        "high": Workload(devices=10, interval="100ms", influx=False, pin=True),
    }
    results: dict[str, object] = {"peer": args.peer}
    for label, workload in loads.items():
        workload.seconds = args.seconds
        for who in ("gerbang", args.peer):
            figures = await run(workload, peer=None if who == "gerbang" else who)
            print(line(f"side-by-side {label} {who}", figures), flush=True)
            results[f"{label}_{who}"] = figures
    ours, theirs = results["moderate_gerbang"], results[f"moderate_{args.peer}"]
    ours_high, theirs_high = results["high_gerbang"], results[f"high_{args.peer}"]
    assert isinstance(ours, dict) and isinstance(theirs, dict)
    assert isinstance(ours_high, dict) and isinstance(theirs_high, dict)
    results["cpu_per_10k_ratio"] = round(theirs["cpu_s_per_10k"] / ours["cpu_s_per_10k"], 1)
    ours_max = int(ours_high["values_per_s"])
    curve = REPO / "bench" / "results" / "scaling-curve-100ms.json"
    if curve.exists():
        points = orjson.loads(curve.read_bytes())["points"]
        ours_max = max(ours_max, *(int(point["values_per_s"]) for point in points))
    results["gerbang_max_values_per_s"] = ours_max
    results["max_values_per_s_ratio"] = round(ours_max / max(theirs_high["values_per_s"], 1), 1)
    print(
        f"side-by-side: {args.peer} spends {results['cpu_per_10k_ratio']}x Gerbang's CPU per "
        f"10k values; Gerbang's most values/s is {results['max_values_per_s_ratio']}x its most "
        f"({ours_max:,} vs {theirs_high['values_per_s']:,})"
    )
    save("side-by-side", results)


if __name__ == "__main__":
    asyncio.run(main())
