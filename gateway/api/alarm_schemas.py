"""The response models of the alarm routes (`gateway.api.routes.alarms`): what /docs promises.

Why a module of its own: the alarms are one concept of their own (SPEC "Alarms"), and keeping
their models beside `schemas.py` rather than in it lets the API package change independently.
Built from `gateway.alarms.events.AlarmEvent` at request time; never on the hot path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.alarms.events import AlarmEvent


class AlarmOut(BaseModel):
    """One alarm's state after a change (as retained on MQTT at `$alarms/{alarm}`)."""

    alarm: str = Field(description="The alarm's name; `offline` for a device not answering")
    device: str
    signal: str | None = Field(description="The signal it watches; null for `offline`")
    state: Literal["active", "cleared"]
    acknowledged: bool
    acknowledged_by: str | None = Field(
        default=None, description="The name of the token that acknowledged it"
    )
    value: float | int | bool | str | None = Field(
        description="The value that raised or cleared it (null for `offline`)"
    )
    severity: Literal["low", "medium", "high"]
    since: int | None = Field(description="When the present state began (ms since the epoch)")
    ts: int = Field(
        description="In `history`, when this change happened; in `active`, when the state "
        "was read (ms since the epoch)"
    )
    message: dict[str, str] | None = Field(
        default=None, description="The rule's text by language (`en`, `id`), where it has one"
    )

    @classmethod
    def of(cls, event: AlarmEvent) -> AlarmOut:
        """The model of one event."""
        return cls(
            alarm=event.alarm,
            device=event.device,
            signal=event.signal,
            state=event.state,
            acknowledged=event.acknowledged,
            acknowledged_by=event.acknowledged_by,
            value=event.value,
            severity=event.severity,
            since=event.since,
            ts=event.ts,
            message=event.message,
        )


class AlarmsOut(BaseModel):
    """GET /api/v1/alarms: what needs attention now, and what happened lately."""

    active_count: int = Field(description="How many alarms are active now")
    active: list[AlarmOut] = Field(
        description="Active alarms, then cleared ones nobody acknowledged; each group by "
        "severity (high first), then newest first"
    )
    history: list[AlarmOut] = Field(
        description="The latest changes since the gateway started, newest first"
    )
