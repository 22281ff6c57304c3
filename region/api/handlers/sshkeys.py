"""``account/prefs/sshkeys/`` and ``account/prefs/sshkeys/{keyid}/``: the caller's SSH keys.

The public keys MAAS installs for a user on the nodes they deploy.  Each user
sees and manages only their own keys: another user's key answers 401, as the
1.8 document says for deletion (we say the same for reading, so key ids do
not leak other people's keys).  New keys must be OpenSSH public keys.
"""

from __future__ import annotations

import re
from typing import Any

from region.api.context import RequestContext
from region.api.errors import APIError, NotFound, ValidationError
from region.api.registry import API_PREFIX, FILE, Handler, Param
from region.api.responses import DELETED, Response
from region.db import sshkeys as db_sshkeys
from region.db.pool import Tx
from region.domain.sshkeys import InvalidSSHKey, parse_ssh_public_key

SSHKEYS = Handler("SSHKeysHandler", "account/prefs/sshkeys/",
                  "Manage the collection of all the SSH keys in this MAAS.")
SSHKEY = Handler("SSHKeyHandler", "account/prefs/sshkeys/{keyid}/",
                 "Manage an SSH key.\n\nSSH keys can be retrieved or deleted.")

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


def sshkey_json(key: db_sshkeys.SSHKey) -> dict[str, Any]:
    return {"id": key.id, "key": key.key,
            "resource_uri": f"{API_PREFIX}account/prefs/sshkeys/{key.id}/"}


@SSHKEYS.operation("GET", "list")
async def list_keys(ctx: RequestContext) -> list[dict[str, Any]]:
    """List all keys belonging to the requesting user."""
    assert ctx.user is not None
    user_id = ctx.user.id
    keys = await ctx.db.transaction(lambda tx: db_sshkeys.list_for_user(tx, user_id))
    return [sshkey_json(key) for key in keys]


@SSHKEYS.operation("POST", "new", params=[
    Param("key", FILE, required=True,
          doc="The public SSH key (one line of a .pub file), as text or as a file part."),
])
async def new(ctx: RequestContext, key: bytes) -> Response:
    """Add a new SSH key to the requesting user's account.

    The request payload should contain the public SSH key data in form
    data whose name is "key".
    """
    assert ctx.user is not None
    try:
        text = parse_ssh_public_key(key_text(key, "SSH public key")).text
    except InvalidSSHKey as error:
        raise ValidationError.field("key", str(error)) from None
    user_id = ctx.user.id
    try:
        created = await ctx.db.transaction(lambda tx: db_sshkeys.create(tx, user_id, text))
    except db_sshkeys.SSHKeyExists:
        raise ValidationError.field(
            "key", "SSH key with this User and Key already exists.") from None
    return Response.json(sshkey_json(created), 201)


@SSHKEY.operation("GET")
async def read(ctx: RequestContext, keyid: str) -> dict[str, Any]:
    """GET an SSH key.

    Returns 404 if the key does not exist.  Returns 401 if the key does not
    belong to the calling user.
    """
    key_id = parse_key_id(keyid)
    key = await ctx.db.transaction(lambda tx: db_sshkeys.get(tx, key_id))
    if key is None:
        raise NotFound()
    require_owner(key.user_id, ctx, "get")
    return sshkey_json(key)


async def _delete(ctx: RequestContext, keyid: str) -> Response:
    key_id = parse_key_id(keyid)

    async def work(tx: Tx) -> None:
        key = await db_sshkeys.get(tx, key_id)
        if key is None:
            raise NotFound()
        require_owner(key.user_id, ctx, "delete")
        await db_sshkeys.delete(tx, key_id, key.user_id)

    await ctx.db.transaction(work)
    return DELETED


@SSHKEY.operation("DELETE")
async def delete(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSH key.

    Returns 404 if the key does not exist.  Returns 401 if the key does not
    belong to the calling user.
    """
    return await _delete(ctx, keyid)


@SSHKEY.operation("POST", "delete")
async def delete_op(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSH key.

    Returns 404 if the key does not exist.  Returns 401 if the key does not
    belong to the calling user.
    """
    return await _delete(ctx, keyid)
