"""What the alarm engine tells the rest of the gateway: one `AlarmEvent` per change of an alarm.

Why a module of its own: sinks (MQTT `$alarms/{alarm}`, InfluxDB measurement `alarms`) and the
HTTP API consume events without needing the engine. An event is the alarm's *present state*
after the change (SPEC "Alarms"), so a consumer that keeps only the latest event per alarm (a
retained MQTT topic) always shows the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway.model import Value

AlarmState = Literal["active", "cleared"]
Severity = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """An alarm became active, cleared, or was acknowledged: its present state after that.

    - `signal` is None for the device's own `offline` alarm.
    - `value` is the value that raised or cleared it (None for `offline`).
    - `since` is when the present `state` began (ms, UTC); None for an alarm never raised.
    - `ts` is when this change happened (ms, UTC): for an acknowledgement, the moment of the ack.
    - `acknowledged_by` names who acknowledged (a token name), once someone has.
    - `message` is the rule's text, `{"en": ..., "id": ...}`, where the config gives one.
    """

    alarm: str
    device: str
    signal: str | None
    state: AlarmState
    acknowledged: bool
    value: Value
    severity: Severity
    since: int | None
    ts: int
    acknowledged_by: str | None = None
    message: dict[str, str] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(device, alarm): what names one alarm on this gateway."""
        return (self.device, self.alarm)

    def payload(self) -> dict[str, Any]:
        """The JSON object of SPEC "Alarms" (the retained `$alarms/{alarm}` message)."""
        out: dict[str, Any] = {
            "alarm": self.alarm,
            "state": self.state,
            "acknowledged": self.acknowledged,
            "device": self.device,
            "signal": self.signal,
            "value": self.value,
            "severity": self.severity,
            "since": self.since,
            "ts": self.ts,
        }
        if self.acknowledged_by is not None:
            out["acknowledged_by"] = self.acknowledged_by
        if self.message is not None:
            out["message"] = self.message
        return out
