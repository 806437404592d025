"""deploy/grafana/gerbang-dashboard.json against a real InfluxDB holding the SPEC's schema.

A real influxd (Debian's 1.x package, InfluxQL) runs on free loopback ports in a temporary
folder; points are written exactly as the SPEC says the gateway writes them (measurement per
machine type, tags site/area/line/device/gateway with empty levels left out, one field per
signal, ms timestamps), and the gateway's OEE figures (measurement `oee`, tag `shift`). Every
query of the dashboard, with Grafana's macros and variables expanded as Grafana expands them,
must run without error and return the signals and the figures.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.mosquitto import accepts_tcp, free_port
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "gerbang-dashboard.json"
DB = "telemetry"
TAGS = {"site", "area", "line", "device", "gateway"}


class Influx:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def request(self, path: str, params: dict[str, str], body: bytes | None = None) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as resp:
            data = resp.read()
        return json.loads(data) if data else None

    def query(self, q: str) -> list[dict[str, Any]]:
        result = self.request("/query", {"db": DB, "q": q})["results"][0]
        assert "error" not in result, f"{q}: {result['error']}"
        return result.get("series", [])


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influx]:
    influxd = shutil.which("influxd")
    if influxd is None:
        pytest.skip("influxd is not installed (apt-get install influxdb)")
    folder = tmp_path_factory.mktemp("influxd")
    http, rpc = free_port(), free_port()
    (folder / "influxdb.conf").write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc}"\n'
        f'[meta]\n  dir = "{folder}/meta"\n'
        f'[data]\n  dir = "{folder}/data"\n  wal-dir = "{folder}/wal"\n'
        "  query-log-enabled = false\n"
        f'[http]\n  bind-address = "127.0.0.1:{http}"\n  log-enabled = false\n'
        "[monitor]\n  store-enabled = false\n"
    )
    log = (folder / "influxd.log").open("wb")
    proc = subprocess.Popen(
        [influxd, "run", "-config", str(folder / "influxdb.conf")], stdout=log, stderr=log
    )
    db = Influx(http)
    try:

        def listening() -> bool:
            if accepts_tcp("127.0.0.1", http):
                return True
            assert proc.poll() is None, (folder / "influxd.log").read_text()[-2000:]
            return False

        eventually_sync(listening, timeout=20, interval=0.05, what="influxd listening")
        db.request("/query", {"q": f"CREATE DATABASE {DB}"}, b"")
        now = int(time.time() * 1000)
        lines = []
        for i in range(30):
            ts = now - (30 - i) * 10_000
            lines.append(
                "furnace,area=casting,device=furnace-1,gateway=casting-01,line=line-1,"
                f"site=pasuruan melt_temp={1450 + i / 10},power_kw=123.4,parts_good={i}i,"
                f'door_open={"true" if i % 2 else "false"},recipe="AL-356" {ts}'
            )
            # A gateway with no site/area/line: empty levels are left out of the tags.
            lines.append(f"machine,device=loom-01,gateway=weaving-02 picks={1000 + i}i {ts}")
            # OEE figures, as gateway.oee.wiring.to_report writes them (shift pagi, then siang).
            shift = "pagi" if i < 20 else "siang"
            lines.append(
                "oee,area=casting,device=furnace-1,gateway=casting-01,line=line-1,"
                f"shift={shift},site=pasuruan availability=0.9,performance=0.8,quality=0.95,"
                f"oee={0.684 - i / 1000},run_s={i * 10.0},downtime_s=5.0,unknown_s=0.0,"
                f"total={i}i,good={i}i,stops=1i,final={'true' if i == 19 else 'false'} {ts}"
            )
        db.request("/write", {"db": DB, "precision": "ms"}, "\n".join(lines).encode())
        yield db
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


MEASUREMENTS = ["alarms", "furnace", "machine", "oee"]
"""What SHOW MEASUREMENTS lists on a gateway's database (alarms written by another gateway)."""


def all_value(name: str) -> str:
    """What All stands for: the variable's allValue, else its options (after its regex)."""
    var = next(v for v in variables() if v["name"] == name)
    if var.get("allValue"):
        return str(var["allValue"])
    assert name == "measurement", name
    pattern = re.compile(var["regex"].strip("/"))
    return f"({'|'.join(m for m in MEASUREMENTS if pattern.match(m))})"


def expand(query: str, values: dict[str, list[str]]) -> str:
    """Grafana's expansion: macros, and variables in regexes as (a|b) (or All's value)."""
    query = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "10s")
    for name in sorted(values, key=len, reverse=True):
        chosen = values[name]
        text = all_value(name) if chosen == ["$__all"] else f"({'|'.join(chosen)})"
        query = query.replace(f"${name}", text)
    assert not re.search(r"\$(?!col\b|tag_)\w", query), f"variable left unexpanded: {query}"
    return query


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def variables() -> list[dict[str, Any]]:
    return [v for v in dashboard()["templating"]["list"] if v["type"] == "query"]


ALL = {v["name"]: ["$__all"] for v in variables()}


def test_dashboard_filters_on_every_tag_of_the_schema() -> None:
    names = {v["name"] for v in variables()}
    assert names >= TAGS and "measurement" in names
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            for tag in TAGS:
                assert f'"{tag}" =~ /^${tag}$/' in target["query"], (panel["title"], tag)


def test_variables_list_the_tags_written(influx: Influx) -> None:
    found: dict[str, set[str]] = {}
    for var in variables():
        series = influx.query(expand(var["query"], ALL))
        found[var["name"]] = {row[-1] for s in series for row in s["values"]}
        if var.get("regex"):
            pattern = re.compile(var["regex"].strip("/"))
            found[var["name"]] = {value for value in found[var["name"]] if pattern.match(value)}
    assert found["gateway"] == {"casting-01", "weaving-02"}
    assert found["site"] == {"pasuruan"}
    assert found["measurement"] == {"furnace", "machine"}
    assert found["device"] == {"furnace-1", "loom-01"}


@pytest.mark.parametrize(
    "chosen",
    [ALL, {**ALL, "site": ["pasuruan"], "device": ["furnace-1"], "measurement": ["furnace"]}],
    ids=["all", "one-device"],
)
def test_every_panel_query_runs_and_returns_the_signals(
    influx: Influx, chosen: dict[str, list[str]]
) -> None:
    columns: dict[str, set[str]] = {}
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            series = influx.query(expand(target["query"], chosen))
            assert series, panel["title"]
            columns[panel["title"]] = {c for s in series for c in s["columns"]}
    latest = columns["Latest value of every signal (and when it came)"]
    assert {"last_melt_temp", "last_recipe", "last_door_open", "last_parts_good"} <= latest
    assert {"mean_melt_temp", "mean_power_kw", "mean_parts_good"} <= columns["$device"]
    assert "count_melt_temp" in columns["Values received per minute, by device"]
    # The OEE panels: figures per machine and shift, never mixed with the samples.
    figures = {"availability", "performance", "quality", "oee", "total", "good", "final"}
    assert figures <= columns["OEE per machine and shift"]
    assert "last_availability" not in latest and "last_oee" not in latest
    assert "last" in columns["OEE through the shift, by machine and shift"]
    panel = next(p for p in dashboard()["panels"] if p["title"] == "OEE per machine and shift")
    rows = influx.query(expand(panel["targets"][0]["query"], chosen))
    assert sorted((r["tags"]["device"], r["tags"]["shift"]) for r in rows) == [
        ("furnace-1", "pagi"),
        ("furnace-1", "siang"),
    ]
    pagi = next(r for r in rows if r["tags"]["shift"] == "pagi")
    assert dict(zip(pagi["columns"], pagi["values"][0], strict=True))["final"] is True
    # Empty hierarchy levels must not hide a gateway whose points lack those tags.
    assert ("last_picks" in latest) == (chosen is ALL)
