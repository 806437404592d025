"""Request bodies, read by us: capped at MAX_BODY bytes (413), JSON or YAML, 400 when neither.

We read bodies ourselves (not as FastAPI models) so that a config is validated by the config
loader, the same as `gerbang check`, and a 422 lists every error in its words.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from gateway.api import schemas
from gateway.api.errors import ApiError
from gateway.config.source import YamlProblem, parse_yaml
from gateway.offloop import bulk

MAX_BODY = 1_000_000
"""Largest request body accepted, bytes: a config with hundreds of devices fits easily."""


async def read_json(request: Request) -> Any:
    """The request body as JSON (or YAML with a YAML content type), at most MAX_BODY bytes."""
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
    # Parsed in a thread: a large body would stall every device poll and sink meanwhile.
    parse = _yaml if "yaml" in request.headers.get("content-type", "") else _json
    data = bytes(body)
    return await bulk(lambda: parse(data))


async def optional_json(request: Request) -> Any:
    """The JSON body, or None when the request has none."""
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in (
        request.headers
    ):
        return None
    return await read_json(request)


def _yaml(body: bytes) -> Any:
    try:
        return parse_yaml(body.decode("utf-8", "replace"), None).data
    except YamlProblem as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ApiError(
            422,
            "the config is not valid YAML; nothing was changed",
            errors=[schemas.Issue(path="", message=f"{where}{exc.message}")],
        ) from None


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
