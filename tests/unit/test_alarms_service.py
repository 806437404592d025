"""AlarmService and its state file: alarms survive a restart, the SD card is written rarely."""

from __future__ import annotations

import json
import logging
import os
import textwrap
from pathlib import Path

import pytest

from gateway.alarms.events import AlarmEvent
from gateway.alarms.service import AlarmService, UnknownAlarm
from gateway.alarms.store import AlarmStateFile
from gateway.config.loader import parse_config_text
from gateway.config.models import Config
from gateway.model import GOOD, Batch, DeviceState, Sample, StateChange

CONFIG = """\
version: 1
gateway: {id: gw}
devices:
  - id: boiler-2
    protocol: modbus-tcp
    host: 127.0.0.1
    signals:
      - {name: pressure, table: holding, address: 0, scale: 0.1,
         alarms: [{name: high_pressure, above: 2.5, clear_below: 2.2, severity: high}]}
      - {name: level, table: holding, address: 1, alarms: [{name: low_level, below: 10}]}
      - {name: lid, table: coil, address: 0, alarms: [{name: lid_open, equals: true,
                                                        severity: low}]}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        self.now += 1
        return self.now


def config(text: str = CONFIG) -> Config:
    return parse_config_text(textwrap.dedent(text), "gw.yaml", {})


def scan(service: AlarmService, **values: object) -> list[tuple[str, str, bool]]:
    samples = [Sample(name, value, GOOD, 0) for name, value in values.items()]  # type: ignore[arg-type]
    events = service.observe(Batch("boiler-2", 0, samples))
    return [(e.alarm, e.state, e.acknowledged) for e in events]


def test_an_alarm_active_before_a_restart_is_active_after_it_not_raised_twice(
    tmp_path: Path,
) -> None:
    first = AlarmService(config(), tmp_path, Clock())
    assert scan(first, pressure=2.6, level=5) == [
        ("high_pressure", "active", False),
        ("low_level", "active", False),
    ]
    first.ack("boiler-2", "low_level", "technician")

    again = AlarmService(config(), tmp_path, Clock())
    assert [(e.alarm, e.acknowledged) for e in again.active()] == [
        ("high_pressure", False),
        ("low_level", True),
    ]
    assert scan(again, pressure=2.7, level=4) == []  # still active: not raised again
    assert scan(again, pressure=2.1, level=50) == [
        ("high_pressure", "cleared", False),
        ("low_level", "cleared", True),
    ]
    third = AlarmService(config(), tmp_path, Clock())
    assert [(e.alarm, e.state) for e in third.active()] == [("high_pressure", "cleared")]


def test_the_file_is_written_only_when_an_alarm_changes(tmp_path: Path) -> None:
    service = AlarmService(config(), tmp_path, Clock())
    for _ in range(50):
        scan(service, pressure=1.0, level=20, lid=False)
    assert service.state_writes == 0 and not service.state_file.exists()
    scan(service, lid=True)
    assert service.state_writes == 1
    for _ in range(50):
        scan(service, pressure=1.0, level=20, lid=True)
    assert service.state_writes == 1
    service.ack("boiler-2", "lid_open", "t")
    service.ack("boiler-2", "lid_open", "t")  # nothing new: no write
    assert service.state_writes == 2
    saved = json.loads(service.state_file.read_text())
    assert saved["version"] == 1
    assert saved["alarms"]["boiler-2"]["lid_open"]["acknowledged_by"] == "t"
    assert [p.name for p in tmp_path.iterdir()] == ["alarms.json"]  # no temporary file left


def test_a_damaged_state_file_is_logged_and_alarms_start_from_normal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alarms.json"
    for text in ('{"version": 1, "alarms": {"boiler-2": {', "[1, 2]", '{"version": 9}', "\xff"):
        path.write_text(text, encoding="latin-1")
        with caplog.at_level(logging.ERROR, logger="gateway.alarms.store"):
            service = AlarmService(config(), tmp_path, Clock())
        assert service.active() == []
        assert "alarms start from normal" in caplog.text
        caplog.clear()
    assert scan(service, lid=True) == [("lid_open", "active", False)]
    assert json.loads(path.read_text())["alarms"]["boiler-2"]["lid_open"]["active"] is True


def test_a_failed_write_is_logged_once_and_alarms_keep_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    service = AlarmService(config(), blocker, Clock())
    with caplog.at_level(logging.ERROR, logger="gateway.alarms.store"):
        assert scan(service, lid=True) == [("lid_open", "active", False)]
        assert scan(service, lid=False) == [("lid_open", "cleared", False)]
    assert caplog.text.count("cannot be written") == 1
    assert [e.alarm for e in service.active()] == ["lid_open"]


def test_a_state_file_write_is_atomic(tmp_path: Path) -> None:
    store = AlarmStateFile(tmp_path)
    assert store.load() == {}
    assert store.save({"d": {"a": {"active": True}}})
    inode = os.stat(store.path).st_ino
    assert store.save({"d": {"a": {"active": False}}})
    assert os.stat(store.path).st_ino != inode  # replaced by rename, never rewritten in place
    assert AlarmStateFile(tmp_path).load() == {"d": {"a": {"active": False}}}


def test_subscribers_get_every_event_in_order_and_one_failing_stops_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = AlarmService(config(), tmp_path, Clock())
    got: list[AlarmEvent] = []

    def broken(event: AlarmEvent) -> None:
        raise RuntimeError("sink bug")

    service.on_event += [broken, got.append]
    with caplog.at_level(logging.ERROR, logger="gateway.alarms.service"):
        scan(service, lid=True, level=1)
        service.ack("boiler-2", "lid_open", "technician")
        service.device_state(StateChange("boiler-2", DeviceState.ERROR, 0, "timeout"))
    assert [(e.alarm, e.state, e.acknowledged) for e in got] == [
        ("low_level", "active", False),
        ("lid_open", "active", False),
        ("lid_open", "active", True),
        ("offline", "active", False),
    ]
    assert "alarm subscriber" in caplog.text and "sink bug" in caplog.text


def test_active_lists_active_first_by_severity_and_history_is_bounded(tmp_path: Path) -> None:
    service = AlarmService(config(), tmp_path, Clock(), history_size=4)
    scan(service, lid=True, level=1)
    scan(service, lid=False)
    scan(service, pressure=3.0)
    service.device_state(StateChange("boiler-2", DeviceState.ERROR, 0))
    assert [(e.alarm, e.state) for e in service.active()] == [
        ("offline", "active"),  # high, newer
        ("high_pressure", "active"),  # high
        ("low_level", "active"),  # medium
        ("lid_open", "cleared"),  # cleared, not yet acknowledged
    ]
    assert [(e.alarm, e.state) for e in service.history(3)] == [
        ("offline", "active"),
        ("high_pressure", "active"),
        ("lid_open", "cleared"),
    ]
    assert len(service.history(100)) == 4
    assert service.history(0) == []
    with pytest.raises(UnknownAlarm):
        service.ack("boiler-2", "nope", "t")


def test_a_new_config_keeps_the_alarms_that_stay(tmp_path: Path) -> None:
    service = AlarmService(config(), tmp_path, Clock())
    scan(service, lid=True, level=1)
    smaller = CONFIG.replace("alarms: [{name: low_level, below: 10}]", "alarms: []")
    assert service.reconfigure(config(smaller)) == [("boiler-2", "low_level")]
    assert [e.alarm for e in service.active()] == ["lid_open"]
    assert scan(service, lid=True, level=1) == []
    saved = json.loads(service.state_file.read_text())["alarms"]["boiler-2"]
    assert list(saved) == ["lid_open"]
