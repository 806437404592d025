"""What every config model shares: strictness, names, the ranges of durations and sizes, and
the fields every signal and every device has, whatever the protocol (`config.models` puts the
protocols' models together into the schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from .alarms import AlarmRule, signal_alarm_issues
from .oee import DeviceOee
from .rules import Loc, rule_error
from .types import (
    DURATION_OUT,
    DURATION_SCHEMA,
    SIZE_OUT,
    SIZE_SCHEMA,
    duration_between,
    size_between,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
"""Gateway and device ids: they name MQTT topic levels and InfluxDB tags."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""Signal names: MQTT topic levels and InfluxDB field keys."""
LEVEL_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_.-]*)?$"
"""ISA-95 levels (site, area, line): empty, or one topic level."""

# The real range of every duration and size (config/README.md "Limits" lists them). A value the
# validator accepts must never stop the gateway from starting or make a loop spin.
Interval = Annotated[
    float,
    duration_between(0.01, 86_400, "a device is polled at most every 10 ms, at least daily"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
Timeout = Annotated[
    float,
    duration_between(0.01, 600, "the longest one request may take"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
Heartbeat = Annotated[
    float,
    duration_between(0.01, 86_400, "the longest an unchanged value goes unpublished"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
Keepalive = Annotated[
    float,
    duration_between(1, 65_535, "MQTT counts it in whole seconds, 1 to 65535"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
FlushInterval = Annotated[
    float,
    duration_between(0.001, 60, "the longest a point waits for its batch"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
BufferSize = Annotated[
    int,
    size_between(1_000_000, 1_000_000_000_000, "the disk the buffer may use"),
    SIZE_OUT,
    SIZE_SCHEMA,
]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SignalBase(Strict):
    """What every signal has, whatever the protocol."""

    name: str = Field(pattern=NAME_PATTERN, max_length=64)
    unit: str | None = Field(None, max_length=32)
    deadband: float | None = Field(None, ge=0, allow_inf_nan=False)
    decimals: int | None = Field(None, ge=0, le=15)
    """Publish numbers rounded to this many decimals (after scale and offset); without it a
    scaled value has the decimals of scale and offset, a float32 its shortest form
    (`gateway.numbers`)."""
    heartbeat: Heartbeat = 60.0
    writable: bool = False
    """Whether the gateway may write this signal (SPEC "Writing to machines"); never by default."""
    min: float | None = Field(None, allow_inf_nan=False)
    """The lowest value a write may set (numbers only), in the signal's unit."""
    max: float | None = Field(None, allow_inf_nan=False)
    """The highest value a write may set (numbers only), in the signal's unit."""
    alarms: list[AlarmRule] = Field(default_factory=list, max_length=100)
    """Limits that raise an alarm on this signal (SPEC "Alarms", `config.alarms`)."""

    def _limit_issues(self, kind: str | None) -> list[tuple[Loc, str]]:
        """The broken rules of `writable`, `min` and `max`; `kind` is the signal's type when
        it is not a number (bool, string), else None."""
        issues: list[tuple[Loc, str]] = []
        for field in ("min", "max"):
            if getattr(self, field) is None:
                continue
            if kind is not None:
                issues.append(((field,), f"{field} limits numbers, not a {kind}"))
            elif not self.writable:
                issues.append(
                    ((field,), f"{field} limits writes: add writable: true, or remove {field}")
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            issues.append((("max",), f"max {self.max:g} is below min {self.min:g}"))
        return issues

    @model_validator(mode="after")
    def _alarms_fit(self) -> SignalBase:
        issues = signal_alarm_issues(self, self.alarms) if self.alarms else []
        if issues:
            raise rule_error(issues)
        return self


class DeviceBase(Strict):
    """What every device has, whatever the protocol."""

    id: str = Field(pattern=ID_PATTERN, max_length=64)
    enabled: bool = True
    interval: Interval = 1.0
    timeout: Timeout = 1.0
    measurement: str = Field("machine", min_length=1, max_length=64)
    profile: str | None = None
    oee: DeviceOee | None = None
    """How this machine's OEE is computed (config/oee.py); needs the site `oee:` block."""
