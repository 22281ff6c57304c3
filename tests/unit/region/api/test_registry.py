"""The operation registry: declarations, routing, parameter parsing, describe."""

from __future__ import annotations

from typing import Any

import pytest

from region.api.errors import ValidationError
from region.api.params import Params, UploadedFile
from region.api.registry import (
    ADMIN,
    ANONYMOUS,
    BOOL,
    BOOL01,
    FILE,
    INT,
    JSON,
    Handler,
    Param,
    Registry,
)


def make_handlers() -> tuple[Handler, Handler]:
    things = Handler("ThingsHandler", "things/", "Many things.")
    thing = Handler("ThingHandler", "things/{name}/", "One thing.")

    @things.operation("GET", "list", auth=ANONYMOUS)
    async def list_things(ctx: Any) -> list[str]:
        """List things."""
        return []

    @things.operation("POST", params=[Param("name", required=True), Param("count", INT)])
    async def create(ctx: Any, name: str, count: int | None) -> None:
        """Create a thing."""

    @thing.operation("PUT", auth=ADMIN, params=[Param("name", dest="new_name")])
    async def update(ctx: Any, name: str, new_name: str | None) -> None:
        """Rename a thing."""

    return things, thing


def test_match_finds_handler_and_decodes_path_arguments() -> None:
    """Templates match whole paths and capture their parameters."""
    registry = Registry(make_handlers())
    handler, args = registry.match("things/box/")
    assert handler.name == "ThingHandler"
    assert args == {"name": "box"}
    assert registry.match("things/box/extra/") is None
    assert registry.match("things/box") is None
    assert registry.match("things/")[0].name == "ThingsHandler"


def test_lookup_by_method_and_op() -> None:
    things, _ = make_handlers()
    assert things.lookup("GET", "list").name == "list"
    assert things.lookup("POST", None).name == "create"
    assert things.lookup("GET", None) is None
    assert things.allowed_methods == ["GET", "POST"]


def test_declaring_the_same_operation_twice_fails() -> None:
    handler = Handler("H", "h/", "")

    @handler.operation("GET")
    async def read(ctx: Any) -> None:
        """Read."""

    with pytest.raises(ValueError):
        @handler.operation("GET")
        async def read_again(ctx: Any) -> None:
            """Read again."""


def test_signature_must_match_declared_parameters() -> None:
    """A typo between a Param and the function's keywords fails at import time."""
    handler = Handler("H", "h/{id}/", "")
    with pytest.raises(TypeError):
        @handler.operation("POST", params=[Param("name")])
        async def create(ctx: Any, id: str, nmae: str) -> None:
            """Misspelt."""


def test_unknown_auth_level_is_refused() -> None:
    with pytest.raises(ValueError):
        Handler("H", "h/", "").operation("GET", auth="root")


def test_parse_collects_every_error() -> None:
    """All bad parameters are reported at once, as a form would."""
    things, _ = make_handlers()
    with pytest.raises(ValidationError) as raised:
        things.lookup("POST", None).parse(Params([("count", "many")]))
    assert raised.value.errors == {
        "name": ["This field is required."],
        "count": ["Enter a whole number."],
    }


def test_parse_converts_and_renames() -> None:
    _, thing = make_handlers()
    assert thing.lookup("PUT", None).parse(Params([("name", "new")])) == {"new_name": "new"}


@pytest.mark.parametrize(("text", "expected"), [
    ("1", True), ("true", True), ("yes", True), ("0", False), ("false", False),
    ("FALSE", False), ("", False),
])
def test_bool_follows_django(text: str, expected: bool) -> None:
    assert Param("b", BOOL).extract(Params([("b", text)])) is expected


@pytest.mark.parametrize(("text", "expected"), [("0", False), ("1", True)])
def test_bool01_accepts_only_0_and_1(text: str, expected: bool) -> None:
    assert Param("b", BOOL01).extract(Params([("b", text)])) is expected


def test_bool01_refuses_anything_else() -> None:
    with pytest.raises(ValidationError) as raised:
        Param("is_superuser", BOOL01).extract(Params([("is_superuser", "true")]))
    assert raised.value.errors == {"is_superuser": ["Not a valid Boolean value (0 or 1)"]}


def test_json_param_parses_or_reports() -> None:
    assert Param("p", JSON).extract(Params([("p", '{"a": 1}')])) == {"a": 1}
    with pytest.raises(ValidationError):
        Param("p", JSON).extract(Params([("p", "{")]))


def test_multiple_param_returns_every_value() -> None:
    param = Param("mac", multiple=True)
    assert param.extract(Params([("mac", "a"), ("mac", "b")])) == ["a", "b"]
    assert param.extract(Params()) == []


def test_file_param_takes_file_parts_or_text() -> None:
    """Binary content may come as a file part or as a plain text part."""
    upload = UploadedFile("content", "x.sh", b"\x00\x01")
    assert Param("content", FILE).extract(Params(files=[upload])) == b"\x00\x01"
    assert Param("content", FILE).extract(Params([("content", "#!/bin/sh")])) == b"#!/bin/sh"
    with pytest.raises(ValidationError):
        Param("content", FILE, required=True).extract(Params())


def test_describe_lists_handlers_and_actions() -> None:
    """describe/ has MAAS 1.8's shape: resources with anon/auth handler descriptions."""
    registry = Registry(make_handlers())
    document = registry.describe("http://example.com/MAAS/api/1.0/")
    assert document["doc"] == "MAAS API"
    assert document["hash"] == registry.hash
    things = next(r for r in document["resources"] if r["name"] == "ThingsHandler")
    assert things["anon"]["name"] == "AnonThingsHandler"
    assert [a["name"] for a in things["anon"]["actions"]] == ["list"]
    auth_actions = {(a["method"], a["op"], a["restful"]) for a in things["auth"]["actions"]}
    assert auth_actions == {("GET", "list", False), ("POST", None, True)}
    thing = next(r for r in document["resources"] if r["name"] == "ThingHandler")
    assert thing["anon"] is None
    assert thing["auth"]["params"] == ["name"]
    assert thing["auth"]["path"] == "/MAAS/api/1.0/things/{name}/"
    assert thing["auth"]["uri"] == "http://example.com/MAAS/api/1.0/things/{name}/"
    assert len(document["handlers"]) == 3


def test_hash_does_not_depend_on_the_host_but_on_the_api() -> None:
    """The API hash changes when an operation changes, not with the request's host."""
    first = Registry(make_handlers()).hash
    assert Registry(make_handlers()).hash == first
    things, thing = make_handlers()

    @thing.operation("DELETE")
    async def delete(ctx: Any, name: str) -> None:
        """Delete."""

    assert Registry((things, thing)).hash != first


def test_hidden_handlers_are_left_out_of_describe() -> None:
    hidden = Handler("Secret", "secret/", "", hidden=True)

    @hidden.operation("GET", auth=ANONYMOUS)
    async def read(ctx: Any) -> None:
        """Read."""

    registry = Registry([hidden])
    assert registry.describe("http://x/")["resources"] == []
    assert registry.match("secret/") is not None


def test_duplicate_handler_names_are_refused() -> None:
    with pytest.raises(ValueError):
        Registry([Handler("Same", "a/", ""), Handler("Same", "b/", "")])
