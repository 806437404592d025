"""The API's routers, one per concern; `gateway.api.app.create_app` includes each in turn.

`health` (/healthz, /readyz), `status` (status, values, metrics, events, trends), `config`
(the whole config), `devices` (one device's entry, test reads, OPC UA browse), `web` (the page
and its files). A new concern (writes, OEE, alarms) is a new module with a `router` here.
"""

from gateway.api.routes import config, devices, health, status, web

ROUTERS = (health.router, status.router, config.router, devices.router, web.router)
"""In the order /docs lists them."""
