"""
What an operation may return, and how each becomes an HTTP response.

A handler returns plain data (rendered as JSON, status 200), ``None``
(JSON ``null``), :data:`DELETED` (204, empty) or a :class:`Response` it
built itself (raw bytes, a status, a content type).  :class:`RawJSON`
carries JSON that PostgreSQL has already rendered.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


@attrs.frozen
class Response:
    body: bytes
    status: int = 200
    content_type: str = TEXT_TYPE
    headers: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(text.encode("utf-8"), status, TEXT_TYPE)

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Response:
        return cls(dump_json(value), status, JSON_TYPE)


class RawJSON(bytes):
    """A JSON document rendered elsewhere (e.g. by PostgreSQL), sent as is."""


DELETED = Response(b"", 204, TEXT_TYPE)
OK = Response.text("OK")


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        raise TypeError("bytes are not JSON; base64-encode them first")
    if hasattr(value, "to_json"):
        return value.to_json()
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=_default).encode("utf-8")


def to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, RawJSON):
        return Response(bytes(result), 200, JSON_TYPE)
    return Response(dump_json(result), 200, JSON_TYPE)
