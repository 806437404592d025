"""`gerbang sim ...` as a trainee types it: list, config, describe, and `sim run` as a child
process over Modbus TCP and over a pseudo-terminal pair it creates, read with `mbpoll`,
with a fault given at start, stopped with SIGINT (exit 0)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.models import MODELS
from tests.support.modbus_server import free_port

pytestmark = pytest.mark.integration

GERBANG = [sys.executable, "-m", "gateway.cli"]


def gerbang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GERBANG, *args], capture_output=True, text=True, timeout=30)


class SimProcess:
    """`gerbang sim run ...` in the background; its stdout lines arrive on a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*GERBANG, "sim", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 20) -> str:
        """The first output line containing `text`."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {text!r} in:\n{''.join(self.seen)}") from None
            self.seen.append(line)
            if text in line:
                return line

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code


@pytest.fixture
def sims() -> Iterator[list[SimProcess]]:
    started: list[SimProcess] = []
    yield started
    for sim in started:
        if sim.proc.poll() is None:
            sim.stop()


def mbpoll(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mbpoll", *args], capture_output=True, text=True, timeout=20)


def test_list_config_describe() -> None:
    listing = gerbang("sim", "list")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(MODELS)
    assert all("modbus-tcp,modbus-rtu" in line for line in lines)
    config = gerbang("sim", "config", "loom", "--port", "5999", "--id", "shed")
    assert config.returncode == 0
    assert "  - id: shed-1\n" in config.stdout and "port: 5999" in config.stdout
    assert "word_order: little" in config.stdout
    described = gerbang("sim", "describe", "reflow")
    assert described.returncode == 0 and "| input | 35 | 30036–30037 |" in described.stdout
    # The same signals as an S7 and a MELSEC PLC: a float32 is a REAL at DBD70, two D words.
    assert "| `last_board_peak` | float32 | `DB1.DBD70` | REAL | `D35` | 2 (low word first) |" in (
        described.stdout
    )
    unknown = gerbang("sim", "config", "toaster")
    assert unknown.returncode == 2 and "known models: tofu" in unknown.stderr


def test_sim_run_over_tcp_with_a_fault_at_start(sims) -> None:
    port = free_port()
    sim = SimProcess("tofu", "--port", str(port), "--fault", "exception", "--speed", "10")
    sims.append(sim)
    sim.wait_for("Ctrl-C stops")
    tcp = ["-m", "tcp", "-p", str(port), "-1", "127.0.0.1"]
    failed = mbpoll("-a", "1", "-t", "3", "-r", "1", "-c", "5", *tcp)
    assert failed.returncode != 0 and "failure" in (failed.stdout + failed.stderr).lower()
    # The fault's control coil answers anyway: clear it (coil 1000 + index of `exception`).
    cleared = mbpoll("-a", "1", "-t", "0", "-r", "1006", *tcp, "0")
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    ok = mbpoll("-a", "1", "-t", "3", "-r", "1", "-c", "5", *tcp)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert sim.stop() == 0


def test_sim_run_rtu_creates_a_pty_and_prints_it(sims) -> None:
    sim = SimProcess("loom", "--protocol", "modbus-rtu", "--speed", "10")
    sims.append(sim)
    device = sim.wait_for("serial device for clients:").split(":", 1)[1].strip()
    assert Path(device).exists()
    sim.wait_for("Ctrl-C stops")
    read = mbpoll("-m", "rtu", "-b", "19200", "-P", "none", "-a", "3", "-t", "3", "-r", "1",
                  "-c", "2", "-1", device)  # fmt: skip
    assert read.returncode == 0, read.stdout + read.stderr
    state, speed = (int(x.split()[-1]) for x in read.stdout.splitlines() if x.startswith("["))
    assert 0 <= state <= 5 and 0 <= speed <= 600
    assert sim.stop() == 0
    assert not Path(device).exists()


def test_unknown_fault_is_refused_clearly() -> None:
    result = gerbang("sim", "run", "tofu", "--fault", "gremlins", "--port", str(free_port()))
    assert result.returncode == 2
    assert "unknown fault 'gremlins'" in result.stderr and "overpressure" in result.stderr


def test_sim_run_over_opcua(sims) -> None:
    port = free_port()
    sim = SimProcess("furnace", "--protocol", "opcua", "--port", str(port), "--speed", "10")
    sims.append(sim)
    sim.wait_for("Ctrl-C stops")
    probe = Path(__file__).resolve().parents[1] / "support" / "opcua_probe.py"
    result = subprocess.run(
        [sys.executable, str(probe), f"opc.tcp://127.0.0.1:{port}", "furnace-1",
         "cooling_outlet_temp", "target_tap_temp"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert set(seen["tree"]) == {"furnace-1"}
    assert seen["refused"] == "BadOutOfRange" and seen["after"] == "BadSensorFailure"
    assert sim.stop() == 0


def test_sim_run_keeps_its_truth_file_and_config_prints_oee(sims, tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "truth.json"
    sim = SimProcess("tofu", "--port", str(port), "--speed", "60", "--truth", str(path))
    sims.append(sim)
    sim.wait_for("Ctrl-C stops")
    assert sim.stop() == 0
    final = json.loads(path.read_text())  # written once more at stop
    grinder = final["devices"]["tofu-grinder"]
    assert final["model"] == "tofu" and final["t"] > 0
    assert sum(grinder["seconds"].values()) == pytest.approx(final["t"], abs=0.2)
    assert {"run_s", "downtime_s", "planned_s", "good", "rejected", "total"} <= grinder.keys()
    config = gerbang("sim", "config", "tofu", "--oee", "--speed", "60")
    assert config.returncode == 0, config.stderr
    assert "reject_count: rejected_batches" in config.stdout
    assert "ideal_cycle_time: 8s" in config.stdout  # 480 s a batch, at ×60
