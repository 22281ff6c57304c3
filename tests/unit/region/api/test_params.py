"""Parsing of query strings and POST/PUT bodies as MAAS 1.8 clients send them."""

from __future__ import annotations

import json

import pytest

from region.api.errors import BadRequest
from region.api.params import Params, parse_body, parse_query

BOUNDARY = "xXxBoundaryxXx"


def multipart(*parts: tuple[str, bytes, str | None]) -> tuple[str, bytes]:
    chunks = []
    for name, content, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
        )
    body = b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()
    return f"multipart/form-data; boundary={BOUNDARY}", body


def test_query_string_repeated_keys_are_lists() -> None:
    """A list parameter is the key repeated."""
    params = parse_query(b"op=list&id=a&id=b&hostname=")
    assert params.get("op") == "list"
    assert params.getlist("id") == ["a", "b"]
    assert params.get("hostname") == ""


def test_get_returns_the_last_value() -> None:
    """Like Django's QueryDict, get() gives the last of several values."""
    assert parse_query(b"x=1&x=2").get("x") == "2"


def test_percent_encoded_utf8_is_decoded() -> None:
    assert parse_query(b"name=caf%C3%A9").get("name") == "café"


def test_invalid_utf8_in_query_is_a_400() -> None:
    with pytest.raises(BadRequest):
        parse_query(b"name=%FF%FE")


def test_urlencoded_body() -> None:
    """gomaasapi sends POST parameters urlencoded."""
    params = parse_body("application/x-www-form-urlencoded", b"name=rack&mac=a&mac=b")
    assert params.get("name") == "rack"
    assert params.getlist("mac") == ["a", "b"]


def test_multipart_text_and_file_parts() -> None:
    """Text parts become values; parts with a filename become files, bytes intact."""
    content_type, body = multipart(
        ("name", b"script", None),
        ("tags", b"one", None),
        ("tags", b"two", None),
        ("content", b"\x00\xffbinary", "blob.bin"),
    )
    params = parse_body(content_type, body)
    assert params.get("name") == "script"
    assert params.getlist("tags") == ["one", "two"]
    [upload] = params.files("content")
    assert upload.content == b"\x00\xffbinary"
    assert upload.filename == "blob.bin"
    assert "content" in params
    assert params.get("content") is None


def test_multipart_non_utf8_text_part_is_a_file() -> None:
    """A part without filename whose bytes are not UTF-8 is kept as bytes, not mangled."""
    content_type, body = multipart(("content", b"\xff\xfe\x00", None))
    params = parse_body(content_type, body)
    assert params.files("content")[0].content == b"\xff\xfe\x00"


def test_multipart_without_boundary_is_a_400() -> None:
    with pytest.raises(BadRequest):
        parse_body("multipart/form-data", b"--x\r\n\r\n")


def test_json_body_lists_and_scalars() -> None:
    """A JSON object body: lists become repeated values, scalars text."""
    params = parse_body("application/json", json.dumps(
        {"name": "n", "macs": ["a", "b"], "count": 3, "flag": True, "none": None}).encode())
    assert params.getlist("macs") == ["a", "b"]
    assert params.get("count") == "3"
    assert params.get("flag") == "true"
    assert params.get("none") == ""


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b"\xff"])
def test_bad_json_body_is_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_body("application/json; charset=utf-8", body)


def test_unsupported_content_type_is_a_400() -> None:
    with pytest.raises(BadRequest) as raised:
        parse_body("text/xml", b"<a/>")
    assert "multipart/form-data" in raised.value.message


def test_empty_body_has_no_parameters() -> None:
    assert parse_body("multipart/form-data; boundary=x", b"").names() == []


def test_merged_keeps_both_sources_in_order() -> None:
    """op may be in the query string while the rest is in the body (gomaasapi)."""
    merged = parse_query(b"op=new").merged(Params([("name", "x")]))
    assert merged.get("op") == "new"
    assert merged.get("name") == "x"
    assert merged.names() == ["op", "name"]


def test_nul_characters_in_text_are_refused() -> None:
    """Text with NUL cannot reach PostgreSQL: 400 at the edge, never a 500."""
    with pytest.raises(BadRequest):
        parse_query(b"name=a%00b")
    with pytest.raises(BadRequest):
        parse_body("application/json", b'{"name": "a\\u0000b"}')
