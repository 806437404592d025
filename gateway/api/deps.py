"""What the routes share, injected from `app.state` (set once by `create_app`), never global.

Each route declares what it needs as a parameter (`gateway: GatewayDep`), so a route module
imports no app and tests can run several gateways in one process.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.api.live import Live
from gateway.api.rendered import RenderedConfig
from gateway.changes import ConfigChanges
from gateway.config.store import ConfigStore
from gateway.service import Gateway


def get_gateway(request: Request) -> Gateway:
    """The running gateway."""
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_store(request: Request) -> ConfigStore:
    """The config store the gateway runs from."""
    store: ConfigStore = request.app.state.store
    return store


def get_changes(request: Request) -> ConfigChanges:
    """The config-change service (one lock for every change)."""
    changes: ConfigChanges = request.app.state.changes
    return changes


def get_live(request: Request) -> Live:
    """The event streams and trends of the web page."""
    live: Live = request.app.state.live
    return live


def get_rendered(request: Request) -> RenderedConfig:
    """The running config as shown (secrets masked), cached per store revision."""
    rendered: RenderedConfig = request.app.state.rendered
    return rendered


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
StoreDep = Annotated[ConfigStore, Depends(get_store)]
ChangesDep = Annotated[ConfigChanges, Depends(get_changes)]
LiveDep = Annotated[Live, Depends(get_live)]
RenderedDep = Annotated[RenderedConfig, Depends(get_rendered)]
