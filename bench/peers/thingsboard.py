"""The ThingsBoard IoT Gateway as the peer of the modbus-scale benchmark.

Why it exists: our Modbus figures mean little alone, so bench/modbus_scale.py can run the same
workload (the same pymodbus servers, the same mosquitto, on the same machine in the same run)
through a widely used open-source gateway and report the ratios. This module installs that peer
(bench/peers/thingsboard.sh, from PyPI into its own venv outside the repository: none of its
code is committed), translates our device list into its configuration, starts it, and parses
what it publishes.

The translation: one ThingsBoard device per device of ours (named after our device id), one
timeseries key per signal (same name, address and type; holding -> function code 3, input -> 4),
poll period = our interval, big-endian bytes and words as ours, report strategy ON_RECEIVED
(every value of every scan is sent, as ours does), MQTT QoS 1 to the local broker without TLS,
in-memory storage, logging at WARNING, statistics, remote configuration and remote shell off.
Its Modbus connector makes one request per key (100 requests a scan for 100 signals, where ours
makes 2), and all devices behind one host:port share one TCP connection: that is how it reads
devices, not a setting of ours.

It cannot run against a bare broker: its MQTT client waits for the platform's answer to a
`getSessionLimits` RPC before it sends any telemetry, so `Platform` gives that answer (no rate
limits) from the benchmark's process.

It publishes `v1/gateway/telemetry` messages shaped
`{"<device>": [{"ts": <ms>, "values": {"<key>": <value>, ...}}, ...], ...}`; `count` turns one
into (values, ts) pairs as our subscriber counts our own per_device messages. The `ts` is the
wall-clock time at which its converter decoded the scan, just after the last response of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config.types import parse_duration

SCRIPT = Path(__file__).with_name("thingsboard.sh")
TOPIC = "v1/gateway/telemetry"
TOPICS = (TOPIC,)
"""What the subscriber subscribes to (the gateway's own topics, v1/devices/me/..., are left out)."""

_TYPES = {"uint16": ("16uint", 1), "int16": ("16int", 1), "int32": ("32int", 2)}
_TYPES |= {"uint32": ("32uint", 2), "float32": ("32float", 2), "float64": ("64float", 4)}
_FUNCTION = {"holding": 3, "input": 4}
# Its converter rounds floats to 6 decimal places unless told otherwise; our bench floats are
# tiny (1e-36 and below), so they would all arrive as 0.0. Above 323 places Python's round()
# returns the float itself, unchanged and without the decimal work.
_FLOAT_ROUND = 400
_SESSION_LIMITS = orjson.dumps(
    {"maxPayloadSize": 65536, "maxInflightMessages": 100, "rateLimits": {}, "gatewayRateLimits": {}}
)


def install(env: dict[str, str] | None = None) -> Path:
    """Install the peer if needed (bench/peers/thingsboard.sh) and return its venv's python."""
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing the ThingsBoard gateway failed:\n{done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def _timeseries(sig: dict[str, Any]) -> dict[str, Any]:
    kind, registers = _TYPES[str(sig["type"])]
    entry: dict[str, Any] = {
        "tag": sig["name"],
        "type": kind,
        "functionCode": _FUNCTION[str(sig.get("table", "holding"))],
        "objectsCount": registers,
        "address": int(sig["address"]),
    }
    if kind.endswith("float"):
        entry["round"] = _FLOAT_ROUND
    return entry


def _slave(device: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": device["host"],
        "port": int(device["port"]),
        "type": "tcp",
        "method": "socket",
        "unitId": int(device.get("unit", 1)),
        "deviceName": device["id"],
        "deviceType": "default",
        "timeout": parse_duration(str(device.get("timeout", "2s"))),
        "byteOrder": "BIG",
        "wordOrder": "BIG",
        "pollPeriod": round(parse_duration(str(device["interval"])) * 1000),
        "attributes": [],
        "timeseries": [_timeseries(s) for s in device["signals"]],
        "attributeUpdates": [],
        "rpc": [],
    }


def _logs(level: str) -> dict[str, Any]:
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "level": 0}
    names = ("service", "connector", "converter", "tb_connection", "storage", "extension")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"stderr": {**handler, "formatter": "plain"}},
        "loggers": {
            name: {"handlers": ["stderr"], "level": level, "propagate": False} for name in names
        },
        "root": {"level": "ERROR", "handlers": ["stderr"]},
    }


def write_config(
    folder: Path,
    devices: Sequence[dict[str, Any]],
    broker_host: str,
    broker_port: int,
    *,
    log_level: str = "WARNING",
) -> Path:
    """Write the peer's configuration for our `devices` (the device dicts modbus_scale.py
    builds) into `folder` and return the path of its main file (tb_gateway.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    modbus = {"master": {"slaves": [_slave(d) for d in devices]}, "slave": {}}
    main = {
        "thingsboard": {
            "host": broker_host,
            "port": broker_port,
            "remoteShell": False,
            "remoteConfiguration": False,
            "latencyDebugMode": False,
            "statistics": {"enable": False, "statsSendPeriodInSeconds": 3600},
            "deviceFiltering": {"enable": False},
            "checkConnectorsConfigurationInSeconds": 3600,
            "handleDeviceRenaming": False,
            "security": {"type": "accessToken", "accessToken": "gerbang-bench"},
            "qos": 1,
            "reportStrategy": {"type": "ON_RECEIVED"},
            "checkingDeviceActivity": {"checkDeviceInactivity": False},
        },
        "storage": {"type": "memory", "read_records_count": 100, "max_records_count": 1_000_000},
        "grpc": {"enabled": False},
        "connectors": [
            {
                "type": "modbus",
                "name": "Modbus",
                "configuration": "modbus.json",
                "logLevel": log_level,
            }
        ],
    }
    (folder / "modbus.json").write_bytes(orjson.dumps({**modbus, "logLevel": log_level}))
    (folder / "logs.json").write_bytes(orjson.dumps(_logs(log_level)))
    path = folder / "tb_gateway.json"
    path.write_bytes(orjson.dumps(main, option=orjson.OPT_INDENT_2))
    return path


def start(
    folder: Path,
    *,
    python: Path | None = None,
    pin: str | None = None,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Run the peer on the configuration in `folder` (see `write_config`).

    The returned process is the one doing the work: the gateway runs its connector, converter
    and MQTT client as threads of one process and forks nothing, and `taskset` (with `pin`, a
    CPU list such as "0") execs it in place, so `proc.pid` is the PID to read /proc for. Its
    output goes to `log` (default folder/peer.log). pip cannot reach an index while it runs:
    if it tried to install a missing package at run time, it fails instead of measuring an
    install. Start a `Platform` on the same broker first, or it never publishes.
    """
    python = python or install()
    command = [str(python), "-m", "thingsboard_gateway.tb_gateway"]
    if pin is not None:
        command = ["taskset", "-c", pin, *command]
    out = (log or folder / "peer.log").open("ab")
    env = {
        **os.environ,
        "TB_GW_CONFIG_DIR": str(folder),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "",
        "PYTHONUNBUFFERED": "1",
        # It asks updates.thingsboard.io for a newer version at start and hourly: a dead proxy
        # makes that fail at once, so the run stays offline (MQTT ignores https_proxy).
        "https_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    env.pop("PYTHONPATH", None)  # its own venv alone: nothing of ours on its path
    try:
        return subprocess.Popen(command, cwd=folder, stdout=out, stderr=out, env=env)
    finally:
        out.close()


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop the peer: SIGINT (its own shutdown), then SIGKILL after `timeout` seconds. Its
    shutdown closes the Modbus connections one by one with up to 5 s each, and takes minutes
    under overload, hence the kill."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Platform:
    """The part of a ThingsBoard server the peer cannot run without: its answer to the
    `getSessionLimits` RPC.

    On connecting, the peer's MQTT client asks the platform for its session limits (an RPC on
    v1/devices/me/rpc/request/N) and sends no telemetry until the answer arrives, which a plain
    broker never gives. This client, in our process, answers every such request on
    v1/devices/me/rpc/response/N: no rate limits, 100 messages in flight (its client uses 80%
    of it) and 64 KiB payloads. `start()` it before the peer, `close()` it after.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.answered = 0
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="gerbang-bench-platform")
        self.client.on_connect = lambda c, *_: c.subscribe("v1/devices/me/rpc/request/+", qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message

    def _on_message(self, client: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        try:
            method = orjson.loads(msg.payload).get("method")
        except orjson.JSONDecodeError:
            return
        if method == "getSessionLimits":
            request = msg.topic.rsplit("/", 1)[1]
            client.publish(f"v1/devices/me/rpc/response/{request}", _SESSION_LIMITS, qos=1)
            self.answered += 1

    def start(self, timeout: float = 10.0) -> Platform:
        """Connect and return once subscribed (the peer's first request must not be missed)."""
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            self.close()
            raise RuntimeError(f"the platform stand-in got no SUBACK within {timeout} s")
        return self

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def samples(payload: bytes) -> Iterator[tuple[str, int | None, dict[str, Any]]]:
    """(device, ts ms or None, values) for every sample in one `v1/gateway/telemetry` message."""
    body = orjson.loads(payload)
    for device, entries in body.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if "values" in entry:
                yield device, entry.get("ts"), entry["values"]
            else:  # a sample without a timestamp: the values themselves
                yield device, None, entry


def count(topic: str, payload: bytes) -> list[tuple[int, int | None]]:
    """(number of values, sample ts in ms or None) for every sample in one message on `topic`;
    nothing for the peer's other topics."""
    if topic != TOPIC:
        return []
    return [(len(values), ts) for _, ts, values in samples(payload)]
