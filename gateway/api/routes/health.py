"""GET /healthz and /readyz: for probes (systemd, a load balancer), never behind a token."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway.api import schemas
from gateway.api.deps import ChangesDep, GatewayDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
async def healthz() -> schemas.Health:
    """200 while the process is alive."""
    return schemas.Health()


@router.get("/readyz", response_model=schemas.Ready, responses={503: {"model": schemas.Ready}})
async def readyz(response: Response, gateway: GatewayDep, changes: ChangesDep) -> schemas.Ready:
    """200 when the config is loaded and the pipeline runs; 503 with the reason otherwise."""
    if not gateway.running:
        response.status_code = 503
        reason = "the gateway is not running (starting or stopping)"
        return schemas.Ready(ready=False, reason=reason)
    if changes.busy:
        return schemas.Ready(ready=True, reason="a config change is being applied")
    return schemas.Ready(ready=True)
