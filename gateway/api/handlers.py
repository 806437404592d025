"""Every error as JSON `{"detail": ...}`: the app's exception handlers.

A malformed request gets a 4xx with a reason, never a 500; a bug is logged (with the route,
never the body, which may hold secrets) and answered 500 with a pointer to the log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api.errors import ApiError, invalid
from gateway.api.routes import allowed_methods
from gateway.changes import ChangeFailed
from gateway.config.issues import ConfigError
from gateway.config.store import ConfigConflict

log = logging.getLogger(__name__)


def _answer(exc: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"detail": exc.detail}
    if exc.errors is not None:
        body["errors"] = [e.model_dump() for e in exc.errors]
    return JSONResponse(body, exc.status, headers=exc.headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _answer(exc)


async def _config_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConfigError)
    return _answer(invalid(exc))


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    return _answer(ApiError(409, str(exc)))


async def _change_failed(_request: Request, exc: Exception) -> JSONResponse:
    return _answer(ApiError(500, str(exc)))


async def _bad_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in exc.errors()
    ]
    return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, 422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names only the first matching route's methods (GET, where another route
        # takes PUT and DELETE at the same path): name every route's.
        methods = allowed_methods(request.app.state.methods, request.url.path)
        if methods:
            headers = {**(headers or {}), "Allow": ", ".join(sorted(methods))}
    return JSONResponse({"detail": str(exc.detail)}, exc.status_code, headers=headers)


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "API: %s %s failed: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return JSONResponse({"detail": "internal error; the gateway log says more"}, 500)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as JSON."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(ConfigConflict, _conflict)
    app.add_exception_handler(ChangeFailed, _change_failed)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _bug)
