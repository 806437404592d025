"""The `alarms:` of a signal (SPEC "Alarms"): limits, hysteresis, delay, severity, message.

Why a module of its own: the alarm rules are one concept with their own cross-field rules, and
`models.py` only needs one field and one validator on `SignalBase` to carry them. The engine
(`gateway.alarms.engine`) reads these models once, when it is built; nothing here runs per value.

A rule trips on exactly one condition, `above`, `below` or `equals`, and clears:

- `above: L` trips while the value is > L, clears once it is < `clear_below` (default L);
- `below: L` trips while the value is < L, clears once it is > `clear_above` (default L);
- `equals: V` trips while the value == V (a bool, a string, or a whole-number state), clears
  once it is not.

A value between the clear limit and the trip limit (both included) keeps the alarm as it is:
that band is the hysteresis that stops an alarm chattering around its limit.

Rules checked here, each at its own field (`rules.rule_error`):

- exactly one of `above`, `below`, `equals`; `clear_below` only with `above`, `clear_above` only
  with `below`, and each on the safe side of its trip limit (`clear_below <= above`,
  `clear_above >= below`);
- the name `offline` is reserved for the alarm the gateway raises itself when a device stops
  answering;
- `signal_alarm_issues`: the condition fits the signal's type (`equals` for bools, strings and
  whole-number states; `above`/`below` for numbers), names unique within the signal;
- `device_alarm_issues`: names unique on a device, its profile's signals included (an alarm's
  name is its MQTT topic level `$alarms/{alarm}`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from .issues import format_path
from .rules import Loc, rule_error
from .types import DURATION_OUT, DURATION_SCHEMA, duration_between

OFFLINE_ALARM = "offline"
"""The alarm the gateway raises on a device that stops answering; no rule may take its name."""

ALARM_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""Alarm names are MQTT topic levels (`$alarms/{alarm}`), as signal names are."""

Severity = Literal["low", "medium", "high"]

AlarmDelay = Annotated[
    float,
    duration_between(0, 86_400, "how long the condition must hold before the alarm is raised"),
    DURATION_OUT,
    DURATION_SCHEMA,
]


def equals_between(low: int, high: int, longest: int) -> BeforeValidator:
    """The validator of `equals`: a whole number within `low`..`high`, or text of at most
    `longest` characters (a bool passes as it is)."""

    def check(value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            raise ValueError(f"{value} is out of range: a state number is {low} to {high}")
        if isinstance(value, str) and len(value) > longest:
            raise ValueError(f"the text is {len(value)} characters long, more than {longest}")
        return value

    return BeforeValidator(check)


EqualsValue = Annotated[
    StrictBool | StrictInt | StrictStr | None, equals_between(-(2**63), 2**64 - 1, 250)
]
"""What `equals` compares with: a bool, a whole-number state (any 64-bit register), or text."""

_WHOLE_TYPES = frozenset(
    {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
)  # int8/uint8: S7 SINT, USINT and BYTE
_NUMBER_TYPES = _WHOLE_TYPES | {"float32", "float64"}


class _Strict(BaseModel):
    # As models.Strict (which imports this module): unknown keys are errors.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AlarmMessage(_Strict):
    """What the page and the MQTT payload show a technician, in English and Bahasa Indonesia."""

    en: str | None = Field(None, min_length=1, max_length=200)
    id: str | None = Field(None, min_length=1, max_length=200)


class AlarmRule(_Strict):
    """One alarm on one signal: its condition, its clear limit, how long it must hold, and how
    bad it is. Limits are in the signal's published unit (after `scale` and `offset`)."""

    name: str = Field(pattern=ALARM_NAME_PATTERN, max_length=64)
    above: float | None = Field(None, allow_inf_nan=False)
    below: float | None = Field(None, allow_inf_nan=False)
    equals: EqualsValue = None
    clear_below: float | None = Field(None, allow_inf_nan=False)
    """An `above` alarm clears once the value is below this (default: `above`)."""
    clear_above: float | None = Field(None, allow_inf_nan=False)
    """A `below` alarm clears once the value is above this (default: `below`)."""
    delay: AlarmDelay = 0.0
    """How long the condition must hold, without a break, before the alarm is raised (0-24h)."""
    severity: Severity = "medium"
    message: AlarmMessage | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AlarmRule:
        issues: list[tuple[Loc, str]] = []
        if self.name == OFFLINE_ALARM:
            issues.append(
                (
                    ("name",),
                    "the name 'offline' is reserved: the gateway raises it itself when a device "
                    "stops answering; choose another name",
                )
            )
        given = [
            field for field in ("above", "below", "equals") if getattr(self, field) is not None
        ]
        if not given:
            issues.append(
                ((), "an alarm needs a condition: above: LIMIT, below: LIMIT or equals: VALUE")
            )
        elif len(given) > 1:
            issues.append(
                (
                    (given[1],),
                    f"an alarm has one condition, but this one has {' and '.join(given)}; "
                    "write a second alarm for the other limit",
                )
            )
        issues += self._clear_issues()
        if issues:
            raise rule_error(issues)
        return self

    def _clear_issues(self) -> list[tuple[Loc, str]]:
        issues: list[tuple[Loc, str]] = []
        if self.clear_below is not None:
            if self.above is None:
                issues.append(
                    (
                        ("clear_below",),
                        "clear_below goes with above (the alarm trips above a limit and clears "
                        f"below another); {self._clears_how()}",
                    )
                )
            elif self.clear_below > self.above:
                issues.append(
                    (
                        ("clear_below",),
                        f"clear_below {self.clear_below:g} is above the trip limit above: "
                        f"{self.above:g}: the alarm would clear while it is still too high; "
                        f"write clear_below at most {self.above:g}",
                    )
                )
        if self.clear_above is not None:
            if self.below is None:
                issues.append(
                    (
                        ("clear_above",),
                        "clear_above goes with below (the alarm trips below a limit and clears "
                        f"above another); {self._clears_how()}",
                    )
                )
            elif self.clear_above < self.below:
                issues.append(
                    (
                        ("clear_above",),
                        f"clear_above {self.clear_above:g} is below the trip limit below: "
                        f"{self.below:g}: the alarm would clear while it is still too low; "
                        f"write clear_above at least {self.below:g}",
                    )
                )
        return issues

    def _clears_how(self) -> str:
        if self.above is not None:
            return "an above alarm clears below clear_below"
        if self.below is not None:
            return "a below alarm clears above clear_above"
        return "an equals alarm clears when the value is no longer equal"

    @property
    def clear_limit(self) -> float | None:
        """The limit past which an `above`/`below` alarm clears (None for `equals`)."""
        if self.above is not None:
            return self.above if self.clear_below is None else self.clear_below
        if self.below is not None:
            return self.below if self.clear_above is None else self.clear_above
        return None


def signal_value_type(signal: Any) -> str | None:
    """The type of a signal's values as the config says, or None where it does not (OPC UA)."""
    kind = getattr(signal, "type", None)
    table = getattr(signal, "table", None)
    if kind is None and table is not None:  # ModbusSignal fills its default after this runs
        return "bool" if table in ("coil", "discrete") else "uint16"
    return kind


def signal_alarm_issues(signal: Any, alarms: Sequence[AlarmRule]) -> list[tuple[Loc, str]]:
    """Issues of a signal's alarms that depend on the signal (its type, its other alarms)."""
    issues: list[tuple[Loc, str]] = []
    kind = signal_value_type(signal)
    scaled = getattr(signal, "scale", 1.0) != 1.0 or getattr(signal, "offset", 0.0) != 0.0
    first: dict[str, int] = {}
    for index, rule in enumerate(alarms):
        where: Loc = ("alarms", index)
        if rule.name in first:
            issues.append(
                (
                    (*where, "name"),
                    f"alarm name '{rule.name}' is used twice on signal '{signal.name}' "
                    f"(first at alarms[{first[rule.name]}])",
                )
            )
        else:
            first[rule.name] = index
        if kind is None:
            continue  # OPC UA: the server decides the type; the engine ignores values unlike it
        if rule.equals is not None:
            issue = _equals_issue(rule.equals, kind, scaled)
            if issue:
                issues.append(((*where, "equals"), issue))
        else:
            field = "above" if rule.above is not None else "below"
            if kind not in _NUMBER_TYPES:
                hint = "equals: true (or false)" if kind == "bool" else "equals: 'TEXT'"
                issues.append(
                    (
                        (*where, field),
                        f"{field} compares numbers, but signal '{signal.name}' is a {kind}; "
                        f"write {hint}",
                    )
                )
    return issues


def _equals_issue(value: bool | int | str, kind: str, scaled: bool) -> str | None:
    shown = str(value).lower() if isinstance(value, bool) else repr(value)
    if kind == "bool":
        if not isinstance(value, bool):
            return f"the signal is a bool: write equals: true or equals: false, not {shown}"
        return None
    if kind == "string":
        if not isinstance(value, str):
            return f"the signal is a string: write the text in quotes, equals: '{value}'"
        return None
    if kind not in _WHOLE_TYPES or scaled:
        what = "a scaled number" if kind in _WHOLE_TYPES else f"a {kind}"
        return (
            f"equals compares exactly, which a measured value ({what}) rarely is; "
            "use above or below with a limit"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        return f"the signal is a whole-number {kind}: write the state number, not {shown}"
    return None


def device_alarm_issues(signals: Iterable[tuple[Loc, Any]], owner: str) -> list[tuple[Loc, str]]:
    """Alarm names used twice across the signals of one device, each at its second use.

    `signals` gives each signal with its location (a device's own, or its profile's), so that
    a clash between a profile and the device names both places.
    """
    issues: list[tuple[Loc, str]] = []
    first: dict[str, tuple[Loc, str]] = {}
    for loc, signal in signals:
        for index, rule in enumerate(getattr(signal, "alarms", ())):
            name_loc: Loc = (*loc, "alarms", index, "name")
            if rule.name not in first:
                first[rule.name] = (name_loc, signal.name)
                continue
            first_loc, first_signal = first[rule.name]
            if first_signal == signal.name:
                continue  # the signal's own validator reports it
            issues.append(
                (
                    name_loc,
                    f"alarm name '{rule.name}' is used twice on {owner} (first on signal "
                    f"'{first_signal}' at {format_path(first_loc)}); its topic $alarms/{rule.name} "
                    "must name one alarm",
                )
            )
    return issues
