"""The OEE service: batches in, payloads due out, and a state file that survives a restart."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.config.loader import parse_config_text
from gateway.model import BAD, GOOD, Batch, DeviceState, Sample, StateChange
from gateway.oee.service import OeeService, UnknownDevice, UnknownStop
from gateway.oee.snapshot import read_snapshot, write_snapshot

CONFIG = """\
version: 1
gateway: {id: gw}
oee:
  timezone: Asia/Jakarta
  shifts:
    - {name: pagi, start: "06:00", end: "14:00"}
    - {name: siang, start: "14:00", end: "22:00"}
  publish_interval: 1m
  stop_reasons:
    - {code: no_material, en: No material, id: Bahan habis}
devices:
  - id: press-1
    protocol: modbus-tcp
    host: 127.0.0.1
    signals:
      - {name: temp, table: holding, address: 9, type: float32}
      - {name: state, table: holding, address: 0, type: uint16}
      - {name: parts_total, table: holding, address: 1, type: uint16}
      - {name: parts_good, table: holding, address: 3, type: uint16}
    oee:
      state: {signal: state, running: [3], planned: [1]}
      total_count: parts_total
      good_count: parts_good
      ideal_cycle_time: 2s
  - id: other
    protocol: modbus-tcp
    host: 127.0.0.1
    signals:
      - {name: x, table: holding, address: 0}
"""
T0 = int(datetime(2026, 3, 2, 6, 0, tzinfo=ZoneInfo("Asia/Jakarta")).timestamp()) * 1000


def at(seconds: float) -> int:
    return T0 + round(seconds * 1000)


def scan(t: float, state: int | None, total: int, good: int) -> Batch:
    ts = at(t)
    state_sample = (
        Sample("state", state, GOOD, ts) if state is not None else Sample("state", None, BAD, ts)
    )
    return Batch(
        "press-1",
        ts,
        [
            Sample("temp", 180.5, GOOD, ts),
            state_sample,
            Sample("parts_total", total, GOOD, ts),
            Sample("parts_good", good, GOOD, ts),
        ],
    )


class Clock:
    def __init__(self, t: float = 0) -> None:
        self.now = at(t)

    def __call__(self) -> int:
        return self.now


def service(tmp_path: Path, clock: Clock) -> OeeService:
    return OeeService(parse_config_text(CONFIG, "gw.yaml", {}), tmp_path, clock)


def test_figures_and_what_is_due_when(tmp_path: Path) -> None:
    clock = Clock()
    oee = service(tmp_path, clock)
    assert oee.devices() == ["press-1"]
    oee.observe(scan(0, 3, 100, 100))
    oee.observe(Batch("other", at(1), [Sample("x", 1, GOOD, at(1))]))  # not an OEE device
    [first] = oee.tick(at(0))  # published at once, then every minute
    assert first.device == "press-1" and not first.final
    assert first.figures["device"] == "press-1" and first.figures["shift"] == "pagi"
    oee.observe(scan(30, 3, 115, 114))
    assert oee.tick(at(59)) == []
    [report] = oee.tick(at(60))
    assert report.figures["run_s"] == 60.0 and report.figures["total"] == 15
    assert report.figures["good"] == 14 and report.figures["performance"] == 0.5
    # The shift ends: its final figures are due at once, and kept as the previous shift.
    reports = oee.tick(at(8 * 3600 + 5))
    finals = [r for r in reports if r.final]
    assert [r.figures["shift"] for r in finals] == ["pagi"]
    assert finals[0].figures["ts"] == at(8 * 3600) and finals[0].figures["run_s"] == 8 * 3600
    both = oee.figures("press-1")
    assert {**both["previous"], "device": "press-1"} == finals[0].figures
    assert both["current"]["shift"] == "siang"
    assert set(oee.all()) == {"press-1"}
    with pytest.raises(UnknownDevice):
        oee.figures("other")


def test_a_partial_scan_and_a_bad_state(tmp_path: Path) -> None:
    clock = Clock()
    oee = service(tmp_path, clock)
    oee.observe(scan(0, 3, 0, 0))
    # An OPC-UA-like notification with only the counter: the state holds (running).
    oee.observe(Batch("press-1", at(10), [Sample("parts_total", 5, GOOD, at(10))]))
    oee.observe(scan(20, None, 10, 10))  # state unreadable: unknown from here
    oee.tick(at(30))
    figures = oee.figures("press-1")["current"]
    assert figures["run_s"] == 20.0 and figures["unknown_s"] == 10.0
    assert figures["total"] == 10 and figures["good"] == 10


def test_offline_is_unknown_and_stops_can_be_named(tmp_path: Path) -> None:
    clock = Clock()
    oee = service(tmp_path, clock)
    oee.observe(scan(0, 3, 0, 0))
    oee.observe(scan(100, 4, 50, 50))
    oee.observe(scan(400, 3, 50, 50))
    oee.device_state(StateChange("press-1", DeviceState.OFFLINE, at(500)))
    oee.tick(at(600))
    figures = oee.figures("press-1")["current"]
    assert figures["downtime_s"] == 300.0 and figures["unknown_s"] == 100.0
    [stop] = oee.stops("press-1")
    assert stop["reason"] == "state 4" and (stop["start"], stop["end"]) == (at(100), at(400))
    assert oee.name_stop("press-1", stop["id"], " no_material ")["reason"] == "no_material"
    assert oee.stops("press-1")[0]["reason"] == "no_material"
    assert oee.reasons()[0]["id"] == "Bahan habis"
    with pytest.raises(UnknownStop):
        oee.name_stop("press-1", 99, "x")
    with pytest.raises(ValueError):
        oee.name_stop("press-1", stop["id"], "  ")


def test_a_restart_mid_shift_keeps_the_figures_without_double_counting(tmp_path: Path) -> None:
    clock = Clock()
    oee = service(tmp_path, clock)
    oee.observe(scan(0, 3, 65_000, 65_000))
    oee.observe(scan(600, 4, 65_300, 65_290))
    oee.observe(scan(700, 3, 65_300, 65_290))
    oee.tick(at(30))  # the state file is written at most every publish interval...
    assert not (tmp_path / "oee.json").exists()
    oee.tick(at(1200))  # ...and here it is
    saved = json.loads((tmp_path / "oee.json").read_text())
    assert saved["devices"]["press-1"]["counters"] == [[65_300, at(700)], [65_290, at(700)]]
    # The gateway is down from 1200 s to 1500 s; the machine went on and its counter wrapped.
    clock.now = at(1500)
    again = service(tmp_path, clock)
    again.observe(scan(1500, 3, 64, 54))  # wrapped: 300 parts since 700 s, all good
    again.tick(at(1800))
    figures = again.figures("press-1")["current"]
    assert figures["total"] == 300 + 300 and figures["good"] == 290 + 300
    assert figures["unknown_s"] == 300.0
    assert figures["run_s"] == 600 + 500 + 300 and figures["downtime_s"] == 100.0
    assert [s["id"] for s in again.stops("press-1")] == [1]


def test_the_state_file_is_atomic_and_a_damaged_one_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state" / "oee.json"
    write_snapshot(path, {"a": {"t": 1}})
    assert read_snapshot(path) == {"a": {"t": 1}}
    assert not path.with_name("oee.json.tmp").exists()
    assert read_snapshot(tmp_path / "missing.json") == {}
    path.write_text('{"format": 1, "devi')
    with caplog.at_level(logging.WARNING):
        assert read_snapshot(path) == {}
    assert "damaged" in caplog.text
    assert path.with_name("oee.json.damaged").exists() and not path.exists()
    clock = Clock()
    (tmp_path / "oee.json").write_text('{"format": 1, "devices": {"press-1": {"t": "x"}}}')
    oee = service(tmp_path, clock)  # a snapshot that does not fit: start again, logged
    assert oee.figures("press-1")["current"]["run_s"] == 0.0
    assert "not restored" in caplog.text
