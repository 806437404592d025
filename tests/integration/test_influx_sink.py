"""The InfluxDB sink against real servers: Debian's influxd 1.x (`api: v1`) and victoria-metrics
through the InfluxDB v2 write API (`api: v2`).

Covers SPEC "InfluxDB" (one point per scan, measurement, tags, one field per good signal, ms
timestamps, bad samples not written, stable field types) and the delivery guarantees: a server
down for a while loses nothing and keeps the order, a point the server refuses is isolated and
counted while the rest is delivered, and the backlog survives a restart of the sink.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.backoff import Backoff
from gateway.config.models import BufferConfig, GatewayIdentity, InfluxConfig
from gateway.model import BAD, GOOD, Batch, Report, Sample
from gateway.sinks.influx import InfluxSink
from tests.support.influx import Influxd, VictoriaMetrics
from tests.support.wait import eventually

pytestmark = pytest.mark.integration

IDENTITY = GatewayIdentity(id="casting-01", site="pasuruan", area="casting", line="line-1")
TAGS = {"site": "pasuruan", "area": "casting", "line": "line-1", "gateway": "casting-01"}


@pytest.fixture(scope="module")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    server = Influxd(tmp_path_factory.mktemp("influxd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database(influxd: Influxd, request: pytest.FixtureRequest) -> str:
    """A fresh database per test, on the module's server."""
    name = "db_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:50]
    influxd.execute(f'CREATE DATABASE "{name}"')
    return name


class Running:
    """Sinks with their run() task, closed at the end of the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.items: list[tuple[InfluxSink, asyncio.Task[None]]] = []

    def start(
        self, buffer: str = "buffer", measurements: dict[str, str] | None = None, **fields: Any
    ) -> InfluxSink:
        config = InfluxConfig.model_validate(
            {"enabled": True, "flush_interval": "100ms", "timeout": "2s", **fields}
        )
        sink = InfluxSink.open(
            config,
            IDENTITY,
            measurements or {"furnace-1": "furnace"},
            BufferConfig(path=str(self.tmp_path / buffer)),
            50_000_000,
            backoff=Backoff(initial=0.3, maximum=1.0),
        )
        self.items.append((sink, asyncio.create_task(sink.run(), name="test influx sink")))
        return sink

    async def close(self) -> None:
        for sink, task in self.items:
            await sink.close(deadline=2)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.items.clear()


@pytest.fixture
async def sinks(tmp_path: Path) -> AsyncIterator[Running]:
    running = Running(tmp_path)
    yield running
    await running.close()


def scan(ts: int, device: str = "furnace-1", **values: Any) -> Batch:
    samples = [
        Sample(k, v, GOOD, ts) if v is not None else Sample(k, None, BAD, ts, None, "timeout")
        for k, v in values.items()
    ]
    return Batch(device, ts, samples)


async def test_v1_schema_exact_values_and_types(influxd, database, sinks) -> None:
    sink = sinks.start(api="v1", url=influxd.url, database=database)
    ts = 1795389160779
    sink.submit(
        scan(ts, melt_temp=1452.3, parts=123456789, door_open=True, recipe='PP "A", 3', power=None)
    )
    sink.submit(scan(ts + 1000, melt_temp=1453, parts=123456790, door_open=False, recipe="B"))
    sink.submit(scan(ts + 2000, power=None))  # nothing good: no point at all
    await eventually(lambda: sink.status().delivered == 8)
    rows = influxd.query("SELECT * FROM furnace GROUP BY *", db=database)
    assert rows == [
        {
            "time": ts,
            "melt_temp": 1452.3,
            "parts": 123456789,
            "door_open": True,
            "recipe": 'PP "A", 3',
            "device": "furnace-1",
            **TAGS,
        },
        {
            "time": ts + 1000,
            "melt_temp": 1453.0,  # an int after floats stays a float field
            "parts": 123456790,
            "door_open": False,
            "recipe": "B",
            "device": "furnace-1",
            **TAGS,
        },
    ]
    keys = influxd.query("SHOW FIELD KEYS FROM furnace", db=database)
    assert {r["fieldKey"]: r["fieldType"] for r in keys} == {
        "door_open": "boolean",
        "melt_temp": "float",
        "parts": "integer",
        "recipe": "string",
    }
    assert sink.status().connected and sink.status().backlog == 0


async def test_v2_api_writes_to_victoria_metrics(tmp_path, sinks) -> None:
    vm = VictoriaMetrics(tmp_path / "vm")
    vm.start()
    try:
        sink = sinks.start(api="v2", url=vm.url, org="pabrik", bucket="telemetry", token="t0k3n")
        for i in range(20):
            sink.submit(scan(1795389160000 + i * 1000, melt_temp=1400.0 + i, parts=i))
        await eventually(lambda: sink.status().delivered == 40)
        series = vm.series()
        tags = "area=casting,device=furnace-1,gateway=casting-01,line=line-1,"
        tags += "site=pasuruan"
        melt = series[f"furnace_melt_temp{{{tags}}}"]
        assert melt == {1795389160000 + i * 1000: 1400.0 + i for i in range(20)}
        assert series[f"furnace_parts{{{tags}}}"][1795389160000 + 19000] == 19
    finally:
        await sinks.close()
        vm.stop()


async def test_an_outage_loses_nothing_and_keeps_the_order(tmp_path, sinks) -> None:
    server = Influxd(tmp_path / "influxd")
    server.start()
    server.execute('CREATE DATABASE "telemetry"')
    try:
        sink = sinks.start(api="v1", url=server.url, database="telemetry", batch_size=100)
        base = 1795389160000
        for i in range(50):
            sink.submit(scan(base + i * 100, seq=i))
        await eventually(lambda: sink.status().delivered == 50)
        server.stop()
        for i in range(50, 2050):
            sink.submit(scan(base + i * 100, seq=i))
        await eventually(lambda: not sink.status().connected)
        assert "connection refused" in sink.status().last_error
        await sink.outbox.flush()
        assert sink.status().backlog == 2000
        assert sink.outbox.log.size > 0, "the backlog went to disk"
        server.start()
        await eventually(lambda: sink.status().delivered == 2050, 30)
        rows = server.query("SELECT seq FROM furnace")
        assert [r["seq"] for r in rows] == list(range(2050))
        assert [r["time"] for r in rows] == [base + i * 100 for i in range(2050)]
        await sink.outbox.flush()
        assert sink.outbox.log.size == 0, "space reclaimed once delivered"
    finally:
        await sinks.close()
        server.stop()


async def test_a_refused_point_is_isolated_and_the_rest_delivered(influxd, database, sinks) -> None:
    # The database already holds `code` as a string: a number in it is a type conflict.
    status, body = influxd.write(
        "furnace,area=casting,device=furnace-1,gateway=casting-01,line=line-1,site=pasuruan "
        'code="E1" 1795389100000',
        db=database,
    )
    assert status == 204, body
    sink = sinks.start(api="v1", url=influxd.url, database=database, flush_interval="1s")
    base = 1795389160000
    for i in range(9):
        sink.submit(scan(base + i, seq=i))
    sink.submit(scan(base + 9, seq=9, code=42))  # refused by the server
    for i in range(10, 20):
        sink.submit(scan(base + i, seq=i))
    await eventually(lambda: sink.status().delivered == 19 and sink.status().rejected == 2)
    rows = influxd.query("SELECT seq FROM furnace WHERE seq >= 0", db=database)
    assert [r["seq"] for r in rows] == [i for i in range(20) if i != 9]
    assert sink.status().backlog == 0


async def test_a_wrong_database_keeps_the_data_until_it_is_fixed(influxd, sinks) -> None:
    sink = sinks.start(api="v1", url=influxd.url, database="not_yet")
    sink.submit(scan(1795389160000, seq=1))
    await eventually(lambda: sink.status().last_error is not None)
    assert "HTTP 404" in sink.status().last_error and "database" in sink.status().last_error
    assert sink.status().backlog == 1 and sink.status().rejected == 0
    influxd.execute('CREATE DATABASE "not_yet"')
    await eventually(lambda: sink.status().delivered == 1, 15)
    assert influxd.query("SELECT seq FROM furnace", db="not_yet")[0]["seq"] == 1


async def test_the_backlog_survives_a_restart_of_the_sink(tmp_path, influxd, database) -> None:
    first = Running(tmp_path)
    sink = first.start(api="v1", url="http://127.0.0.1:1", database=database)  # nothing there
    for i in range(300):
        sink.submit(scan(1795389160000 + i, seq=i))
    await eventually(lambda: sink.status().last_error is not None)
    await first.close()  # persists the memory tier
    second = Running(tmp_path)
    try:
        again = second.start(api="v1", url=influxd.url, database=database)
        assert again.status().backlog == 300
        await eventually(lambda: again.status().delivered == 300)
        rows = influxd.query("SELECT seq FROM furnace", db=database)
        assert [r["seq"] for r in rows] == list(range(300))
    finally:
        await second.close()


async def test_a_restarted_sink_leaves_no_task_behind(influxd, database, tmp_path) -> None:
    """Closed and cancelled as the service restarts a sink: every task the sink made is done
    (a pending one is logged "Task was destroyed but it is pending" when collected)."""
    before = asyncio.all_tasks()
    for round_ in range(3):
        running = Running(tmp_path / f"round-{round_}")
        sink = running.start(api="v1", url=influxd.url, database=database, flush_interval="5s")
        sink.submit(scan(1795389160000 + round_, seq=round_))
        await eventually(lambda s=sink: s.status().delivered == 1)
        await running.close()  # close(), then cancel run() at once
        left = [t for t in asyncio.all_tasks() - before if not t.done()]
        assert left == [], f"round {round_}: tasks left behind: {left}"


async def test_a_report_is_a_point_of_its_own_measurement(influxd, database, sinks) -> None:
    sink = sinks.start(api="v1", url=influxd.url, database=database)
    ts = 1795389160779
    fields = {"availability": 0.87, "total": 412, "final": False, "reason": "jam"}
    sink.report(Report("furnace-1", "$oee", {}, "oee", {"shift": "pagi"}, fields, ts))
    sink.report(
        Report("furnace-1", "$oee", {}, "oee", {"shift": "pagi"}, {"oee": float("nan")}, ts + 1)
    )
    await eventually(lambda: sink.status().delivered == 4)
    rows = influxd.query("SELECT * FROM oee GROUP BY *", db=database)
    assert rows == [{"time": ts, **fields, "shift": "pagi", "device": "furnace-1", **TAGS}], (
        "the NaN-only report is not written"
    )


# -- uint64 --------------------------------------------------------------------------------

UINT64_MAX = 2**64 - 1


async def test_uint64_beyond_int64_is_said_once_and_left_out_by_default(
    influxd, database, sinks, caplog
) -> None:
    """InfluxDB 1.x stores int64: the value would be refused ("not a integer") or rounded as a
    float; it is left out, with one log line that says why and what to set."""
    sink = sinks.start(api="v1", url=influxd.url, database=database)
    sink.submit(scan(1000, counter=5))
    sink.submit(scan(2000, counter=UINT64_MAX, other=1))
    sink.submit(scan(3000, counter=UINT64_MAX, other=2))
    await eventually(lambda: sink.status().backlog == 0 and sink.status().delivered >= 3)
    rows = influxd.query("SELECT counter, other FROM furnace", db=database)
    assert [(r["counter"], r["other"]) for r in rows] == [(5, None), (None, 1), (None, 2)]
    said = [r.message for r in caplog.records if "beyond InfluxDB's integers" in r.message]
    assert len(said) == 1, said
    assert "influxdb.uint64" in said[0] and str(UINT64_MAX) in said[0]


async def test_uint64_as_string_is_exact_on_influxdb_1(tmp_path, influxd, database) -> None:
    config = InfluxConfig.model_validate(
        {
            "enabled": True,
            "api": "v1",
            "url": influxd.url,
            "database": database,
            "flush_interval": "100ms",
            "uint64": "string",
        }
    )
    sink = InfluxSink.open(
        config,
        IDENTITY,
        {"furnace-1": "furnace"},
        BufferConfig(path=str(tmp_path / "b")),
        10_000_000,
        unsigned=frozenset({("furnace-1", "counter")}),
    )
    task = asyncio.create_task(sink.run())
    try:
        sink.submit(scan(1000, counter=5, small=UINT64_MAX // 2))
        sink.submit(scan(2000, counter=UINT64_MAX))
        await eventually(lambda: sink.status().delivered == 3)
        rows = influxd.query("SELECT counter FROM furnace", db=database)
        assert [r["counter"] for r in rows] == ["5", str(UINT64_MAX)]
        keys = influxd.query("SHOW FIELD KEYS FROM furnace", db=database)
        assert {r["fieldKey"]: r["fieldType"] for r in keys}["counter"] == "string"
    finally:
        await sink.close(deadline=2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
