"""
What the SSH-key and SSL-key resources share: one implementation of list,
new, read and delete over a kind of key.

Each user sees and manages only their own keys: another user's key answers
401 (1.8 documents 401 for deletion; we answer the same for reading, so key
ids do not leak other people's keys).  New keys answer 201.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs

from region.api.context import RequestContext
from region.api.errors import APIError, NotFound, ValidationError
from region.api.registry import API_PREFIX
from region.api.responses import DELETED, Response
from region.db import userkeys as db_keys
from region.db.pool import Tx

_KEY_ID = re.compile(r"[0-9]{1,10}")
_MAX_KEY_ID = 2**31 - 1


class NotYourKey(APIError):
    """The key exists but belongs to someone else (1.8 documents 401)."""

    status = 401


def parse_key_id(keyid: str) -> int:
    """A key id from the path; anything that cannot be a key's id is simply not found."""
    if not _KEY_ID.fullmatch(keyid) or int(keyid) > _MAX_KEY_ID:
        raise NotFound()
    return int(keyid)


def require_owner(owner_id: int, ctx: RequestContext, verb: str) -> None:
    assert ctx.user is not None
    if owner_id != ctx.user.id:
        raise NotYourKey(f"Can't {verb} a key you don't own.")


def key_text(value: bytes, what: str) -> str:
    """The text of a ``key`` field, which may come as a text part or as a file part."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError.field("key", f"Invalid {what}: it is not UTF-8 text.") from None


@attrs.frozen
class KeyResource:
    """
    One kind of key, as the API serves it.

    :param kind: the table the keys live in.
    :param label: what a person calls one ("SSH key").
    :param what: what a valid key is, for messages ("SSH public key").
    :param normalise: returns a key's stored text, or raises ValueError
        with the reason it is not a valid key.
    """

    kind: db_keys.KeyKind
    label: str
    what: str
    normalise: Callable[[str], str]

    def to_json(self, key: db_keys.UserKey) -> dict[str, Any]:
        return {"id": key.id, "key": key.key,
                "resource_uri": f"{API_PREFIX}account/prefs/{self.kind.value}/{key.id}/"}

    async def list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        assert ctx.user is not None
        user_id = ctx.user.id
        keys = await ctx.db.transaction(lambda tx: db_keys.list_for_user(tx, self.kind, user_id))
        return [self.to_json(key) for key in keys]

    async def new(self, ctx: RequestContext, key: bytes) -> Response:
        assert ctx.user is not None
        try:
            text = self.normalise(key_text(key, self.what))
        except ValueError as error:
            raise ValidationError.field("key", str(error)) from None
        user_id = ctx.user.id
        try:
            created = await ctx.db.transaction(
                lambda tx: db_keys.create(tx, self.kind, user_id, text))
        except db_keys.KeyExists:
            raise ValidationError.field(
                "key", f"{self.label} with this User and Key already exists.") from None
        return Response.json(self.to_json(created), 201)

    async def read(self, ctx: RequestContext, keyid: str) -> dict[str, Any]:
        key_id = parse_key_id(keyid)
        key = await ctx.db.transaction(lambda tx: db_keys.get(tx, self.kind, key_id))
        if key is None:
            raise NotFound()
        require_owner(key.user_id, ctx, "get")
        return self.to_json(key)

    async def delete(self, ctx: RequestContext, keyid: str) -> Response:
        key_id = parse_key_id(keyid)

        async def work(tx: Tx) -> None:
            key = await db_keys.get(tx, self.kind, key_id)
            if key is None:
                raise NotFound()
            require_owner(key.user_id, ctx, "delete")
            await db_keys.delete(tx, self.kind, key_id, key.user_id)

        await ctx.db.transaction(work)
        return DELETED
