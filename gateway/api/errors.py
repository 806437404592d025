"""The API's one exception: answered as `{"detail": ...}` (and `errors` for 422) with `status`."""

from __future__ import annotations

from gateway.api import schemas


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
