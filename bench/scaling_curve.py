"""Benchmark: the scaling curve, the modbus-scale workload as devices go 1 -> 10 -> 100 -> 500.

Each point is one `modbus_scale.run` (its own servers, broker, victoria-metrics and gateway,
pinned to one core): values/s delivered and CPU seconds per 10k values. A cost that grows
linearly keeps CPU per 10k flat; where delivered falls behind offered the curve saturates, and
the gateway's and the servers' CPU say which side ran out.

Prints one line per point and writes bench/results/scaling-curve-<interval>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import save  # noqa: E402
from bench.modbus_scale import Workload, line, run  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="1,10,100,500", help="comma-separated counts")
    parser.add_argument("--interval", default="100ms")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    points = []
    for devices in (int(n) for n in args.devices.split(",")):
        workload = Workload(
            devices=devices,
            interval=args.interval,
            servers=max(1, min(4, devices // 50)),
            seconds=args.seconds,
            pin=True,
        )
        results = await run(workload)
        print(line(f"scaling-curve {devices} devices x {args.interval}", results), flush=True)
        points.append(results)
    save(f"scaling-curve-{args.interval}", {"points": points})


if __name__ == "__main__":
    asyncio.run(main())
