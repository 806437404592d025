"""The HTTP API (SPEC "HTTP API"): health, status, values, config and metrics over FastAPI.

It runs inside the gateway's own process and event loop (`server.serve_api`, the runner's API
hook), so it reads the live status objects directly and applies config changes through
`Gateway.reconcile` without a restart. Modules: `schemas` (response models, which /docs shows),
`auth` (bearer tokens), `access` (the token dependencies), `metrics` (Prometheus collector),
`routes` (one router per concern), `app` (assembles them), `server` (uvicorn). Config changes
are `gateway.changes`, which knows nothing of HTTP.
"""
