"""``account/prefs/sslkeys/`` and ``account/prefs/sslkeys/{keyid}/``: the caller's SSL keys.

An "SSL key" is a PEM X.509 certificate (or several) a user keeps in MAAS.
The rules are those of SSH keys: each user sees and manages only their own,
another user's key answers 401.  As the 1.8 document lists it, deleting is
``DELETE`` or ``GET op=delete``.
"""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.errors import NotFound, ValidationError
from region.api.handlers.sshkeys import key_text, parse_key_id, require_owner
from region.api.registry import API_PREFIX, FILE, Handler, Param
from region.api.responses import DELETED, Response
from region.db import sslkeys as db_sslkeys
from region.db.pool import Tx
from region.domain.sslkeys import InvalidSSLKey, parse_ssl_key

SSLKEYS = Handler("SSLKeysHandler", "account/prefs/sslkeys/", "Operations on multiple keys.")
SSLKEY = Handler("SSLKeyHandler", "account/prefs/sslkeys/{keyid}/",
                 "Manage an SSL key.\n\nSSL keys can be retrieved or deleted.")


def sslkey_json(key: db_sslkeys.SSLKey) -> dict[str, Any]:
    return {"id": key.id, "key": key.key,
            "resource_uri": f"{API_PREFIX}account/prefs/sslkeys/{key.id}/"}


@SSLKEYS.operation("GET", "list")
async def list_keys(ctx: RequestContext) -> list[dict[str, Any]]:
    """List all keys belonging to the requesting user."""
    assert ctx.user is not None
    user_id = ctx.user.id
    keys = await ctx.db.transaction(lambda tx: db_sslkeys.list_for_user(tx, user_id))
    return [sslkey_json(key) for key in keys]


@SSLKEYS.operation("POST", "new", params=[
    Param("key", FILE, required=True,
          doc="The PEM certificate (the contents of a .pem file), as text or as a file part."),
])
async def new(ctx: RequestContext, key: bytes) -> Response:
    """Add a new SSL key to the requesting user's account.

    The request payload should contain the SSL key data in form data whose
    name is "key".
    """
    assert ctx.user is not None
    try:
        text = parse_ssl_key(key_text(key, "SSL key")).text
    except InvalidSSLKey as error:
        raise ValidationError.field("key", str(error)) from None
    user_id = ctx.user.id
    try:
        created = await ctx.db.transaction(lambda tx: db_sslkeys.create(tx, user_id, text))
    except db_sslkeys.SSLKeyExists:
        raise ValidationError.field(
            "key", "SSL key with this User and Key already exists.") from None
    return Response.json(sslkey_json(created), 201)


@SSLKEY.operation("GET")
async def read(ctx: RequestContext, keyid: str) -> dict[str, Any]:
    """GET an SSL key.

    Returns 404 if the keyid is not found.  Returns 401 if the key does not
    belong to the requesting user.
    """
    key_id = parse_key_id(keyid)
    key = await ctx.db.transaction(lambda tx: db_sslkeys.get(tx, key_id))
    if key is None:
        raise NotFound()
    require_owner(key.user_id, ctx, "get")
    return sslkey_json(key)


async def _delete(ctx: RequestContext, keyid: str) -> Response:
    key_id = parse_key_id(keyid)

    async def work(tx: Tx) -> None:
        key = await db_sslkeys.get(tx, key_id)
        if key is None:
            raise NotFound()
        require_owner(key.user_id, ctx, "delete")
        await db_sslkeys.delete(tx, key_id, key.user_id)

    await ctx.db.transaction(work)
    return DELETED


@SSLKEY.operation("DELETE")
async def delete(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSL key.

    Returns 401 if the key does not belong to the requesting user.  Returns
    204 if the key is successfully deleted.
    """
    return await _delete(ctx, keyid)


@SSLKEY.operation("GET", "delete")
async def delete_op(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSL key.

    Returns 401 if the key does not belong to the requesting user.  Returns
    204 if the key is successfully deleted.
    """
    return await _delete(ctx, keyid)
