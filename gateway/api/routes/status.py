"""What the gateway is doing: status, latest values, Prometheus metrics, live events, trends."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Receive, Scope, Send

from gateway.api import schemas
from gateway.api.access import Reader
from gateway.api.deps import GatewayDep, LiveDep
from gateway.api.errors import ApiError
from gateway.api.live import Live, status_of


class EventStream(StreamingResponse):
    """A live page's event stream, holding a place taken by `Live.admit` until its response
    has ended (normally, by a hang-up, or before the first event)."""

    def __init__(self, live: Live) -> None:
        super().__init__(
            live.stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.live.release()


router = APIRouter(tags=["status"], dependencies=[Reader], responses=schemas.READ_ERRORS)


@router.get("/api/v1/status", response_model=schemas.StatusOut)
async def status(gateway: GatewayDep) -> schemas.StatusOut:
    """The gateway, every device and every sink."""
    return status_of(gateway)


@router.get("/api/v1/values", response_model=schemas.ValuesOut)
async def values(gateway: GatewayDep) -> schemas.ValuesOut:
    """The latest sample of every signal, by device then signal."""
    return schemas.ValuesOut(
        devices={
            device: {
                name: schemas.SampleOut(
                    value=sample.value,
                    quality=sample.quality.value,
                    ts=sample.ts,
                    unit=sample.unit,
                    error=sample.error,
                )
                for name, sample in list(entry.latest.items())
            }
            for device, entry in gateway.board.entries()
        }
    )


@router.get(
    "/api/v1/events",
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        503: {"model": schemas.Problem},
    },
    response_class=StreamingResponse,
)
async def events(live: LiveDep) -> StreamingResponse:
    """Server-sent events for live pages: `trends` once, then about every second `status`
    (as GET /api/v1/status) and `values` (the samples that changed since the last event),
    and `trend` (the newest trend point) every 5 s. At most 8 clients at once (503)."""
    if not live.admit():
        raise ApiError(503, "too many live pages are open; close one and try again")
    return EventStream(live)


@router.get("/api/v1/trends")
async def trends(live: LiveDep) -> dict[str, Any]:
    """Every numeric signal's recent values: one point per `step_s` seconds over 10
    minutes (`ts`: when each point was taken, ms; null where there was no number)."""
    return live.trends.all()


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Prometheus text format: devices, sinks, process memory and CPU."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
