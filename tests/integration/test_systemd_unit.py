"""deploy/systemd/gerbang.service: systemd's own checks, and agreement with the code.

`systemd-analyze verify` and `systemd-analyze security --offline` read the unit file without a
running systemd (systemd is not PID 1 here, nor on CI). The exposure level is also written in
deploy/README.md; the test keeps the two in step.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import runner
from gateway.cli import DEFAULT_CONFIG, EX_CONFIG

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "gerbang.service"
README = ROOT / "deploy" / "README.md"
EXEC = "/opt/gerbang/venv/bin/gerbang"


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is missing (apt-get install systemd)")
    return found


def settings(text: str) -> dict[str, list[str]]:
    """`Key=value` lines of a unit, every value of repeated keys, comments left out."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def unit_with_exec(directory: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's gerbang (verify checks it exists)."""
    gerbang = Path(sys.executable).parent / "gerbang"
    assert gerbang.exists(), "run the tests from the project's virtual environment"
    unit = directory / "gerbang.service"
    unit.write_text(UNIT.read_text().replace(f"ExecStart={EXEC} ", f"ExecStart={gerbang} "))
    return unit


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = unit_with_exec(tmp_path)
    assert str(Path(sys.executable).parent) in unit.read_text()
    result = subprocess.run(
        [analyze(), "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    # verify exits 0 on some warnings (an unknown key): any output is a finding.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_security_exposure_is_low_and_documented(tmp_path: Path) -> None:
    result = subprocess.run(
        [analyze(), "security", "--offline=true", str(unit_with_exec(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d) (\w+)", result.stdout)
    assert match, result.stdout + result.stderr
    level, verdict = float(match[1]), match[2]
    assert level <= 2.0 and verdict == "OK", match[0]
    assert f"exposure level {match[1]} {verdict}" in README.read_text(), (
        f"deploy/README.md should state the exposure level {match[1]} {verdict}"
    )


def test_unit_agrees_with_the_gateway() -> None:
    unit = settings(UNIT.read_text())
    assert unit["Type"] == ["notify"]
    assert unit["ExecStart"] == [f"{EXEC} run -c {DEFAULT_CONFIG}"]
    assert unit["RestartPreventExitStatus"] == [str(EX_CONFIG)]
    assert unit["Restart"] == ["on-failure"]
    # The gateway's whole shutdown fits in TimeoutStopSec with a margin for the interpreter.
    timeout_stop = float(unit["TimeoutStopSec"][0].removesuffix("s"))
    assert timeout_stop >= runner.STOP_DEADLINE + 5
    # Pings at WatchdogSec/2, and the status refresh is well inside the watchdog interval.
    assert float(unit["WatchdogSec"][0].removesuffix("s")) > 2 * runner.STATUS_TICK
    assert "dialout" in unit["SupplementaryGroups"][0].split()
    assert unit["StateDirectory"] == ["gerbang"]
    assert unit["ConfigurationDirectory"] == ["gerbang"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert unit[key] == ["yes"], key
    assert unit["ProtectSystem"] == ["strict"]
    assert "PrivateDevices" not in unit, "PrivateDevices hides the serial ports"
