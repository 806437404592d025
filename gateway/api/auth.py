"""Bearer tokens: how they are made, stored (sha256 hex in `api.tokens`) and checked.

A token is 32 random bytes, URL-safe base64 (43 characters). The config stores only its sha256,
so a leaked config file does not leak a token. Checking compares the request's digest with every
configured digest in constant time (`hmac.compare_digest`), without stopping at the first match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable

from gateway.config.models import ApiToken

TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """The sha256 hex digest stored in the config for `token`."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_name(authorization: str | None, tokens: Iterable[ApiToken]) -> str | None:
    """The name of the configured token that `authorization` (`Bearer <token>`) carries, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    wanted = digest(token).encode("ascii")
    found = None
    for entry in tokens:
        if hmac.compare_digest(wanted, entry.sha256.lower().encode("ascii")):
            found = entry.name
    return found


def yaml_line(token: str, name: str) -> str:
    """The `api.tokens` entry for `token`, as a YAML list item."""
    return f'- {{name: {json.dumps(name)}, sha256: "{digest(token)}"}}'
