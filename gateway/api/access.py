"""Who may do what: the FastAPI dependencies that check `Authorization: Bearer <token>`.

Every change needs a token listed (as its sha256) in `api.tokens`; reads need one too when
`api.read_requires_token` is true (read live from the store, so a change applies at once).
A refusal is 401 with a JSON reason and a `WWW-Authenticate` header, and changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from gateway.api.auth import token_name
from gateway.api.deps import StoreDep
from gateway.api.errors import ApiError


def unauthorized(detail: str) -> ApiError:
    """401 with `detail`, asking for a bearer token."""
    return ApiError(401, detail, {"WWW-Authenticate": 'Bearer realm="gerbang"'})


def can_change(store: StoreDep, authorization: Annotated[str | None, Header()] = None) -> str:
    """The name of the caller's token; 401 unless it is one of `api.tokens`."""
    tokens = store.config.api.tokens
    if not tokens:
        raise unauthorized(
            "no API tokens are configured: make one with `gerbang token new` and add its "
            "line under api.tokens"
        )
    if not authorization:
        raise unauthorized("this needs a token: send the header Authorization: Bearer TOKEN")
    name = token_name(authorization, tokens)
    if name is None:
        raise unauthorized("the token was not accepted (not one of api.tokens)")
    return name


def can_read(store: StoreDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Nothing when reads are open; else as `can_change`."""
    if store.config.api.read_requires_token:
        can_change(store, authorization)


Reader = Depends(can_read)
"""For `dependencies=[Reader]` on every read route."""
Writer = Annotated[str, Depends(can_change)]
"""A route parameter: the token name of whoever makes the change."""
