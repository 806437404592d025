"""The `gerbang` command as a user runs it: exit codes, error output, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.modbus_server import free_port

pytestmark = pytest.mark.integration

GERBANG = [sys.executable, "-m", "gateway.cli"]


def gerbang(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GERBANG, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_version() -> None:
    from gateway import __version__

    result = gerbang("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gerbang {__version__}"


def test_check_reports_every_error_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "version: 1\n"
        "gateway: {id: casting-01}\n"
        "devices:\n"
        "  - id: furnace-1\n"
        "    protocol: modbus-tcp\n"
        "    host: 127.0.0.1\n"
        "    signals:\n"
        "      - {name: melt_temp, table: holdings, address: 0, type: float32}\n"
        "      - {name: power, table: input, adress: 10}\n"
    )
    result = gerbang("check", "-c", str(path))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert any(
        line.startswith(f"{path}:8: devices[0].signals[0].table:") and "'holding'" in line
        for line in lines
    ), result.stdout
    assert any(
        line.startswith(f"{path}:9: devices[0].signals[1]") and "'address'" in line
        for line in lines
    ), result.stdout


def test_check_accepts_a_valid_file_and_the_env_default(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("version: 1\ngateway: {id: casting-01}\n")
    assert gerbang("check", env={"GERBANG_CONFIG": str(path)}).returncode == 0


def test_run_with_an_invalid_config_exits_78(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text("version: 2\ngateway: {id: casting-01}\n")
    result = gerbang("run", "-c", str(path))
    assert result.returncode == 78
    assert "version" in result.stderr


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            "api: {listen: '127.0.0.1:99999'}\n",
            3,
            "api.listen: port 99999 is out of range: ports are 1 to 65535",
        ),
        ("x: " + "[" * 30_000 + "]" * 30_000 + "\n", 3, "nesting deeper than 64 levels"),
        (
            "devices: [{id: d, protocol: modbus-tcp, host: 127.0.0.1, interval: 0ms}]\n",
            3,
            "devices[0].interval: '0ms' is out of range: write 10ms to 24h",
        ),
    ],
    ids=["listen-port", "deep-nesting", "zero-interval"],
)
def test_config_bombs_and_ranges_are_config_errors_for_run_and_check(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(f"version: 1\ngateway: {{id: casting-01}}\n{body}")
    checked = gerbang("check", "-c", str(path))
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.startswith(f"{path}:{line}: {message}"), checked.stdout
    ran = gerbang("run", "-c", str(path))
    assert ran.returncode == 78, ran.stderr
    assert f"{path}:{line}: {message}" in ran.stderr
    assert "Traceback" not in ran.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_cleanly_on_signal(tmp_path: Path, signum: int) -> None:
    path = tmp_path / "gateway.yaml"
    # A device nobody answers for: the gateway must still start, and stop on the signal.
    path.write_text(
        "version: 1\n"
        "gateway: {id: casting-01}\n"
        "mqtt: {enabled: false}\n"
        "devices:\n"
        f"  - {{id: furnace-1, protocol: modbus-tcp, host: 127.0.0.1, port: {free_port()},\n"
        "     signals: [{name: t, table: holding, address: 0}]}\n"
    )
    with subprocess.Popen(
        [*GERBANG, "run", "-c", str(path)], stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            deadline = time.monotonic() + 20
            seen = ""
            assert proc.stderr is not None
            while "ready" not in seen and time.monotonic() < deadline:
                seen += proc.stderr.readline()
            assert "ready" in seen, seen
            proc.send_signal(signum)
            _, rest = proc.communicate(timeout=15)
            assert proc.returncode == 0, rest
            assert "stopped" in rest
        finally:
            if proc.poll() is None:
                proc.kill()
