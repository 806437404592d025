"""The HTTP API of one running gateway (SPEC "HTTP API"): `create_app` assembles it.

Everything the app needs is passed to `create_app` (the gateway, the injected `ConfigStore`)
and kept in `app.state` for the routes' dependencies (`gateway.api.deps`); nothing is global,
so tests run several gateways in one process.

Where things are:
- `routes/*`: one router per concern (health, status, config, devices, web page);
- `access`: the bearer-token dependencies (every change; reads when `api.read_requires_token`);
- `body`: request bodies, capped, JSON or YAML; `handlers`: every error as JSON `{"detail"}`;
- `gateway.changes`: config changes (validate, write atomically, reconcile, roll back), one at
  a time, free of HTTP;
- `openapi`: the document /docs shows; `guard`: the Host check and security headers.

A request can never stop the pipeline, and bodies (which may hold secrets) are never logged.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from gateway.api.guard import Guard
from gateway.api.handlers import install_error_handlers
from gateway.api.live import Live
from gateway.api.metrics import registry_for
from gateway.api.openapi import install_openapi
from gateway.api.rendered import RenderedConfig
from gateway.api.routes import ROUTERS, method_table
from gateway.api.routes.web import static_files
from gateway.changes import ConfigChanges
from gateway.config.store import ConfigStore
from gateway.service import Gateway


def create_app(gateway: Gateway, store: ConfigStore) -> FastAPI:
    """The FastAPI app of one gateway."""
    # Swagger UI served from the package, not a CDN: factory networks are often offline.
    app = FastAPIOffline(
        redoc_url=None,
        title="Gerbang",
        version=gateway.version,
        description="Health, status, values and configuration of one Gerbang gateway.",
    )
    app.state.gateway = gateway
    app.state.store = store
    app.state.changes = ConfigChanges(gateway, store)
    app.state.live = Live(gateway)
    app.state.rendered = RenderedConfig(store)
    app.state.registry = registry_for(gateway)
    app.state.methods = method_table(ROUTERS)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/ui", static_files(), name="ui")
    install_openapi(app)
    app.add_middleware(Guard, store=store)
    return app
