"""Alarms in the running gateway: the `AlarmService` as a pipeline observer, its events as Reports.

Why a module of its own: the gateway service should only build this and hand it the pipeline;
how an alarm change looks on MQTT and in InfluxDB is the alarm package's business.

- `alarm_report(event)`: the `Report` of one `AlarmEvent`, published retained on
  `{device topic}/$alarms/{alarm}` with the SPEC payload (`AlarmEvent.payload`) and written as a
  point of measurement `alarms`, tags `alarm`, `severity`, `signal` (none for `offline`),
  fields `state` (string), `acknowledged` (bool) and the value:
  `value` (float) for a number or a bool (1.0 / 0.0), `value_text` (string) for text, no value
  field for `offline`. InfluxDB refuses a field whose type changes within a measurement, and
  every alarm of a gateway shares `alarms`, so `value` is a float whatever the signal's type.
- `PipelineAlarms`: what `Gateway` holds: it observes every scan and device state, turns each
  event into a Report for `Pipeline.report`, and is rebuilt on a config change by `reconfigure`.

Cost: per scan, one call into the engine (O(alarm rules of the device)); a Report only when an
alarm changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway.config.models import Config
from gateway.model import Batch, Report, ReportField, StateChange, now_ms

from .engine import Clock
from .events import AlarmEvent
from .service import AlarmService

MEASUREMENT = "alarms"
"""The InfluxDB measurement of alarm changes (SPEC "Alarms")."""

TOPIC = "$alarms/{alarm}"
"""The level under the device's topic where an alarm's present state is retained."""


def withdrawal(device: str, alarm: str) -> Report:
    """The Report that deletes the retained `$alarms/{alarm}` of an alarm that is gone."""
    return Report(device, TOPIC.format(alarm=alarm), None, MEASUREMENT, {}, {}, now_ms())


def alarm_report(event: AlarmEvent) -> Report:
    """The Report of one alarm change: retained `$alarms/{alarm}`, a point of `alarms`."""
    fields: dict[str, ReportField] = {
        "state": event.state,
        "acknowledged": event.acknowledged,
    }
    value = event.value
    if isinstance(value, bool):
        fields["value"] = 1.0 if value else 0.0
    elif isinstance(value, int | float):
        fields["value"] = float(value)
    elif isinstance(value, str):
        fields["value_text"] = value
    return Report(
        device=event.device,
        topic=TOPIC.format(alarm=event.alarm),
        payload=event.payload(),
        measurement=MEASUREMENT,
        tags={"alarm": event.alarm, "severity": event.severity, "signal": event.signal or ""},
        fields=fields,
        ts=event.ts,
    )


class PipelineAlarms:
    """The gateway's alarms: a pipeline observer whose every alarm change becomes a Report.

    `service` is the `AlarmService` the HTTP API reads and acknowledges through; an
    acknowledgement is published like any other change.
    """

    def __init__(
        self,
        config: Config,
        state_dir: str | Path,
        report: Callable[[Report], None],
        clock: Clock = now_ms,
    ) -> None:
        self._report = report
        self.service = AlarmService(config, state_dir, clock)
        self.service.on_event.append(self._publish)

    def _publish(self, event: AlarmEvent) -> None:
        self._report(alarm_report(event))

    def observe(self, batch: Batch) -> None:
        """One device scan, before the deadband."""
        self.service.observe(batch)

    def device_state(self, change: StateChange) -> None:
        """A device's new state: `offline` rises on error, clears when it answers again."""
        self.service.device_state(change)

    def reconfigure(self, config: Config) -> None:
        """A new config applied: kept alarms keep their state; removed ones are forgotten, and
        their retained `$alarms/{alarm}` withdrawn, so that no consumer sees a ghost alarm."""
        for device, alarm in self.service.reconfigure(config):
            self._report(withdrawal(device, alarm))

    def save(self) -> None:
        """Write the alarm state if it differs from the file (at stop; normally a no-op, as
        every change is saved when it happens)."""
        self.service.save()
