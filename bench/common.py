"""What every benchmark shares: the signal map of a simulated device, figures read from /proc
for the gateway process alone, and the results file (bench/results/<name>.json)."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_servers(
    script: str, count: int, *args: object
) -> list[tuple[subprocess.Popen[str], int]]:
    """`count` server processes running `script` (`python -c`), each on a free loopback port,
    given `REPO`, its port and `args`; returned once every one printed READY."""

    procs: list[tuple[subprocess.Popen[str], int]] = []
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(REPO), str(port), *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append((proc, port))
    for proc, _ in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    return procs


def save(name: str, results: dict[str, object]) -> Path:
    """Add the machine and the commit to `results` and write them as JSON."""
    python = platform.python_version()
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {python}"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    results["commit"] = commit.stdout.strip()
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


TYPES = ("uint16", "int32", "float32")


def signals(count: int) -> tuple[list[dict[str, object]], int]:
    """`count` holding-register signals of mixed types (uint16, int32, float32 in turn), and
    the registers they span."""
    out: list[dict[str, object]] = []
    address = 0
    for i in range(count):
        kind = TYPES[i % 3]
        out.append({"name": f"s{i:03d}", "table": "holding", "address": address, "type": kind})
        address += 1 if kind == "uint16" else 2
    return out, address


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), MB."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), MB."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def write_bytes(pid: int) -> int:
    """Bytes the process sent to the block layer (/proc/PID/io), its log file included."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def bench_broker(directory: Path, nodelay: bool = True):  # -> tests.support.mosquitto.Mosquitto
    """A mosquitto for benchmarks: no debug log of every packet, and (as the broker config in
    deploy/mosquitto ships) TCP_NODELAY towards subscribers."""
    from tests.support.mosquitto import Mosquitto

    options = ["set_tcp_nodelay true"] if nodelay else []
    return Mosquitto(directory, options=options, log_messages=False)
