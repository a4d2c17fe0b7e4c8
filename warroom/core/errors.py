"""Domain errors. The API turns each into a 4xx with a message naming the field."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class ValidationFailed(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401


class TooManyRequests(DomainError):
    """429; `retry_after` seconds go into the Retry-After header and the body."""

    status_code = 429

    def __init__(self, message: str, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field, retry_after=retry_after)
        self.retry_after = retry_after


def require_choice(value: object, allowed: tuple[str, ...] | list[str], field: str) -> None:
    """422 naming the field and the allowed values unless `value` is one of them."""
    if value not in allowed:
        raise ValidationFailed(
            f"{field} must be one of {', '.join(allowed)}", field=field, allowed=list(allowed)
        )
