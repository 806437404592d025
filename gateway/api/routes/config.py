"""The whole config: read it (secrets masked), replace it, validate it.

Changes go through the config-change service (`gateway.changes`): validated as `gerbang check`
does, written atomically, applied without a restart, and nothing changed when invalid (422).
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from gateway.api import schemas
from gateway.api.access import Reader, Writer
from gateway.api.body import read_json
from gateway.api.deps import ChangesDep, RenderedDep
from gateway.changes import Change

log = logging.getLogger(__name__)

router = APIRouter(tags=["config"])


def applied(change: Change, response: Response) -> schemas.Applied:
    """The answer to a change that was applied; the new ETag in its header."""
    response.headers["ETag"] = change.etag
    result = change.reconciled
    return schemas.Applied(
        etag=change.etag,
        devices_added=result.devices_added,
        devices_changed=result.devices_changed,
        devices_removed=result.devices_removed,
        sinks_restarted=result.sinks_restarted,
        restart_needed=change.restart_needed,
    )


@router.get(
    "/api/v1/config",
    response_model=schemas.ConfigDocument,
    dependencies=[Reader],
    responses={
        **schemas.READ_ERRORS,
        200: {
            "description": "The config: JSON, or YAML text with `?format=yaml`",
            "content": {"application/yaml": {"schema": {"type": "object"}}},
        },
    },
)
async def get_config(
    rendered: RenderedDep,
    format: Annotated[Literal["json", "yaml"], Query()] = "json",
) -> Response:
    """The running config as written in its file: `${VAR}` kept, every secret as "***".
    `?format=yaml` gives it as YAML text (PUT takes YAML with Content-Type
    application/yaml).

    The ETag header identifies this version: send it back as If-Match when you PUT."""
    if format == "yaml":
        shown = await rendered.yaml()
        return Response(
            shown.yaml, media_type="application/yaml; charset=utf-8", headers={"ETag": shown.etag}
        )
    shown = await rendered.get()
    return Response(shown.json, media_type="application/json", headers={"ETag": shown.etag})


@router.put("/api/v1/config", response_model=schemas.Applied, responses=schemas.CHANGE_ERRORS)
async def put_config(
    request: Request,
    response: Response,
    who: Writer,
    changes: ChangesDep,
    if_match: Annotated[str | None, Header()] = None,
) -> schemas.Applied:
    """Replace the whole config: validated, written atomically (previous file kept as
    FILE.bak), applied without a restart; only what changed restarts. "***" keeps a secret.
    422 lists every error and changes nothing; 409 when If-Match is not the current ETag."""
    data = await read_json(request)
    change = await changes.apply(lambda: data, if_match)
    log.info("API: config replaced by token %s", who)
    return applied(change, response)


@router.post(
    "/api/v1/config/validate", response_model=schemas.Valid, responses=schemas.CHANGE_ERRORS
)
async def validate_config(request: Request, _who: Writer, changes: ChangesDep) -> schemas.Valid:
    """The same validation as PUT /api/v1/config; nothing is written or applied."""
    data = await read_json(request)
    candidate = await changes.validate(lambda: data)
    return schemas.Valid(
        devices=len(candidate.config.devices),
        signals=sum(len(d.signals) for d in candidate.config.devices),
    )
