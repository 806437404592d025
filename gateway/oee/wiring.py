"""OEE in the running gateway: the service fed by the pipeline, its payloads sent as `Report`s.

`OeeLink` is what `gateway.service.Gateway` holds: it builds an `OeeService` when the config has
a site `oee:` block, registers it as a pipeline observer (it sees every scan before the
deadband), runs one named task that calls `tick` about every second, and hands each payload due
to `Pipeline.report` as a `Report` (retained `$oee`, InfluxDB measurement `oee`, tag `shift`).
A config change that touches OEE rebuilds the service from the state file, so the shift's
figures survive it exactly as they survive a restart; the state file is written at stop.

`to_report` is the one place that maps an `OeeReport` to a `Report`: the MQTT payload keeps
every key of the SPEC, the InfluxDB fields keep one type each (ratios and seconds float, counts
int) and leave out a ratio that has no value yet (no run time, no parts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config.models import Config
from gateway.model import Report, ReportField, now_ms

from .service import OeeReport, OeeService

if TYPE_CHECKING:  # only its type: the pipeline is handed in, never imported at run time
    from gateway.pipeline import Pipeline

log = logging.getLogger(__name__)

TOPIC = "$oee"
MEASUREMENT = "oee"
TICK_S = 1.0
"""How often the engines are advanced: a shift ends and a payload goes out within this."""

FLOAT_FIELDS = (
    "availability",
    "performance",
    "quality",
    "oee",
    "planned_s",
    "run_s",
    "downtime_s",
    "planned_stop_s",
    "unknown_s",
)
INT_FIELDS = ("total", "good", "stops", "micro_stops", "shift_start", "shift_end")


def to_report(report: OeeReport) -> Report:
    """The `Report` of one payload due: `$oee` retained, a point of `oee` tagged with the shift."""
    figures = report.figures
    fields: dict[str, ReportField] = {}
    for name in FLOAT_FIELDS:
        value = figures.get(name)
        if value is not None:
            fields[name] = float(value)
    for name in INT_FIELDS:
        value = figures.get(name)
        if value is not None:
            fields[name] = round(value)
    fields["final"] = bool(figures.get("final", report.final))
    ts = int(figures.get("ts") or now_ms())
    tags = {"shift": str(figures.get("shift", ""))}
    return Report(report.device, TOPIC, dict(figures), MEASUREMENT, tags, fields, ts)


def oee_settings(config: Config) -> object:
    """Everything the OEE service is built from: when it changes, the service is rebuilt."""
    if config.oee is None:
        return None
    devices = [
        (d.id, d.enabled, d.oee.model_dump(), [s.model_dump() for s in d.signals])
        for d in config.devices
        if d.oee is not None
    ]
    return (config.oee.model_dump(), devices)


class OeeLink:
    """The gateway's OEE: an `OeeService` (or none) wired to a pipeline, and its tick task."""

    def __init__(
        self,
        config: Config,
        pipeline: Pipeline,
        state_dir: str | Path,
        clock: Callable[[], int] = now_ms,
        tick_s: float = TICK_S,
    ) -> None:
        self.pipeline = pipeline
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.tick_s = tick_s
        self.service: OeeService | None = None
        self._settings: object = None
        self._task: asyncio.Task[None] | None = None
        self._build(config)

    def _build(self, config: Config) -> None:
        self._settings = oee_settings(config)
        if self._settings is None:
            self.service = None
            return
        self.service = OeeService(config, self.state_dir, self.clock)
        self.pipeline.observers.append(self.service)
        log.info("OEE computed for devices: %s", ", ".join(self.service.devices()) or "none")

    def _drop(self) -> None:
        if self.service is not None:
            self.service.save()
            if self.service in self.pipeline.observers:
                self.pipeline.observers.remove(self.service)
            self.service = None

    def start(self) -> None:
        """Start the tick task (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="oee:tick")

    def reconfigure(self, config: Config) -> bool:
        """Rebuild the service from the state file when `config` changes OEE; True if it did."""
        if oee_settings(config) == self._settings:
            return False
        self.flush()
        before = set(self.service.devices()) if self.service is not None else set()
        self._drop()
        self._build(config)
        after = set(self.service.devices()) if self.service is not None else set()
        for device in sorted(before - after):
            # No longer computed: withdraw its retained `$oee`, so that no figure outlives it.
            self.pipeline.report(Report(device, TOPIC, None, MEASUREMENT, {}, {}, now_ms()))
        return True

    def flush(self) -> None:
        """Advance the engines now and send what is due (also at stop)."""
        service = self.service
        if service is None:
            return
        try:
            reports = service.tick(self.clock())
        except Exception:  # a bug must not stop OEE for good, nor the gateway
            log.exception("OEE tick failed; figures may lag until the next one")
            return
        for report in reports:
            self.pipeline.report(to_report(report))

    async def _run(self) -> None:
        while True:
            self.flush()
            await asyncio.sleep(self.tick_s)

    async def stop(self) -> None:
        """Stop ticking and write the state file, so that a restart keeps the shift's figures."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # the task's cancellation, not ours: nothing to swallow
        if self.service is not None:
            self.service.save()
