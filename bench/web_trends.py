"""What the web page's trends and event stream cost the gateway: time per trend sample, per
`values` event and per `status` build, and the memory the full trend buffers hold.

Pure in-process figures (no servers): a fake pipeline with DEVICES × SIGNALS numeric samples,
every sample replaced before each `values` event (the worst case: everything changed).
Memory is measured while samples are replaced too, so it includes their churn (an upper bound).

    .venv/bin/python bench/web_trends.py --devices 10 --signals 100
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import save  # noqa: E402
from gateway.api.live import TREND_POINTS, Live, Trends  # noqa: E402
from gateway.model import GOOD, Sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--signals", type=int, default=100)
    args = parser.parse_args()
    latest = {
        f"dev-{d}": {f"sig_{s}": Sample(f"sig_{s}", float(s), GOOD, 0) for s in range(args.signals)}
        for d in range(args.devices)
    }
    gateway: Any = SimpleNamespace(pipeline=SimpleNamespace(latest=latest))
    count = args.devices * args.signals

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    trends = Trends(gateway)
    spent = 0.0
    for i in range(TREND_POINTS):
        for samples in latest.values():
            for name in samples:
                samples[name] = Sample(name, float(i), GOOD, i)
        start = time.perf_counter()
        trends.sample()
        spent += time.perf_counter() - start
    full = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    sample_ms = 1000 * spent / TREND_POINTS

    live = Live(gateway)
    sent: dict[str, dict[str, Sample]] = {}
    spent = 0.0
    for i in range(20):
        for samples in latest.values():
            for name in samples:
                samples[name] = Sample(name, float(i), GOOD, i)
        start = time.perf_counter()
        live._changed(sent)
        spent += time.perf_counter() - start
    values_ms = 1000 * spent / 20

    results = {
        "signals": count,
        "trend_sample_ms": round(sample_ms, 3),
        "values_event_ms": round(values_ms, 3),
        "trend_memory_bytes": full,
        "trend_bytes_per_signal": round(full / count),
    }
    print(
        f"{count} signals: trend sample {sample_ms:.2f} ms every 5 s, "
        f"values event {values_ms:.2f} ms (all changed), trends full {full / 1e6:.1f} MB "
        f"({full / count:.0f} B per signal)"
    )
    save(f"web-trends-{count}", results)


if __name__ == "__main__":
    main()
