"""OEE over HTTP (SPEC "OEE, states and stops"): figures per machine and shift, and its stops.

`GET /api/v1/oee` gives every OEE machine's current and previous shift (and the site's stop
reasons, for the page's picker), `GET /api/v1/oee/{device}` one machine with its timeline of
conditions, `GET /api/v1/devices/{id}/stops` its recorded stops, and
`PUT /api/v1/devices/{id}/stops/{stop_id}` lets a technician (with a token) name a stop's
reason: a code from the site's list or free text. The figures are the `$oee` payloads', read
from the running `OeeService`; a gateway without a site `oee:` block has no OEE machines.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway.api import schemas
from gateway.api.access import Reader, Writer
from gateway.api.deps import GatewayDep
from gateway.api.errors import ApiError
from gateway.oee.service import MAX_REASON, OeeError, OeeService
from gateway.service import Gateway

log = logging.getLogger(__name__)
router = APIRouter(tags=["oee"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": schemas.Problem}}
StateValue = bool | int | float | str


class ShiftFigures(BaseModel):
    """One machine's figures for one shift: the `$oee` payload (ratios None until defined)."""

    shift: str
    shift_start: int = Field(description="ms since the epoch, UTC")
    shift_end: int = Field(description="ms since the epoch, UTC")
    ts: int = Field(description="the figures are as of this instant (ms, UTC)")
    final: bool = Field(description="the shift has ended: these are its final figures")
    planned_s: float
    run_s: float
    availability: float | None = Field(description="run time / planned time, 0..1")
    performance: float | None = Field(description="ideal cycle time x total / run time")
    quality: float | None = Field(description="good / total, 0..1")
    oee: float | None = Field(description="availability x performance x quality")
    total: int | float
    good: int | float
    stops: int
    micro_stops: int
    downtime_s: float
    planned_stop_s: float
    unknown_s: float = Field(description="no reading of the machine (gateway down, offline)")


class MachineOee(BaseModel):
    """One machine's current shift (None between shifts) and the last one that ended."""

    device: str
    current: ShiftFigures | None
    previous: ShiftFigures | None


class Segment(BaseModel):
    """A stretch of time in one condition; `end` None while it lasts."""

    start: int
    end: int | None
    condition: Literal["running", "planned", "stopped", "unknown"]


class MachineDetail(MachineOee):
    """One machine's figures and its conditions since the current shift began."""

    timeline: list[Segment]


class Reason(BaseModel):
    """A stop reason from the site's list, in English and Bahasa Indonesia."""

    code: str
    en: str
    id: str


class Overview(BaseModel):
    """Every OEE machine and the site's stop reasons."""

    timezone: str | None = Field(description="the site's timezone; None without OEE")
    reasons: list[Reason]
    devices: list[MachineOee]


class StopRecord(BaseModel):
    """A stop that lasted `micro_stop` or longer; `end` None while it lasts."""

    id: int
    start: int
    end: int | None
    reason: str = Field(description='a site reason code, free text, "state N" or "unknown"')
    state: StateValue | None = Field(description="the state value that started it")


class StopList(BaseModel):
    """A machine's recorded stops (newest first) and the reasons a technician can pick."""

    device: str
    stops: list[StopRecord]
    reasons: list[Reason]


class NameStop(BaseModel):
    """The reason of a stop: a code of the site's list (`no_material`) or free text."""

    reason: str = Field(min_length=1, max_length=MAX_REASON)


def _service(gateway: Gateway) -> OeeService:
    service = gateway.oee.service
    if service is None:
        raise ApiError(404, "this gateway computes no OEE: the config has no site oee block")
    return service


def _machine(service: OeeService, device: str) -> dict[str, Any]:
    try:
        return {"device": device, **service.figures(device)}
    except OeeError as exc:
        raise ApiError(404, f"{exc}: add an oee block to the device") from None


@router.get(
    "/api/v1/oee", response_model=Overview, dependencies=[Reader], responses=schemas.READ_ERRORS
)
async def overview(gateway: GatewayDep) -> Overview:
    """Every OEE machine: the current and the previous shift."""
    service = gateway.oee.service
    if service is None:
        return Overview(timezone=None, reasons=[], devices=[])
    return Overview.model_validate(
        {
            "timezone": service.site.timezone if service.site else None,
            "reasons": service.reasons(),
            "devices": [_machine(service, device) for device in service.devices()],
        }
    )


@router.get(
    "/api/v1/oee/{device_id}",
    response_model=MachineDetail,
    dependencies=[Reader],
    responses={**schemas.READ_ERRORS, **NOT_FOUND},
)
async def machine(device_id: str, gateway: GatewayDep) -> MachineDetail:
    """One machine's current and previous shift, and its timeline since this shift began."""
    service = _service(gateway)
    figures = _machine(service, device_id)
    return MachineDetail.model_validate({**figures, "timeline": service.timeline(device_id)})


@router.get(
    "/api/v1/devices/{device_id}/stops",
    response_model=StopList,
    dependencies=[Reader],
    responses={**schemas.READ_ERRORS, **NOT_FOUND},
)
async def stops(device_id: str, gateway: GatewayDep) -> StopList:
    """The machine's recorded stops, newest first."""
    service = _service(gateway)
    try:
        recorded = service.stops(device_id)
    except OeeError as exc:
        raise ApiError(404, f"{exc}: add an oee block to the device") from None
    return StopList.model_validate(
        {"device": device_id, "stops": recorded, "reasons": service.reasons()}
    )


@router.put(
    "/api/v1/devices/{device_id}/stops/{stop_id}",
    response_model=StopRecord,
    responses={
        **schemas.READ_ERRORS,
        **NOT_FOUND,
        422: {"model": schemas.Problem},
    },
)
async def name_stop(
    device_id: str, stop_id: int, body: NameStop, gateway: GatewayDep, who: Writer
) -> StopRecord:
    """Name a stop's reason (a code of the site's list, or free text); needs a token."""
    service = _service(gateway)
    try:
        named = service.name_stop(device_id, stop_id, body.reason)
    except OeeError as exc:
        raise ApiError(404, str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    log.info("stop %d of %s named %r by %s", stop_id, device_id, named["reason"], who)
    service.save()  # a named reason survives a restart
    return StopRecord.model_validate(named)
