"""Writing to machines over HTTP (SPEC "Writing to machines"): a signal's value, an OPC UA
method call, and the write record.

The routes only translate: the checks, the write, the read-back and the record are the write
service's (`gateway.writes.service`), shared with MQTT commands. Codes: 200 written and read
back; 400 a malformed body (recorded as refused); 401 no token (the auth dependency, before
anything else, and not recorded: anyone could fill the bounded record); 404 unknown device,
signal or method; 409 the device is disabled; 422 refused, nothing written; 502 the read-back
differs (both values in the answer) or the device refused; 504 the device did not answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.api import schemas
from gateway.api.access import Reader, Writer
from gateway.api.body import optional_json, read_json
from gateway.api.deps import GatewayDep
from gateway.api.errors import ApiError
from gateway.model import now_ms
from gateway.writes.service import WriteError

router = APIRouter(tags=["writes"])


class WriteIn(BaseModel):
    """The value to write: a number, true/false or text, as the signal holds."""

    value: Any


class WriteOut(BaseModel):
    """A write the device carried out and that read back as written."""

    value: Any
    read_back: Any
    ts: int = Field(description="when the read-back arrived, ms since the epoch (UTC)")


class MismatchOut(BaseModel):
    """502: the read-back differs (or the device refused the write)."""

    detail: str
    written: Any = None
    read_back: Any = None


class MethodIn(BaseModel):
    """The method's input arguments, in order."""

    args: list[Any] = Field(default_factory=list)


class MethodOut(BaseModel):
    """The method's output arguments."""

    outputs: list[Any]
    ts: int


class WriteEntryOut(BaseModel):
    """One write attempt, allowed or refused, as recorded."""

    ts: int
    who: str
    device: str
    signal: str
    value: Any = None
    old: Any = None
    result: str
    read_back: Any = None
    error: str | None = None
    id: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    **schemas.READ_ERRORS,
    400: {"model": schemas.Problem},
    404: {"model": schemas.Problem},
    409: {"model": schemas.Problem, "description": "The device is disabled"},
    422: {"model": schemas.Problem, "description": "Refused: nothing was written"},
    502: {"model": MismatchOut, "description": "The read-back differs, or the device refused"},
    504: {"model": schemas.Problem, "description": "The device did not answer"},
}


def _answer(exc: WriteError) -> JSONResponse:
    return JSONResponse({"detail": str(exc), **exc.extra}, status_code=exc.status)


def _body_object(data: object, fields: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(400, f"expected a JSON object with {', '.join(sorted(fields))}")
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ApiError(
            400, f"unknown fields {', '.join(unknown)}: send {', '.join(sorted(fields))}"
        )
    missing = sorted(required - set(data))
    if missing:
        raise ApiError(400, f'missing {", ".join(missing)}: send {{"value": ...}}')
    return data


@router.post(
    "/api/v1/devices/{device_id}/signals/{signal}/write",
    response_model=WriteOut,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": WriteIn.model_json_schema()}}}
    },
)
async def write_signal(
    device_id: str, signal: str, request: Request, who: Writer, gateway: GatewayDep
) -> Any:
    """Write one signal: checked against its type, `min` and `max`, written, read back."""
    try:
        body = _body_object(await read_json(request), {"value"}, {"value"})
    except ApiError as exc:
        # A malformed attempt by a token holder is an attempt too: recorded, then answered.
        # (One without a valid token is not: anyone could fill the bounded record.)
        await gateway.writes.refused(device_id, signal, None, who, str(exc))
        raise
    try:
        written = await gateway.writes.write(device_id, signal, body["value"], who)
    except WriteError as exc:
        return _answer(exc)
    return WriteOut(value=written.value, read_back=written.read_back, ts=written.ts)


@router.post(
    "/api/v1/devices/{device_id}/methods/{name}",
    response_model=MethodOut,
    responses=ERRORS,
)
async def call_method(
    device_id: str, name: str, request: Request, who: Writer, gateway: GatewayDep
) -> Any:
    """Call an OPC UA method the device lists under `methods:`, with `{"args": [...]}`."""
    data = await optional_json(request)
    body = _body_object({} if data is None else data, {"args"}, set())
    args = body.get("args", [])
    if not isinstance(args, list):
        raise ApiError(400, "args must be a list of the method's input arguments")
    try:
        outputs = await gateway.writes.call(device_id, name, args, who)
    except WriteError as exc:
        return _answer(exc)
    return MethodOut(outputs=outputs, ts=now_ms())


@router.get(
    "/api/v1/writes",
    response_model=list[WriteEntryOut],
    dependencies=[Reader],
    responses=schemas.READ_ERRORS,
)
async def list_writes(
    gateway: GatewayDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> list[dict[str, Any]]:
    """The latest write attempts, newest first: who, what, the old and new value, the result."""
    return gateway.writes.record.latest(limit)
