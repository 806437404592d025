"""`gerbang run -c FILE` as a child process: the gateway exactly as systemd or a user runs it.

Used by the end-to-end tests and by the API test that checks the console script's own start-up
(its log line, its exit code). The process writes its log next to the config file
(`gw.json` -> `gw.log`); `stop()` sends SIGTERM, as systemd does, and returns the exit code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class GatewayProcess:
    """`gerbang run -c FILE` as a child process, stopped with SIGTERM at the end."""

    def __init__(self, config: Path) -> None:
        self.log = config.with_suffix(".log")
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "-c", str(config)],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def stop(self) -> int:
        """SIGTERM, then up to 20 s for a clean exit (SIGKILL after); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode
