"""A `systemctl` that plays systemd as PID 1 for the installer tests (there is none here or on
CI), so that install.sh's branch for a booted system runs for real everywhere else.

Only the verbs install.sh uses with a running systemd: daemon-reload, enable, is-enabled,
is-active, restart, show, disable. `restart` starts the installed unit's ExecStart once, the way
systemd starts a Type=notify unit: it succeeds when the gateway sends READY=1 and keeps its
watchdog pinging (deploy/ready_probe.py decides, then stops it), and the unit is then "active",
else "failed". State lives in $FAKE_SYSTEMD_STATE; every call is appended to its `calls` file.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_SYSTEMD_STATE"])
ROOT = os.environ["FAKE_SYSTEMD_ROOT"]
PROBE = Path(__file__).resolve().parents[2] / "deploy" / "ready_probe.py"


def exec_start(unit: str) -> list[str]:
    """ExecStart of the installed unit, its absolute paths moved into the throwaway root."""
    text = (Path(ROOT) / "etc" / "systemd" / "system" / unit).read_text()
    line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    return [ROOT + w if w.startswith("/") else w for w in shlex.split(line.partition("=")[2])]


def main(argv: list[str]) -> int:
    with (STATE / "calls").open("a") as calls:
        calls.write(" ".join(argv) + "\n")
    words = [a for a in argv if not a.startswith("-")]
    if "-p" in argv:
        words.remove(argv[argv.index("-p") + 1])
    verb, units = words[0], words[1:]
    if verb == "daemon-reload":
        return 0
    unit = units[0]
    enabled, active = STATE / f"{unit}.enabled", STATE / f"{unit}.active"
    if verb == "enable":
        enabled.touch()
        return 0
    if verb == "disable":
        enabled.unlink(missing_ok=True)
        if "--now" in argv:
            active.unlink(missing_ok=True)
        return 0
    if verb == "is-enabled":
        return 0 if enabled.exists() else 1
    if verb == "is-active":
        return 0 if active.exists() else 3
    if verb == "show":
        print("(fake systemd) ready" if active.exists() else "")
        return 0
    if verb == "restart":
        active.unlink(missing_ok=True)
        probe = subprocess.run(
            [
                sys.executable,
                str(PROBE),
                "--timeout",
                "60",
                "--settle",
                "1",
                "--",
                *exec_start(unit),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(probe.stdout)
        if probe.returncode != 0:
            print(f"Job for {unit} failed because the control process exited.", file=sys.stderr)
            return 1
        active.touch()
        return 0
    print(f"fake systemctl: verb {verb} is not played", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
