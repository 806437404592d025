"""Alarms over HTTP (SPEC "Alarms"): what is active and what happened, and acknowledgement.

`GET /api/v1/alarms` reads like every other read (a token only where reads need one);
`POST /api/v1/alarms/{device}/{alarm}/ack` needs a change token, whose name is recorded as who
acknowledged, published on MQTT and logged. Both read `Gateway.alarms.service` (an
`AlarmService`), which is quick and synchronous.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.alarms.service import UnknownAlarm
from gateway.api import schemas
from gateway.api.access import Reader, Writer
from gateway.api.alarm_schemas import AlarmOut, AlarmsOut
from gateway.api.deps import GatewayDep
from gateway.api.errors import ApiError

log = logging.getLogger(__name__)

router = APIRouter(tags=["alarms"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.Problem, "description": "No such alarm on that device"}
}


@router.get(
    "/api/v1/alarms",
    response_model=AlarmsOut,
    dependencies=[Reader],
    responses=schemas.READ_ERRORS,
)
async def list_alarms(
    gateway: GatewayDep,
    history: Annotated[int, Query(ge=0, le=1000, description="How many recent changes")] = 100,
) -> AlarmsOut:
    """The alarms that need attention (active first, by severity) and the recent changes."""
    service = gateway.alarms.service
    outstanding = service.active()
    return AlarmsOut(
        active_count=sum(1 for event in outstanding if event.state == "active"),
        active=[AlarmOut.of(event) for event in outstanding],
        history=[AlarmOut.of(event) for event in service.history(history)],
    )


@router.post(
    "/api/v1/alarms/{device}/{alarm}/ack",
    response_model=AlarmOut,
    responses={**schemas.READ_ERRORS, **NOT_FOUND},
)
async def acknowledge(device: str, alarm: str, who: Writer, gateway: GatewayDep) -> AlarmOut:
    """Acknowledge an alarm as the token's name; its present state. Acknowledging one that
    is already acknowledged (or was never raised) changes nothing and is not an error."""
    try:
        event = gateway.alarms.service.ack(device, alarm, who)
    except UnknownAlarm as exc:
        raise ApiError(404, str(exc)) from exc
    log.info("API: alarm %s on %s acknowledged by token %s", alarm, device, who)
    return AlarmOut.of(event)
