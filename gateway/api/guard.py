"""What every answer of the API is guarded by: the Host header check and security headers.

DNS rebinding: a web page on the internet can make a technician's browser resolve its own name
to the edge box's address and then read every endpoint that needs no token (status, values,
config) as same-origin. The browser still sends the attacker's name as `Host`, so a request is
answered only when its Host is an IP literal, `localhost`, or a name in `api.allowed_hosts`
(read live, so a config change applies at once); otherwise 400 with a JSON reason.

Every answer also carries `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and a
Content-Security-Policy that lets the bundled page load only its own files (the OpenAPI UI at
/docs needs its one inline script and styles; nothing else does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config.store import ConfigStore

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""The web page and every API answer: its own files only."""
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
"""/docs: Swagger UI starts from one inline script and sets inline styles."""


def host_allowed(host: str | None, names: Iterable[str]) -> bool:
    """Whether a Host header value (`name`, `name:port`, `[v6]:port`) may be answered."""
    if host is None:
        return True  # HTTP/1.0 without Host: not a browser
    host = host.strip().lower()
    if host.startswith("["):
        literal, bracket, _rest = host[1:].partition("]")
        return bool(bracket) and _is_ip(literal)
    name, colon, port = host.rpartition(":")
    if not colon or not port.isdigit():
        name = host
    name = name.rstrip(".")
    if not name:
        return False
    return _is_ip(name) or name == "localhost" or name in {n.lower().rstrip(".") for n in names}


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class Guard:
    """ASGI middleware: refuse foreign Host headers, add the security headers."""

    def __init__(self, app: ASGIApp, store: ConfigStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope["path"].startswith("/docs") else PAGE_CSP).encode()
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", csp),
        ]

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        host = _header(scope, b"host")
        if not host_allowed(host, self.store.config.api.allowed_hosts):
            await _refuse(guarded_send, host or "")
            return
        await self.app(scope, receive, guarded_send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _refuse(send: Send, host: str) -> None:
    detail = (
        f"Host {host[:100]!r} is not this gateway's: use its IP address or localhost, or add "
        "the name to api.allowed_hosts"
    )
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
