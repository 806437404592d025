"""One device's config entry (read, add or replace, delete), a test read, and OPC UA browse.

The ETag of a device is the whole config's: a change anywhere makes an If-Match stale.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response

from gateway.api import schemas
from gateway.api.access import Reader, Writer
from gateway.api.body import optional_json, read_json
from gateway.api.deps import ChangesDep, GatewayDep, RenderedDep, StoreDep
from gateway.api.errors import ApiError
from gateway.api.probe import browse_device as browse_on_device
from gateway.api.probe import can_browse, probe_device
from gateway.api.routes.config import applied

log = logging.getLogger(__name__)

router = APIRouter(tags=["devices"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": schemas.Problem}}


def _json(data: object, etag: str) -> Response:
    """A JSON answer of config data (small: one entry or the device list), with the ETag."""
    return Response(orjson.dumps(data), media_type="application/json", headers={"ETag": etag})


def _no_device(device_id: str) -> ApiError:
    return ApiError(404, f"no device {device_id!r} in the config")


@router.get(
    "/api/v1/devices",
    response_model=list[schemas.ConfigDocument],
    dependencies=[Reader],
    responses=schemas.READ_ERRORS,
)
async def list_devices(rendered: RenderedDep) -> Response:
    """Every device's entry as written (secrets as "***")."""
    shown = await rendered.get()
    devices = [d for d in shown.data.get("devices") or [] if isinstance(d, dict)]
    return _json(devices, shown.etag)


@router.get(
    "/api/v1/devices/{device_id}",
    response_model=schemas.ConfigDocument,
    dependencies=[Reader],
    responses={**schemas.READ_ERRORS, **NOT_FOUND},
)
async def get_device(device_id: str, rendered: RenderedDep) -> Response:
    """One device's entry as written (secrets as "***"); the ETag is the whole config's."""
    shown = await rendered.get()
    device = shown.devices.get(device_id)
    if device is None:
        raise _no_device(device_id)
    return _json(device, shown.etag)


@router.put(
    "/api/v1/devices/{device_id}",
    response_model=schemas.Applied,
    responses=schemas.CHANGE_ERRORS,
)
async def put_device(
    device_id: str,
    request: Request,
    response: Response,
    who: Writer,
    store: StoreDep,
    changes: ChangesDep,
    if_match: Annotated[str | None, Header()] = None,
) -> schemas.Applied:
    """Add a device, or replace its entry: the same rules as PUT /api/v1/config."""
    device = await read_json(request)
    if isinstance(device, dict) and device.get("id", device_id) != device_id:
        raise ApiError(
            400, f"the body's id {device.get('id')!r} differs from the URL's {device_id!r}"
        )
    if not isinstance(device, dict):
        raise ApiError(400, "expected a JSON object: one device's entry")
    change = await changes.apply(lambda: store.with_device(device_id, device), if_match)
    log.info("API: device %s written by token %s", device_id, who)
    return applied(change, response)


@router.delete(
    "/api/v1/devices/{device_id}",
    response_model=schemas.Applied,
    responses={**schemas.CHANGE_ERRORS, **NOT_FOUND},
)
async def delete_device(
    device_id: str,
    response: Response,
    who: Writer,
    store: StoreDep,
    changes: ChangesDep,
    rendered: RenderedDep,
    if_match: Annotated[str | None, Header()] = None,
) -> schemas.Applied:
    """Remove a device: it stops polling and its state becomes offline."""
    if device_id not in (await rendered.get()).devices:
        raise _no_device(device_id)
    change = await changes.apply(lambda: store.without_device(device_id), if_match)
    log.info("API: device %s deleted by token %s", device_id, who)
    return applied(change, response)


@router.post(
    "/api/v1/devices/{device_id}/test",
    response_model=schemas.DeviceTestOut,
    responses={**schemas.CHANGE_ERRORS, **NOT_FOUND},
)
async def probe(
    device_id: str,
    request: Request,
    _who: Writer,
    gateway: GatewayDep,
    store: StoreDep,
    changes: ChangesDep,
) -> schemas.DeviceTestOut:
    """Read every signal of a device once and show each value or error, without touching
    the running pipeline. With a body (a device entry), test that entry instead of the
    configured one: validated as PUT would, nothing written."""
    body = await optional_json(request)
    if body is None:
        device = store.config.device(device_id)
        if device is None:
            raise _no_device(device_id)
    else:
        if not isinstance(body, dict) or body.get("id", device_id) != device_id:
            raise ApiError(400, "expected a JSON object: this device's entry")
        candidate = await changes.validate(lambda: store.with_device(device_id, body))
        device = candidate.config.device(device_id)
        assert device is not None
    return await probe_device(gateway, device)


@router.get(
    "/api/v1/devices/{device_id}/browse",
    response_model=list[schemas.BrowseItemOut],
    dependencies=[Reader],
    responses={
        **schemas.READ_ERRORS,
        **NOT_FOUND,
        400: {"model": schemas.Problem, "description": "The device does not speak OPC UA"},
        502: {"model": schemas.Problem},
    },
)
async def browse_device(
    device_id: str,
    store: StoreDep,
    gateway: GatewayDep,
    node: Annotated[str, Query(max_length=500)] = "i=85",
    depth: Annotated[int, Query(ge=1, le=5)] = 2,
) -> list[schemas.BrowseItemOut]:
    """The objects and variables of an OPC UA device below `node` (default: Objects), with
    node ids ready for the config, data types and current values."""
    device = store.config.device(device_id)
    if device is None:
        raise _no_device(device_id)
    if not can_browse(gateway, device):
        raise ApiError(400, f"device {device_id!r} speaks {device.protocol}: only OPC UA browses")
    found = await browse_on_device(gateway, device, node, depth)
    return [schemas.BrowseItemOut.model_validate(item, from_attributes=True) for item in found]
