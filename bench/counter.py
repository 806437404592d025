"""The benchmarks' MQTT subscriber, in a process of its own, so that counting never competes with
the benchmark's driver for one interpreter and the figures are the broker's output, not ours.

It subscribes at QoS 0 (the broker then neither waits for our acknowledgements nor drops
messages when its QoS 1 queue for a slow subscriber is full), keeps the arrival time and the raw
payload of every message, and parses them only when asked, so receiving stays cheap at tens of
thousands of messages a second.

Driven over stdin/stdout, one line each: `mark` starts a counting window; `report` prints one
JSON line for the messages since the mark: messages, values, p50/p99 latency in ms from the
sample's `ts` to arrival. Payload formats: `per_device` (`{"ts", "values": {...}}`),
`per_signal` (`{"ts", "value"}`) and `thingsboard` (`{"device": [{"ts", "values"}]}`).

`Counter` starts and drives the process from a benchmark.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: bench.peers must import


def per_device(payload: bytes) -> list[tuple[int, int]]:
    body = orjson.loads(payload)
    return [(len(body["values"]), body["ts"])]


def per_signal(payload: bytes) -> list[tuple[int, int]]:
    return [(1, orjson.loads(payload)["ts"])]


def thingsboard(payload: bytes) -> list[tuple[int, int]]:
    from bench.peers.thingsboard import TOPIC, count

    return [(values, ts or 0) for values, ts in count(TOPIC, payload)]


FORMATS: dict[str, Callable[[bytes], list[tuple[int, int]]]] = {
    "per_device": per_device,
    "per_signal": per_signal,
    "thingsboard": thingsboard,
}


def summarize(received: list[tuple[float, bytes]], parse: Callable[[bytes], list[tuple[int, int]]]):
    """Messages, values and latency percentiles of `received` (arrival time s, payload)."""
    values = 0
    lags: list[float] = []
    for at, payload in received:
        try:
            parsed = parse(payload)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            continue
        for count, ts in parsed:
            values += count
            if ts:
                lags.append(at * 1000 - ts)
    lags.sort()
    return {
        "messages": len(received),
        "values": values,
        "p50_ms": round(lags[len(lags) // 2], 1) if lags else None,
        "p99_ms": round(lags[int(len(lags) * 0.99)], 1) if lags else None,
    }


def serve(host: str, port: int, topic: str, fmt: str) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    received: list[tuple[float, bytes]] = []
    subscribed = threading.Event()
    now = time.time
    append = received.append

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        # Retained and `$state` messages are not samples.
        if not msg.retain and b"$" not in msg._topic:
            append((now(), msg.payload))

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="gerbang-bench-counter")
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=0)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = on_message
    client.connect(host, port)
    client.loop_start()
    if not subscribed.wait(10):
        sys.exit("counter: no SUBACK within 10 s")
    print("READY", flush=True)
    mark = 0
    for line in sys.stdin:
        command = line.strip()
        if command == "mark":
            mark = len(received)
            print("OK", flush=True)
        elif command == "report":
            window = received[mark:]
            print(orjson.dumps(summarize(window, FORMATS[fmt])).decode(), flush=True)
    client.loop_stop()


class Counter:
    """A counter process subscribed to `topic` on the broker at host:port."""

    def __init__(self, host: str, port: int, topic: str, fmt: str, cpu: int | None = None):
        command = [sys.executable, str(Path(__file__)), host, str(port), topic, fmt]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        if self._line() != "READY":
            raise RuntimeError("the counter did not subscribe")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line()

    def mark(self) -> None:
        """Start counting from now."""
        self._ask("mark")

    def report(self) -> dict[str, float | int | None]:
        """Messages, values and p50/p99 latency since the mark."""
        return orjson.loads(self._ask("report"))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("topic")
    parser.add_argument("format", choices=sorted(FORMATS))
    args = parser.parse_args()
    serve(args.host, args.port, args.topic, args.format)
