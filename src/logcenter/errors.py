"""One error hierarchy: services raise these, the edges turn them into JSON (API) or HTML (UI)."""

from __future__ import annotations

from typing import Any


class LogCenterError(Exception):
    status_code = 400

    def __init__(
        self, message: str, *, status_code: int | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"detail": self.message}


class ValidationFailed(LogCenterError):
    """Input that does not fit the contract; names every offending field."""

    status_code = 422

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        if len(errors) > 5:
            summary += f"; and {len(errors) - 5} more"
        super().__init__(f"Invalid request: {summary}")

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, "errors": self.errors}


class BadRequest(LogCenterError):
    status_code = 400


class Unauthorized(LogCenterError):
    status_code = 401

    def __init__(self, message: str = "Missing or invalid credentials"):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(LogCenterError):
    status_code = 403


class NotFound(LogCenterError):
    status_code = 404


class Conflict(LogCenterError):
    status_code = 409


class PayloadTooLarge(LogCenterError):
    status_code = 413


class RateLimited(LogCenterError):
    status_code = 429


class Unavailable(LogCenterError):
    status_code = 503
