"""
Errors an API operation may raise, each carrying its HTTP status.

One renderer (``region.api.resource``) turns them into responses, with the
bodies and content types of MAAS 1.8: plain text for most, a JSON object of
field → messages for form errors.  Anything else that escapes a handler is a
bug and becomes a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence


class APIError(Exception):
    """An error with an HTTP status and a body a person can read."""

    status = 500
    #: Extra response headers, e.g. ``Retry-After``.
    headers: Mapping[str, str] = {}

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def render(self) -> tuple[bytes, str]:
        """Return the body and its content type."""
        return self.message.encode("utf-8"), "text/plain; charset=utf-8"


class BadRequest(APIError):
    status = 400


class Unauthorized(APIError):
    status = 401
    headers = {"WWW-Authenticate": 'OAuth realm="MAAS API"'}


class Forbidden(APIError):
    status = 403


class NotFound(APIError):
    status = 404

    def __init__(self, message: str = "Not Found") -> None:
        super().__init__(message)


class MethodNotAllowed(APIError):
    status = 405

    def __init__(self, allowed: Sequence[str]) -> None:
        super().__init__(f"Method not allowed; use {', '.join(allowed)}.")
        self.headers = {"Allow": ", ".join(allowed)}


class Conflict(APIError):
    status = 409


class PayloadTooLarge(APIError):
    status = 413


class ServiceUnavailable(APIError):
    """Something the request needs is not available now; try again later."""

    status = 503

    def __init__(self, message: str, retry_after: int | None = 10) -> None:
        super().__init__(message)
        self.headers = {} if retry_after is None else {"Retry-After": str(retry_after)}


class ValidationError(BadRequest):
    """
    Invalid input.

    Given a mapping of field name to messages, the body is that mapping as
    JSON (MAAS's form errors); given a single message, plain text.
    """

    def __init__(self, errors: Mapping[str, Sequence[str]] | str) -> None:
        if isinstance(errors, str):
            super().__init__(errors)
            self.errors: dict[str, list[str]] = {}
        else:
            self.errors = {field: list(messages) for field, messages in errors.items()}
            super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in self.errors.items()))

    @classmethod
    def field(cls, name: str, message: str) -> ValidationError:
        return cls({name: [message]})

    def render(self) -> tuple[bytes, str]:
        if not self.errors:
            return super().render()
        body = json.dumps(self.errors, ensure_ascii=False).encode("utf-8")
        return body, "application/json; charset=utf-8"
