"""An alarm change as a Report: the retained `$alarms/{alarm}` and a point of `alarms` whose field
types never change (InfluxDB refuses a field that changes type within a measurement)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.alarms.events import AlarmEvent
from gateway.alarms.reports import PipelineAlarms, alarm_report
from gateway.config.models import Config, GatewayIdentity
from gateway.model import GOOD, Batch, DeviceState, Report, Sample, StateChange, Value
from gateway.sinks.lineproto import LineEncoder


def event(value: Value, signal: str | None = "melt_temp", **extra: object) -> AlarmEvent:
    fields: dict[str, object] = {
        "alarm": "too_hot",
        "device": "furnace-1",
        "signal": signal,
        "state": "active",
        "acknowledged": False,
        "value": value,
        "severity": "high",
        "since": 1_700_000_000_000,
        "ts": 1_700_000_000_500,
    }
    return AlarmEvent(**(fields | extra))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        (1553.2, {"value": 1553.2}),
        (1600, {"value": 1600.0}),
        (True, {"value": 1.0}),
        (False, {"value": 0.0}),
        ("JAM", {"value_text": "JAM"}),
        (None, {}),
    ],
)
def test_the_value_field_keeps_one_type_whatever_the_signal(
    value: Value, fields: dict[str, object]
) -> None:
    report = alarm_report(event(value))
    assert report.fields == {"state": "active", "acknowledged": False, **fields}
    for name, got in report.fields.items():
        assert type(got) is type(fields.get(name, got)), name


def test_the_report_is_the_spec_payload_under_the_device_topic() -> None:
    report = alarm_report(event(1553.2, acknowledged_by=None))
    assert report.topic == "$alarms/too_hot"
    assert report.measurement == "alarms"
    assert report.tags == {"alarm": "too_hot", "severity": "high", "signal": "melt_temp"}
    assert report.ts == 1_700_000_000_500
    assert report.payload == {
        "alarm": "too_hot",
        "state": "active",
        "acknowledged": False,
        "device": "furnace-1",
        "signal": "melt_temp",
        "value": 1553.2,
        "severity": "high",
        "since": 1_700_000_000_000,
        "ts": 1_700_000_000_500,
    }


def test_offline_has_no_signal_tag_in_the_line() -> None:
    report = alarm_report(event(None, signal=None, alarm="offline"))
    identity = GatewayIdentity(id="gw", site="s")
    line = LineEncoder(identity, {}).report_line(report)
    assert line == (
        "alarms,alarm=offline,device=furnace-1,gateway=gw,severity=high,site=s "
        'state="active",acknowledged=false 1700000000500'
    )


def test_pipeline_alarms_turn_every_change_into_a_report(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "version": 1,
            "gateway": {"id": "gw"},
            "devices": [
                {
                    "id": "furnace-1",
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "signals": [
                        {
                            "name": "melt_temp",
                            "table": "holding",
                            "address": 0,
                            "alarms": [{"name": "too_hot", "above": 1550, "clear_below": 1530}],
                        }
                    ],
                }
            ],
        }
    )
    reports: list[Report] = []
    alarms = PipelineAlarms(config, tmp_path, reports.append, clock=lambda: 1000)

    def scan(value: float) -> None:
        alarms.observe(Batch("furnace-1", 0, [Sample("melt_temp", value, GOOD, 0)]))

    scan(1560)
    scan(1540)
    alarms.device_state(StateChange("furnace-1", DeviceState.ERROR, 0, "timeout"))
    alarms.service.ack("furnace-1", "too_hot", "technician")
    scan(1520)
    assert [(r.topic, r.payload["state"], r.payload["acknowledged"]) for r in reports] == [
        ("$alarms/too_hot", "active", False),
        ("$alarms/offline", "active", False),
        ("$alarms/too_hot", "active", True),
        ("$alarms/too_hot", "cleared", True),
    ]
    assert reports[2].payload["acknowledged_by"] == "technician"
