"""
Request parameters as MAAS 1.8 reads them.

GET parameters come from the query string.  POST and PUT bodies may be
``multipart/form-data`` (the MAAS client), ``application/x-www-form-urlencoded``
(gomaasapi) or ``application/json``; their parameters are merged after the
query string's, so ``op`` may sit in either place.  A list is a repeated key.
A multipart part with a filename is a file; so is a part whose bytes are not
UTF-8 text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

import attrs

from region.api.errors import BadRequest


@attrs.frozen
class UploadedFile:
    """One file part of a multipart body."""

    name: str
    filename: str | None
    content: bytes
    content_type: str = "application/octet-stream"


class Params:
    """
    A read-only multi-valued mapping of parameter name to text values, plus files.

    Text may not contain NUL characters (PostgreSQL's text cannot hold them, and
    no MAAS parameter needs them): such a request is refused here, at the edge,
    with a 400.  Binary content travels as files.
    """

    def __init__(
        self, items: Iterable[tuple[str, str]] = (), files: Iterable[UploadedFile] = ()
    ) -> None:
        self._items = list(items)
        self._files = list(files)
        for key, value in self._items:
            if "\x00" in key or "\x00" in value:
                raise BadRequest(f"Parameter {key!r} contains a NUL character; send binary "
                                 "data as a file part or base64 text.")

    def get(self, name: str, default: str | None = None) -> str | None:
        """The last value given for name (as Django's QueryDict does), or default."""
        for key, value in reversed(self._items):
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._items if key == name]

    def files(self, name: str) -> list[UploadedFile]:
        return [upload for upload in self._files if upload.name == name]

    @property
    def all_files(self) -> list[UploadedFile]:
        return list(self._files)

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._items) or any(
            upload.name == name for upload in self._files
        )

    def names(self) -> list[str]:
        seen = dict.fromkeys(key for key, _ in self._items)
        seen.update(dict.fromkeys(upload.name for upload in self._files))
        return list(seen)

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def merged(self, other: Params) -> Params:
        return Params(self._items + other._items, self._files + other._files)

    def __repr__(self) -> str:
        return f"Params({self._items!r}, files={[f.name for f in self._files]!r})"


def parse_query(query: bytes) -> Params:
    """Parse a query string (or an urlencoded body)."""
    try:
        text = query.decode("utf-8")
        return Params(parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                                encoding="utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest(f"Malformed parameters: {error}") from error


def _json_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value)


def parse_json_body(body: bytes) -> Params:
    try:
        document = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest(f"Malformed JSON body: {error}") from error
    if not isinstance(document, dict):
        raise BadRequest("A JSON body must be an object of parameter names to values.")
    items: list[tuple[str, str]] = []
    for name, value in document.items():
        if isinstance(value, list):
            items.extend((name, _json_text(element)) for element in value)
        else:
            items.append((name, _json_text(value)))
    return Params(items)


def parse_multipart(content_type: str, body: bytes) -> Params:
    """Parse a multipart/form-data body; text parts become values, the rest files."""
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise BadRequest("Malformed multipart body: no parts found (check the boundary).")
    items: list[tuple[str, str]] = []
    files: list[UploadedFile] = []
    parts = message.get_payload()
    assert isinstance(parts, list)
    for part in parts:
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_param("filename", header="content-disposition")
        if isinstance(filename, str):
            files.append(UploadedFile(name, filename, content, part.get_content_type()))
            continue
        try:
            items.append((name, content.decode("utf-8")))
        except UnicodeDecodeError:
            files.append(UploadedFile(name, None, content, part.get_content_type()))
    return Params(items, files)


def parse_body(content_type: str | None, body: bytes) -> Params:
    """Parse a POST or PUT body according to its content type."""
    if not body:
        return Params()
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        return parse_multipart(content_type or "", body)
    if media_type == "application/json":
        return parse_json_body(body)
    if media_type in ("application/x-www-form-urlencoded", ""):
        return parse_query(body)
    raise BadRequest(
        f"Unsupported content type {media_type!r}: send multipart/form-data, "
        "application/x-www-form-urlencoded or application/json."
    )
