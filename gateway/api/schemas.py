"""The HTTP API's response models: what /docs and /openapi.json promise, field by field.

Built from the live status dataclasses at request time (`gateway.status`, `gateway.sinks.base`);
never on the hot path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    """GET /healthz: the process is alive."""

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    """GET /readyz: 200 when the config is loaded and the pipeline runs, else 503 with why."""

    ready: bool
    reason: str | None = None


class Problem(BaseModel):
    """Every error: a sentence saying what is wrong and what to do."""

    detail: str


class Issue(BaseModel):
    """One config problem: where (a JSON path such as `devices[1].signals[0].table`) and what."""

    path: str
    message: str


class ConfigProblem(BaseModel):
    """422 for an invalid config: every problem at once; nothing was written or changed."""

    detail: str
    errors: list[Issue]


class DeviceStatusOut(BaseModel):
    """One device's health."""

    id: str
    protocol: str
    state: Literal["online", "offline", "error"]
    last_poll: int | None = Field(description="last successful scan, ms since the epoch (UTC)")
    polls_ok: int
    polls_failed: int
    last_error: str | None
    latency_ms: float | None = Field(description="duration of the last successful scan, ms")
    requests_per_scan: int
    overruns: int = Field(description="scans that took longer than the interval")
    signal_errors: dict[str, str] = Field(
        description="signals that could not be read in the last scan, with the reason"
    )


class SinkStatusOut(BaseModel):
    """One sink's health (MQTT, InfluxDB)."""

    name: str
    connected: bool
    backlog: int = Field(description="samples waiting for delivery (memory and disk)")
    backlog_bytes: int
    delivered: int
    dropped: int = Field(description="samples dropped because the buffer was full")
    rejected: int = Field(description="samples the peer refused for good")
    last_error: str | None
    buffer_errors: list[str] | None


class CommandsStatusOut(BaseModel):
    """MQTT `$set` commands (`mqtt.commands: true`): listening, or why not."""

    listening: bool
    last_error: str | None = None


class StatusOut(BaseModel):
    """GET /api/v1/status."""

    gateway_id: str
    version: str
    uptime_s: float
    running: bool
    site: str | None = None
    area: str | None = None
    line: str | None = None
    devices: list[DeviceStatusOut]
    sinks: list[SinkStatusOut]
    commands: CommandsStatusOut | None = Field(
        None, description="MQTT write commands; null when `mqtt.commands` is off"
    )


class SampleOut(BaseModel):
    """The latest sample of one signal."""

    value: float | int | bool | str | None
    quality: Literal["good", "bad", "uncertain"]
    ts: int = Field(description="ms since the epoch (UTC)")
    unit: str | None = None
    error: str | None = None


class ValuesOut(BaseModel):
    """GET /api/v1/values: by device, then by signal."""

    devices: dict[str, dict[str, SampleOut]]


class DeviceTestOut(BaseModel):
    """POST /api/v1/devices/{id}/test: one read of every signal, outside the pipeline."""

    device: str
    ok: bool = Field(description="every signal was read")
    latency_ms: float | None = None
    error: str | None = Field(description="why the device could not be read at all")
    signals: dict[str, SampleOut]


class BrowseItemOut(BaseModel):
    """One node under the browsed one: GET /api/v1/devices/{id}/browse."""

    node: str = Field(description="node id as the config takes it (nsu=<uri>;s=... form)")
    name: str
    kind: Literal["variable", "object"]
    path: str = Field(description="browse names from the start node, joined by '/'")
    data_type: str | None = None
    value: float | int | bool | str | None = None
    readable: bool = Field(description="whether the value can be a signal")
    error: str | None = None
    children: int = 0


class Applied(BaseModel):
    """A config change that was validated, written and applied."""

    etag: str
    devices_added: list[str]
    devices_changed: list[str]
    devices_removed: list[str]
    sinks_restarted: list[str]
    restart_needed: list[str] = Field(
        description="settings written to the file that take effect at the next restart"
    )


class Valid(BaseModel):
    """POST /api/v1/config/validate: the config is valid (nothing applied)."""

    valid: Literal[True] = True
    devices: int
    signals: int


ConfigDocument = dict[str, Any]
"""The config as written in the file (secrets as "***")."""


READ_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": Problem}}
"""The error answers of every read route (401 when reads need a token)."""
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    400: {"model": Problem},
    409: {"model": Problem},
    413: {"model": Problem},
    422: {"model": ConfigProblem},
}
"""The error answers of every route that changes (or validates) the config."""
