"""The HTTP API's routes (SPEC "HTTP API"), built for one running gateway and its config store.

Everything the app needs is passed to `create_app` (the gateway, the injected `ConfigStore`);
nothing is global, so tests run several gateways in one process.

Rules every route keeps:
- every change needs `Authorization: Bearer <token>` (a sha256 in `api.tokens`); reads too when
  `api.read_requires_token` is true; 401 with a JSON reason otherwise, and nothing changes;
- bodies are read by us, capped at MAX_BODY bytes (413), parsed with orjson (400 when not JSON),
  and validated by the config loader, the same as `gerbang check` (422 listing every error);
- every error is JSON `{"detail": ...}`; a request can never stop the pipeline, and the
  bodies (which may hold secrets) are never logged;
- config changes are serialized by one lock: check the ETag (409 when stale), validate, write
  the file atomically, then `Gateway.reconcile`.
"""

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api import schemas
from gateway.api.auth import token_name
from gateway.api.errors import ApiError
from gateway.api.live import Live, status_of
from gateway.api.metrics import registry_for
from gateway.api.probe import browse_device as browse_on_device
from gateway.api.probe import can_browse, probe_device
from gateway.config.issues import ConfigError
from gateway.config.models import Config
from gateway.config.source import YamlProblem, parse_yaml
from gateway.config.store import (
    Candidate,
    ConfigConflict,
    ConfigStore,
    dump_yaml,
    write_atomically,
)
from gateway.service import Gateway, Reconciled

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
"""Largest request body accepted, bytes: a config with hundreds of devices fits easily."""
STATIC = Path(__file__).parent / "static"
"""The web page: plain HTML, CSS and JavaScript modules, no build step."""
RESTART_FIELDS = ("enabled", "listen", "tls_cert", "tls_key")
"""`api` settings that take effect at the next restart (the server is already listening)."""


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, {"WWW-Authenticate": 'Bearer realm="gerbang"'})


def _invalid(exc: ConfigError) -> ApiError:
    errors = [schemas.Issue(path=i.path, message=i.message) for i in exc.issues]
    count = len(errors)
    return ApiError(
        422,
        f"the config is invalid ({count} error{'s' if count != 1 else ''}); nothing was changed",
        errors=errors,
    )


async def read_json(request: Request) -> Any:
    """The request body as JSON, at most MAX_BODY bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ApiError(413, f"the body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"the body is larger than {MAX_BODY} bytes")
    if not body:
        raise ApiError(400, "the body is empty: send the config as JSON")
    if "yaml" in request.headers.get("content-type", ""):
        try:
            return parse_yaml(body.decode("utf-8", "replace"), None).data
        except YamlProblem as exc:
            where = f"line {exc.line}: " if exc.line else ""
            raise ApiError(
                422,
                "the config is not valid YAML; nothing was changed",
                errors=[schemas.Issue(path="", message=f"{where}{exc.message}")],
            ) from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None


def create_app(gateway: Gateway, store: ConfigStore) -> FastAPI:
    """The FastAPI app of one gateway."""
    # Swagger UI served from the package, not a CDN: factory networks are often offline.
    app = FastAPIOffline(
        redoc_url=None,
        title="Gerbang",
        version=gateway.version,
        description="Health, status, values and configuration of one Gerbang gateway.",
    )
    registry = registry_for(gateway)
    lock = asyncio.Lock()
    live = Live(gateway)
    app.state.live = live

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.errors is not None:
            body["errors"] = [e.model_dump() for e in exc.errors]
        return JSONResponse(body, exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "API: %s %s failed: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
        return JSONResponse({"detail": "internal error; the gateway log says more"}, 500)

    def can_change(authorization: Annotated[str | None, Header()] = None) -> str:
        tokens = store.config.api.tokens
        if not tokens:
            raise _unauthorized(
                "no API tokens are configured: make one with `gerbang token new` and add its "
                "line under api.tokens"
            )
        if not authorization:
            raise _unauthorized("this needs a token: send the header Authorization: Bearer TOKEN")
        name = token_name(authorization, tokens)
        if name is None:
            raise _unauthorized("the token was not accepted (not one of api.tokens)")
        return name

    def can_read(authorization: Annotated[str | None, Header()] = None) -> None:
        if store.config.api.read_requires_token:
            can_change(authorization)

    Reader = Depends(can_read)
    Writer = Annotated[str, Depends(can_change)]
    errors = {401: {"model": schemas.Problem}}
    change_errors = {
        **errors,
        400: {"model": schemas.Problem},
        409: {"model": schemas.Problem},
        413: {"model": schemas.Problem},
        422: {"model": schemas.ConfigProblem},
    }

    @app.get("/healthz", response_model=schemas.Health, tags=["health"])
    async def healthz() -> schemas.Health:
        """200 while the process is alive."""
        return schemas.Health()

    @app.get(
        "/readyz",
        response_model=schemas.Ready,
        responses={503: {"model": schemas.Ready}},
        tags=["health"],
    )
    async def readyz(response: Response) -> schemas.Ready:
        """200 when the config is loaded and the pipeline runs; 503 with the reason otherwise."""
        if not gateway.running:
            response.status_code = 503
            reason = "the gateway is not running (starting or stopping)"
            return schemas.Ready(ready=False, reason=reason)
        if lock.locked():
            return schemas.Ready(ready=True, reason="a config change is being applied")
        return schemas.Ready(ready=True)

    @app.get(
        "/api/v1/status",
        response_model=schemas.StatusOut,
        dependencies=[Reader],
        responses=errors,
        tags=["status"],
    )
    async def status() -> schemas.StatusOut:
        """The gateway, every device and every sink."""
        return status_of(gateway)

    @app.get(
        "/api/v1/values",
        response_model=schemas.ValuesOut,
        dependencies=[Reader],
        responses=errors,
        tags=["status"],
    )
    async def values() -> schemas.ValuesOut:
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

    @app.get(
        "/api/v1/events",
        dependencies=[Reader],
        responses={**errors, 503: {"model": schemas.Problem}},
        response_class=StreamingResponse,
        tags=["status"],
    )
    async def events() -> StreamingResponse:
        """Server-sent events for live pages: `trends` once, then about every second `status`
        (as GET /api/v1/status) and `values` (the samples that changed since the last event),
        and `trend` (the newest trend point) every 5 s. At most 8 clients at once (503)."""
        if live.full():
            raise ApiError(503, "too many live pages are open; close one and try again")
        return StreamingResponse(
            live.stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/v1/trends", dependencies=[Reader], responses=errors, tags=["status"])
    async def trends() -> dict[str, Any]:
        """Every numeric signal's recent values: one point per `step_s` seconds over 10
        minutes (`ts`: when each point was taken, ms; null where there was no number)."""
        return live.trends.all()

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        """The web page (no token needed to load it; its API calls need one as configured)."""
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/ui", StaticFiles(directory=STATIC), name="ui")

    @app.get("/metrics", dependencies=[Reader], responses=errors, tags=["status"])
    async def metrics() -> Response:
        """Prometheus text format: devices, sinks, process memory and CPU."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/api/v1/config",
        response_model=schemas.ConfigDocument,
        dependencies=[Reader],
        responses=errors,
        tags=["config"],
    )
    async def get_config(
        response: Response, format: Annotated[Literal["json", "yaml"], Query()] = "json"
    ) -> Any:
        """The running config as written in its file: `${VAR}` kept, every secret as "***".
        `?format=yaml` gives it as YAML text (PUT takes YAML with Content-Type
        application/yaml).

        The ETag header identifies this version: send it back as If-Match when you PUT."""
        if format == "yaml":
            return Response(
                dump_yaml(store.public()),
                media_type="application/yaml; charset=utf-8",
                headers={"ETag": store.etag},
            )
        response.headers["ETag"] = store.etag
        return store.public()

    async def commit(candidate: Candidate) -> Reconciled:
        """Write the file, adopt the config, reconcile the gateway: all or (on a write
        error) nothing."""
        try:
            await asyncio.to_thread(write_atomically, store.path, candidate.text)
        except OSError as exc:
            log.error("API: cannot write %s: %s", store.path, exc.strerror or exc)
            raise ApiError(
                500, f"cannot write {store.path}: {exc.strerror or exc}; nothing was changed"
            ) from None
        store.adopt(candidate)
        return await gateway.reconcile(candidate.config)

    async def apply(
        make: Callable[[], object], if_match: str | None, response: Response
    ) -> schemas.Applied:
        """Check the ETag, validate `make()` (built under the lock from the current config),
        write the file, then reconcile the running gateway."""
        async with lock:
            try:
                store.check_etag(if_match)
            except ConfigConflict as exc:
                raise ApiError(409, str(exc)) from None
            try:
                candidate = await asyncio.to_thread(store.prepare, make())
            except ConfigError as exc:
                raise _invalid(exc) from None
            old: Config = store.config
            # Shielded: a client that hangs up (or a shutdown) must not leave the file written
            # and the gateway half reconciled.
            result = await asyncio.shield(commit(candidate))
        restart = [
            f"api.{field}"
            for field in RESTART_FIELDS
            if getattr(old.api, field) != getattr(candidate.config.api, field)
        ]
        response.headers["ETag"] = store.etag
        return schemas.Applied(
            etag=store.etag,
            devices_added=result.devices_added,
            devices_changed=result.devices_changed,
            devices_removed=result.devices_removed,
            sinks_restarted=result.sinks_restarted,
            restart_needed=restart,
        )

    @app.put(
        "/api/v1/config",
        response_model=schemas.Applied,
        responses=change_errors,
        tags=["config"],
    )
    async def put_config(
        request: Request,
        response: Response,
        who: Writer,
        if_match: Annotated[str | None, Header()] = None,
    ) -> schemas.Applied:
        """Replace the whole config: validated, written atomically (previous file kept as
        FILE.bak), applied without a restart; only what changed restarts. "***" keeps a secret.
        422 lists every error and changes nothing; 409 when If-Match is not the current ETag."""
        data = await read_json(request)
        applied = await apply(lambda: data, if_match, response)
        log.info("API: config replaced by token %s", who)
        return applied

    @app.post(
        "/api/v1/config/validate",
        response_model=schemas.Valid,
        responses=change_errors,
        tags=["config"],
    )
    async def validate_config(request: Request, _who: Writer) -> schemas.Valid:
        """The same validation as PUT /api/v1/config; nothing is written or applied."""
        data = await read_json(request)
        try:
            candidate = await asyncio.to_thread(store.prepare, data)
        except ConfigError as exc:
            raise _invalid(exc) from None
        return schemas.Valid(
            devices=len(candidate.config.devices),
            signals=sum(len(d.signals) for d in candidate.config.devices),
        )

    @app.get(
        "/api/v1/devices",
        response_model=list[schemas.ConfigDocument],
        dependencies=[Reader],
        responses=errors,
        tags=["devices"],
    )
    async def list_devices(response: Response) -> list[dict[str, Any]]:
        """Every device's entry as written (secrets as "***")."""
        response.headers["ETag"] = store.etag
        return [d for d in store.public().get("devices") or [] if isinstance(d, dict)]

    @app.get(
        "/api/v1/devices/{device_id}",
        response_model=schemas.ConfigDocument,
        dependencies=[Reader],
        responses={**errors, 404: {"model": schemas.Problem}},
        tags=["devices"],
    )
    async def get_device(device_id: str, response: Response) -> dict[str, Any]:
        """One device's entry as written (secrets as "***"); the ETag is the whole config's."""
        device = store.public_device(device_id)
        if device is None:
            raise ApiError(404, f"no device {device_id!r} in the config")
        response.headers["ETag"] = store.etag
        return device

    @app.put(
        "/api/v1/devices/{device_id}",
        response_model=schemas.Applied,
        responses=change_errors,
        tags=["devices"],
    )
    async def put_device(
        device_id: str,
        request: Request,
        response: Response,
        who: Writer,
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
        applied = await apply(lambda: store.with_device(device_id, device), if_match, response)
        log.info("API: device %s written by token %s", device_id, who)
        return applied

    @app.delete(
        "/api/v1/devices/{device_id}",
        response_model=schemas.Applied,
        responses={**change_errors, 404: {"model": schemas.Problem}},
        tags=["devices"],
    )
    async def delete_device(
        device_id: str,
        response: Response,
        who: Writer,
        if_match: Annotated[str | None, Header()] = None,
    ) -> schemas.Applied:
        """Remove a device: it stops polling and its state becomes offline."""
        if store.public_device(device_id) is None:
            raise ApiError(404, f"no device {device_id!r} in the config")
        applied = await apply(lambda: store.without_device(device_id), if_match, response)
        log.info("API: device %s deleted by token %s", device_id, who)
        return applied

    @app.post(
        "/api/v1/devices/{device_id}/test",
        response_model=schemas.DeviceTestOut,
        responses={**change_errors, 404: {"model": schemas.Problem}},
        tags=["devices"],
    )
    async def probe(device_id: str, request: Request, _who: Writer) -> schemas.DeviceTestOut:
        """Read every signal of a device once and show each value or error, without touching
        the running pipeline. With a body (a device entry), test that entry instead of the
        configured one: validated as PUT would, nothing written."""
        body = await _optional_json(request)
        if body is None:
            device = store.config.device(device_id)
            if device is None:
                raise ApiError(404, f"no device {device_id!r} in the config")
        else:
            if not isinstance(body, dict) or body.get("id", device_id) != device_id:
                raise ApiError(400, "expected a JSON object: this device's entry")
            try:
                candidate = await asyncio.to_thread(
                    store.prepare, store.with_device(device_id, body)
                )
            except ConfigError as exc:
                raise _invalid(exc) from None
            device = candidate.config.device(device_id)
            assert device is not None
        return await probe_device(gateway, device)

    @app.get(
        "/api/v1/devices/{device_id}/browse",
        response_model=list[schemas.BrowseItemOut],
        dependencies=[Reader],
        responses={**errors, 404: {"model": schemas.Problem}, 502: {"model": schemas.Problem}},
        tags=["devices"],
    )
    async def browse_device(
        device_id: str,
        node: Annotated[str, Query(max_length=500)] = "i=85",
        depth: Annotated[int, Query(ge=1, le=5)] = 2,
    ) -> list[schemas.BrowseItemOut]:
        """The objects and variables of an OPC UA device below `node` (default: Objects), with
        node ids ready for the config, data types and current values."""
        device = store.config.device(device_id)
        if device is None:
            raise ApiError(404, f"no device {device_id!r} in the config")
        if not can_browse(gateway, device):
            raise ApiError(
                400, f"device {device_id!r} speaks {device.protocol}: only OPC UA browses"
            )
        found = await browse_on_device(gateway, device, node, depth)
        return [schemas.BrowseItemOut.model_validate(item, from_attributes=True) for item in found]

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


_BODIES = {
    ("/api/v1/config", "put"): "Config",
    ("/api/v1/config/validate", "post"): "Config",
    ("/api/v1/devices/{device_id}", "put"): "Device",
    ("/api/v1/devices/{device_id}/test", "post"): "Device",
}
"""Request bodies we parse and validate ourselves (to answer with `gerbang check`'s messages),
described in the OpenAPI document by the config models' JSON schema."""


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the config's JSON schema for the bodies of config changes."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    config_schema = Config.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas_ = document.setdefault("components", {}).setdefault("schemas", {})
    schemas_.update(config_schema.pop("$defs", {}))
    schemas_["Device"] = config_schema["properties"]["devices"]["items"]
    schemas_["Config"] = config_schema
    for (path, method), name in _BODIES.items():
        body = document["paths"][path][method].setdefault("requestBody", {})
        body["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
        body["required"] = method != "post" or name == "Config"
    app.openapi_schema = document
    return document


async def _optional_json(request: Request) -> Any:
    """The JSON body, or None when the request has none."""
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in (
        request.headers
    ):
        return None
    return await read_json(request)
