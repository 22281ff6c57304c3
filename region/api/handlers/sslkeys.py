"""``account/prefs/sslkeys/`` and ``account/prefs/sslkeys/{keyid}/``: the caller's SSL keys.

An "SSL key" is a PEM X.509 certificate (or several) a user keeps in MAAS.
As the 1.8 document lists it, deleting is ``DELETE`` or ``GET op=delete``.
Ownership rules: see region.api.handlers.userkeys.
"""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.handlers.userkeys import KeyResource
from region.api.registry import FILE, Handler, Param
from region.api.responses import Response
from region.db.userkeys import KeyKind
from region.domain.sslkeys import parse_ssl_key

SSLKEYS = Handler("SSLKeysHandler", "account/prefs/sslkeys/", "Operations on multiple keys.")
SSLKEY = Handler("SSLKeyHandler", "account/prefs/sslkeys/{keyid}/",
                 "Manage an SSL key.\n\nSSL keys can be retrieved or deleted.")

SSL = KeyResource(KeyKind.SSL, "SSL key", "SSL key", lambda text: parse_ssl_key(text).text)


@SSLKEYS.operation("GET", "list")
async def list_keys(ctx: RequestContext) -> list[dict[str, Any]]:
    """List all keys belonging to the requesting user."""
    return await SSL.list(ctx)


@SSLKEYS.operation("POST", "new", params=[
    Param("key", FILE, required=True,
          doc="The PEM certificate (the contents of a .pem file), as text or as a file part."),
])
async def new(ctx: RequestContext, key: bytes) -> Response:
    """Add a new SSL key to the requesting user's account.

    The request payload should contain the SSL key data in form data whose
    name is "key".
    """
    return await SSL.new(ctx, key)


@SSLKEY.operation("GET")
async def read(ctx: RequestContext, keyid: str) -> dict[str, Any]:
    """GET an SSL key.

    Returns 404 if the keyid is not found.  Returns 401 if the key does not
    belong to the requesting user.
    """
    return await SSL.read(ctx, keyid)


@SSLKEY.operation("DELETE")
async def delete(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSL key.

    Returns 401 if the key does not belong to the requesting user.  Returns
    204 if the key is successfully deleted.
    """
    return await SSL.delete(ctx, keyid)


@SSLKEY.operation("GET", "delete")
async def delete_op(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSL key.

    Returns 401 if the key does not belong to the requesting user.  Returns
    204 if the key is successfully deleted.
    """
    return await SSL.delete(ctx, keyid)
