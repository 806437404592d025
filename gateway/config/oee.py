"""The OEE config (SPEC "OEE, states and stops"): the site `oee:` block and each device's `oee:`.

Kept apart from `models.py` so that the OEE rules live in one place: `Config` holds one
`oee: SiteOee | None` field, `DeviceBase` one `oee: DeviceOee | None`, and `Config` calls
`oee_issues` once the profiles are merged, because the device's rules (a counter is a numeric
signal of that device, the state signal exists, a site block exists) need its final signals.
Each broken rule is reported at its own field, all at once (`rules.rule_error`).
"""

from __future__ import annotations

import functools
import math
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from gateway.oee.calendar import DailyWindow, parse_clock, window_inside, windows_overlap

from .rules import Loc, did_you_mean, rule_error
from .types import DURATION_OUT, DURATION_SCHEMA, duration_between

if TYPE_CHECKING:
    from .models import Config

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""Shift, break and reason names: they appear in payloads, InfluxDB tags and the page."""

PublishInterval = Annotated[
    float,
    duration_between(1, 3600, "how often each machine's figures are published"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
CycleTime = Annotated[
    float,
    duration_between(0.001, 86_400, "the time of one part at the machine's rated speed"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
MicroStop = Annotated[
    float,
    duration_between(0, 3600, "stops shorter than this are speed loss, not downtime"),
    DURATION_OUT,
    DURATION_SCHEMA,
]
StateValue = bool | int | float | str
"""A value of a state signal: a number (3), a bool or a text ("RUN"), as the machine gives it."""


def state_values_between(low: float, high: float) -> BeforeValidator:
    """The validator of a list of state values: numbers finite and within `low`..`high`."""

    def check(values: object) -> object:
        if not isinstance(values, list):
            return values  # the list type reports it
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or not low <= value <= high:
                raise ValueError(
                    f"{value} is not a state value: numbers are {low:g} to {high:g} "
                    "(the value of the state signal)"
                )
        return values

    return BeforeValidator(check)


StateValues = Annotated[list[StateValue], state_values_between(-(2**63), 2**64 - 1)]

NUMERIC_TYPES = frozenset(
    {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"}
)
"""Types a part counter can have (int8/uint8: S7 bytes)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OeeWindow(_Strict):
    """A shift or a break: a name and wall-clock times in the site's timezone."""

    name: str = Field(pattern=NAME, max_length=32)
    start: str
    """HH:MM, 00:00 to 23:59."""
    end: str
    """HH:MM, 00:00 to 24:00; earlier than `start` for a window that crosses midnight."""

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str) -> str:
        parse_clock(value, end=True)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> OeeWindow:
        if parse_clock(self.start) == parse_clock(self.end, end=True):
            raise rule_error(
                [(("end",), f"end {self.end} equals start {self.start}: the window is empty")]
            )
        return self

    def window(self) -> DailyWindow:
        """The window in minutes after midnight, for the calendar."""
        return DailyWindow(self.name, parse_clock(self.start), parse_clock(self.end, end=True))


class StopReason(_Strict):
    """A reason a technician can pick for a stop, in English and Bahasa Indonesia."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=32)
    en: str = Field(min_length=1, max_length=80)
    id: str = Field(min_length=1, max_length=80)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class SiteOee(_Strict):
    """The site's OEE calendar: timezone, shifts, breaks, how often figures are published."""

    timezone: str = Field(min_length=1, max_length=64)
    shifts: list[OeeWindow] = Field(min_length=1, max_length=12)
    breaks: list[OeeWindow] = Field(default_factory=list, max_length=24)
    publish_interval: PublishInterval = 60.0
    stop_reasons: list[StopReason] = Field(default_factory=list, max_length=50)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            guess = did_you_mean(value, _zones())
            hint = f"; did you mean '{guess}'?" if guess else " (for example Asia/Jakarta)"
            raise ValueError(f"unknown timezone '{value}'{hint}") from None
        return value

    @model_validator(mode="after")
    def _calendar(self) -> SiteOee:
        issues: list[tuple[Loc, str]] = []
        shifts = [shift.window() for shift in self.shifts]
        issues += _duplicates(self.shifts, "shifts", "shift")
        issues += _duplicates(self.breaks, "breaks", "break")
        for i, shift in enumerate(shifts):
            for j in range(i):
                if windows_overlap(shift, shifts[j]):
                    issues.append(
                        (
                            ("shifts", i, "start"),
                            f"shift '{shift.name}' ({self.shifts[i].start}-{self.shifts[i].end}) "
                            f"overlaps shift '{shifts[j].name}' "
                            f"({self.shifts[j].start}-{self.shifts[j].end}); "
                            "one shift ends where the next begins",
                        )
                    )
        breaks = [brk.window() for brk in self.breaks]
        for i, brk in enumerate(breaks):
            if not any(window_inside(brk, shift) for shift in shifts):
                issues.append(
                    (
                        ("breaks", i, "start"),
                        f"break '{brk.name}' ({self.breaks[i].start}-{self.breaks[i].end}) "
                        "is not inside one shift",
                    )
                )
            for j in range(i):
                if windows_overlap(brk, breaks[j]):
                    issues.append(
                        (("breaks", i, "start"), f"break '{brk.name}' overlaps '{breaks[j].name}'")
                    )
        codes = [reason.code for reason in self.stop_reasons]
        for i, code in enumerate(codes):
            if code in codes[:i]:
                issues.append((("stop_reasons", i, "code"), f"reason '{code}' is listed twice"))
        if issues:
            raise rule_error(issues)
        return self


def _duplicates(items: Sequence[OeeWindow], field: str, word: str) -> list[tuple[Loc, str]]:
    names = [item.name for item in items]
    return [
        ((field, i, "name"), f"{word} name '{name}' is used twice")
        for i, name in enumerate(names)
        if name in names[:i]
    ]


class OeeState(_Strict):
    """The signal that tells the machine's state, and which of its values mean what."""

    signal: str = Field(min_length=1, max_length=64)
    running: StateValues = Field(min_length=1, max_length=32)
    planned: StateValues = Field(default_factory=list, max_length=32)
    """Planned stops (setup, cleaning, no order); any other value is a stop."""

    @model_validator(mode="after")
    def _disjoint(self) -> OeeState:
        both = [value for value in self.planned if value in self.running]
        if both:
            raise rule_error([(("planned",), f"{both[0]!r} is listed in both running and planned")])
        return self


class DeviceOee(_Strict):
    """How one machine's OEE is computed from its signals."""

    state: OeeState | None = None
    """Without it, the machine is running while its count moves."""
    total_count: str | None = Field(None, min_length=1, max_length=64)
    good_count: str | None = Field(None, min_length=1, max_length=64)
    reject_count: str | None = Field(None, min_length=1, max_length=64)
    ideal_cycle_time: CycleTime
    micro_stop: MicroStop = 30.0

    @model_validator(mode="after")
    def _counters(self) -> DeviceOee:
        if self.total_count is None and (self.good_count is None or self.reject_count is None):
            if self.good_count is not None:
                where = "reject_count"
            else:
                where = "good_count" if self.reject_count is not None else "total_count"
            raise rule_error(
                [((where,), f"missing {where}: give total_count, or good_count and reject_count")]
            )
        if self.total_count is not None and self.reject_count is not None:
            raise rule_error(
                [
                    (
                        ("reject_count",),
                        "give total_count (and good_count), or good_count and reject_count, "
                        "not total_count and reject_count",
                    )
                ]
            )
        return self

    def counter_fields(self) -> dict[str, str]:
        """Field name to signal name, for the counters given."""
        fields = ("total_count", "good_count", "reject_count")
        return {field: getattr(self, field) for field in fields if getattr(self, field)}


def oee_issues(config: Config) -> list[tuple[Loc, str]]:
    """Every broken rule between the devices' `oee:` blocks, their signals and the site block."""
    issues: list[tuple[Loc, str]] = []
    for index, device in enumerate(config.devices):
        spec = device.oee
        if spec is None:
            continue
        where: Loc = ("devices", index, "oee")
        if config.oee is None:
            issues.append(
                (where, "a device oee block needs the site oee block (timezone and shifts)")
            )
        signals = {signal.name: signal for signal in device.signals}
        if spec.state is not None and spec.state.signal not in signals:
            issues.append(
                ((*where, "state", "signal"), _unknown(spec.state.signal, device.id, signals))
            )
        for field, name in spec.counter_fields().items():
            signal = signals.get(name)
            if signal is None:
                issues.append(((*where, field), _unknown(name, device.id, signals)))
                continue
            kind = getattr(signal, "type", None)
            if kind is not None and kind not in NUMERIC_TYPES:
                issues.append(
                    (
                        (*where, field),
                        f"signal '{name}' is a {kind}, not a number: a counter is a "
                        "cumulative numeric signal (uint16, uint32, ...)",
                    )
                )
    return issues


def _unknown(name: str, device: str, signals: Mapping[str, object]) -> str:
    guess = did_you_mean(name, signals)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return f"device '{device}' has no signal '{name}'{hint}"
