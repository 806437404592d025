"""Real InfluxDB-compatible servers for tests: Debian's influxd 1.x and victoria-metrics.

`Influxd` runs /usr/bin/influxd (1.6 on Debian 12: the `api: v1` target) with its own config in a
temporary folder: HTTP on a free 127.0.0.1 port, the RPC port on another, reporting disabled,
data, WAL and meta under the folder. `VictoriaMetrics` runs /usr/bin/victoria-metrics, which
accepts the InfluxDB v2 write API (the `api: v2` target when no InfluxDB 2.x package exists).
Both can be stopped and started again on the same port, for outage tests, and queried.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.mosquitto import free_port
from tests.support.wait import eventually_sync


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout` s, then SIGKILL; nothing when it is not running."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(f"/usr/bin/{name}")
    if found is None:
        pytest.skip(f"{name} is not installed (make test installs it)")
    return found


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class _Server:
    """A server process on a fixed loopback port, restartable; `ready_path` answers when up."""

    ready_path = "/ping"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = directory / "server.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        """Start and wait until it answers."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log)
        proc = self.proc

        def answers() -> bool:
            try:
                status, _ = _http("GET", self.url + self.ready_path)
                if status < 500:
                    return True
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{self.command()[0]} exited: {self.log.read_text()[-2000:]}")
            return False

        try:
            eventually_sync(answers, timeout, interval=0.05)
        except TimeoutError:
            raise RuntimeError(
                f"{self.command()[0]} did not start: {self.log.read_text()[-2000:]}"
            ) from None

    def stop(self) -> None:
        """Stop (SIGTERM, then SIGKILL)."""
        stop_process(self.proc)
        self.proc = None


class Influxd(_Server):
    """InfluxDB 1.x (`api: v1`)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.rpc_port = free_port()
        conf = directory / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{directory}/meta"\n'
            f'[data]\n  dir = "{directory}/data"\n  wal-dir = "{directory}/wal"\n'
            "  query-log-enabled = false\n  trace-logging-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[continuous_queries]\n  enabled = false\n"
            "[subscriber]\n  enabled = false\n"
        )
        self.conf = conf

    def command(self) -> list[str]:
        return [_binary("influxd"), "-config", str(self.conf)]

    def query(self, q: str, db: str = "telemetry") -> list[dict[str, Any]]:
        """Rows of the first series of an InfluxQL query, as dicts with `time` in ms."""
        params = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"})
        status, body = _http("GET", f"{self.url}/query?{params}")
        assert status == 200, body
        result = json.loads(body)["results"][0]
        rows: list[dict[str, Any]] = []
        for series in result.get("series", []):
            columns = series["columns"]
            for values in series["values"]:
                row = dict(zip(columns, values, strict=True))
                row.update(series.get("tags", {}))
                rows.append(row)
        return rows

    def execute(self, q: str) -> None:
        """Run a statement (CREATE DATABASE ...)."""
        status, body = _http("POST", f"{self.url}/query?{urllib.parse.urlencode({'q': q})}")
        assert status == 200, body

    def write(self, lines: str, db: str = "telemetry") -> tuple[int, bytes]:
        """Write line protocol directly (to set up a field type, say)."""
        return _http("POST", f"{self.url}/write?db={db}&precision=ms", lines.encode())


class VictoriaMetrics(_Server):
    """victoria-metrics, written to through the InfluxDB v2 API (`api: v2`)."""

    ready_path = "/health"

    def command(self) -> list[str]:
        return [
            _binary("victoria-metrics"),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.directory}/data",
            "-retentionPeriod=100y",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ]

    def series(self, match: str = '{__name__!=""}') -> dict[str, dict[int, float]]:
        """Every series as `name{sorted tags}` -> {ts_ms: value}, after a flush."""
        _http("GET", f"{self.url}/internal/force_flush")
        params = urllib.parse.urlencode({"match[]": match, "start": "0"})
        status, body = _http("GET", f"{self.url}/api/v1/export?{params}")
        assert status == 200, body
        out: dict[str, dict[int, float]] = {}
        for line in body.splitlines():
            item = json.loads(line)
            metric = item["metric"]
            name = metric.pop("__name__")
            tags = ",".join(f"{k}={v}" for k, v in sorted(metric.items()))
            key = f"{name}{{{tags}}}"
            out.setdefault(key, {}).update(zip(item["timestamps"], item["values"], strict=True))
        return out
