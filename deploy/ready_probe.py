#!/usr/bin/env python3
"""Play systemd's part for one start of the gateway, where systemd is not PID 1.

install.sh --upgrade uses it in a container or chroot to decide whether a new release becomes
ready, and rolls back if not. It binds a notify socket, starts the command with NOTIFY_SOCKET
and WATCHDOG_USEC set (as a Type=notify unit with WatchdogSec= would), and succeeds when:
READY=1 arrives within --timeout, the watchdog keeps pinging for --settle seconds, and after
SIGTERM the process sends STOPPING=1 and exits 0 within --stop-timeout.

Standard library only: it runs with the system python3, whatever state the release is in.
Usage: ready_probe.py [--timeout S] [--settle S] [--stop-timeout S] -- COMMAND [ARG...]
Exit 0: ready and stopped cleanly; 1: not ready (the command's last output is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WATCHDOG_SEC = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for READY=1")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to stay up after it")
    parser.add_argument("--stop-timeout", type=float, default=20.0, help="seconds to stop")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="gerbang-probe-")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    # The probed gateway may run as the service user: let it reach the socket.
    os.chmod(folder, 0o755)
    os.chmod(path, 0o777)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(int(WATCHDOG_SEC * 1e6))}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(args.command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            failure = probe(sock, proc, args)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            sock.close()
            shutil.rmtree(folder, ignore_errors=True)
        log.seek(0)
        tail = log.read().decode(errors="replace").splitlines()[-30:]
    if failure:
        print(f"not ready: {failure}", *("  | " + line for line in tail), sep="\n")
        return 1
    print("ready, watchdog pinging, stopped cleanly")
    return 0


def probe(sock: socket.socket, proc: subprocess.Popen[bytes], args: argparse.Namespace) -> str:
    """'' when the process behaved as a Type=notify service should, else what went wrong."""
    if not wait_for(sock, proc, "READY=1", time.monotonic() + args.timeout):
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} before READY=1"
        return f"no READY=1 within {args.timeout:.0f} s"
    settle_end = time.monotonic() + args.settle
    while time.monotonic() < settle_end:
        if not wait_for(sock, proc, "WATCHDOG=1", time.monotonic() + WATCHDOG_SEC):
            return f"no watchdog ping within {WATCHDOG_SEC:.0f} s (exit code {proc.poll()})"
    proc.send_signal(signal.SIGTERM)
    if not wait_for(sock, proc, "STOPPING=1", time.monotonic() + 5):
        return "no STOPPING=1 after SIGTERM"
    try:
        code = proc.wait(timeout=args.stop_timeout)
    except subprocess.TimeoutExpired:
        return f"did not exit within {args.stop_timeout:.0f} s of SIGTERM"
    return "" if code == 0 else f"exit code {code} after SIGTERM"


def wait_for(sock: socket.socket, proc: subprocess.Popen[bytes], line: str, until: float) -> bool:
    """Read datagrams until one holds `line`; False at `until` or when the process died."""
    while (left := until - time.monotonic()) > 0:
        sock.settimeout(min(left, 0.5))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            if proc.poll() is not None:
                return False
            continue
        if line in data.decode(errors="replace").splitlines():
            return True
    return False


if __name__ == "__main__":
    sys.exit(main())
