"""The API's one exception, and how domain errors become it.

`ApiError` is answered as `{"detail": ...}` (and `errors` for 422) with `status`; the handlers
in `gateway.api.handlers` also map the config-change service's errors (`ConfigError` 422,
`ConfigConflict` 409, `ChangeFailed` 500) through the functions here.
"""

from __future__ import annotations

from gateway.api import schemas
from gateway.config.issues import ConfigError


class ApiError(Exception):
    """An error answered as `{"detail": ...}` with `status`."""

    def __init__(
        self,
        status: int,
        detail: str,
        headers: dict[str, str] | None = None,
        errors: list[schemas.Issue] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.errors = errors


def invalid(exc: ConfigError) -> ApiError:
    """422 listing every problem of an invalid config."""
    errors = [schemas.Issue(path=i.path, message=i.message) for i in exc.issues]
    count = len(errors)
    return ApiError(
        422,
        f"the config is invalid ({count} error{'s' if count != 1 else ''}); nothing was changed",
        errors=errors,
    )
