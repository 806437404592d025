"""The API's routers, one per concern; `gateway.api.app.create_app` includes each in turn.

`health` (/healthz, /readyz), `status` (status, values, metrics, events, trends), `config`
(the whole config), `devices` (one device's entry, test reads, OPC UA browse), `web` (the page
and its files), `oee` (OEE figures, timeline, stops). A new concern (writes, alarms) is a new
module with a `router` here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.routing import APIRoute

from gateway.api.routes import alarms, config, devices, health, oee, status, web, writes

ROUTERS = (
    health.router,
    status.router,
    config.router,
    devices.router,
    writes.router,
    alarms.router,
    oee.router,
    web.router,
)
"""In the order /docs lists them."""

MethodTable = list[tuple[re.Pattern[str], frozenset[str]]]
"""Each route's path pattern and the methods it takes."""


def method_table(routers: Iterable[APIRouter]) -> MethodTable:
    """The path patterns and methods of every route of `routers` (included without prefix)."""
    return [
        (route.path_regex, frozenset(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]


def allowed_methods(table: MethodTable, path: str) -> set[str]:
    """Every method some route takes at `path` (empty when no route has that path)."""
    methods: set[str] = set()
    for pattern, taken in table:
        if pattern.match(path):
            methods |= taken
    return methods
