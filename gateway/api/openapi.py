"""The OpenAPI document (/openapi.json, /docs): FastAPI's, plus what it cannot see.

Config bodies are read and validated by us (`gateway.api.body`), so FastAPI does not know them:
their schema is the config models' JSON schema, added here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.config.models import Config

BODIES = {
    ("/api/v1/config", "put"): "Config",
    ("/api/v1/config/validate", "post"): "Config",
    ("/api/v1/devices/{device_id}", "put"): "Device",
    ("/api/v1/devices/{device_id}/test", "post"): "Device",
}
"""Request bodies we parse and validate ourselves (to answer with `gerbang check`'s messages),
described in the OpenAPI document by the config models' JSON schema."""


def document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the config's JSON schema for the bodies of config changes."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    config_schema = Config.model_json_schema(ref_template="#/components/schemas/{model}")
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.update(config_schema.pop("$defs", {}))
    components["Device"] = config_schema["properties"]["devices"]["items"]
    components["Config"] = config_schema
    for (path, method), name in BODIES.items():
        body = doc["paths"][path][method].setdefault("requestBody", {})
        body["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
        body["required"] = method != "post" or name == "Config"
    _problems_are_sentences(doc)
    app.openapi_schema = doc
    return doc


def _problems_are_sentences(doc: dict[str, Any]) -> None:
    """FastAPI documents its 422 as `{"detail": [ValidationError...]}`; ours (handlers.py)
    answers `{"detail": "a sentence"}` like every other error."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for operations in doc["paths"].values():
        for operation in operations.values():
            for status, error in operation.get("responses", {}).items():
                # A route answering text (/metrics) still answers its errors as JSON.
                content = error.get("content", {})
                if int(status) >= 400 and "text/plain" in content:
                    content["application/json"] = content.pop("text/plain")
            answer = operation.get("responses", {}).get("422")
            if answer is None:
                continue
            content = answer.setdefault("content", {}).setdefault("application/json", {})
            if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                content["schema"] = problem
                answer["description"] = "A parameter is invalid: `detail` says which and why"
    components = doc["components"]["schemas"]
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def install_openapi(app: FastAPI) -> None:
    """Serve `document(app)` as the app's OpenAPI document."""
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
