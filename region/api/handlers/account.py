"""``account/``: the logged-in user's API credentials.

A user may hold several API keys (OAuth consumer + access token); this
resource creates more and deletes them, only ever the caller's own.
"""

from __future__ import annotations

from region.api.context import RequestContext
from region.api.errors import NotFound, ValidationError
from region.api.registry import Handler, Param
from region.api.responses import DELETED, Response
from region.db import tokens as db_tokens

ACCOUNT = Handler("AccountHandler", "account/", "Manage the current logged-in user.")


def mandatory(name: str, value: str | None) -> str:
    """A parameter 1.8 reads with ``get_mandatory_param``: absent is a plain-text 400."""
    if value is None:
        raise ValidationError(f"No provided {name}!")
    return value


@ACCOUNT.operation("POST", "create_authorisation_token")
async def create_authorisation_token(ctx: RequestContext) -> dict[str, str]:
    """Create an authorisation OAuth token and OAuth consumer.

    :return: a json dict with three keys: 'token_key', 'token_secret' and
        'consumer_key' (e.g. {token_key: 's65244576fgqs', token_secret:
        'qsdfdhv34', consumer_key: '68543fhj854fg'}).
    :rtype: string (json)
    """
    assert ctx.user is not None
    user_id = ctx.user.id
    token = await ctx.db.transaction(lambda tx: db_tokens.create(tx, user_id))
    return {"token_key": token.token_key, "token_secret": token.token_secret,
            "consumer_key": token.consumer_key}


@ACCOUNT.operation("POST", "delete_authorisation_token", params=[
    Param("token_key", doc="The key of the token to delete (the middle part of an API key)."),
])
async def delete_authorisation_token(ctx: RequestContext, token_key: str | None) -> Response:
    """Delete an authorisation OAuth token and the related OAuth consumer.

    :param token_key: The key of the token to be deleted.
    :type token_key: unicode

    Returns 404 if the caller has no token with that key.
    """
    assert ctx.user is not None
    key = mandatory("token_key", token_key)
    if "\x00" in key:
        raise NotFound()  # no token has it, and PostgreSQL text cannot hold it
    user_id = ctx.user.id
    if not await ctx.db.transaction(lambda tx: db_tokens.delete_for_user(tx, user_id, key)):
        raise NotFound()
    return DELETED
