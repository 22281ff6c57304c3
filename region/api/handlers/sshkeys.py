"""``account/prefs/sshkeys/`` and ``account/prefs/sshkeys/{keyid}/``: the caller's SSH keys.

The public keys MAAS installs for a user on the nodes they deploy.  New keys
must be OpenSSH public keys.  Ownership rules: see region.api.handlers.userkeys.
"""

from __future__ import annotations

from typing import Any

from region.api.context import RequestContext
from region.api.handlers.userkeys import KeyResource
from region.api.registry import FILE, Handler, Param
from region.api.responses import Response
from region.db.userkeys import KeyKind
from region.domain.sshkeys import parse_ssh_public_key

SSHKEYS = Handler("SSHKeysHandler", "account/prefs/sshkeys/",
                  "Manage the collection of all the SSH keys in this MAAS.")
SSHKEY = Handler("SSHKeyHandler", "account/prefs/sshkeys/{keyid}/",
                 "Manage an SSH key.\n\nSSH keys can be retrieved or deleted.")

SSH = KeyResource(KeyKind.SSH, "SSH key", "SSH public key",
                  lambda text: parse_ssh_public_key(text).text)


@SSHKEYS.operation("GET", "list")
async def list_keys(ctx: RequestContext) -> list[dict[str, Any]]:
    """List all keys belonging to the requesting user."""
    return await SSH.list(ctx)


@SSHKEYS.operation("POST", "new", params=[
    Param("key", FILE, required=True,
          doc="The public SSH key (one line of a .pub file), as text or as a file part."),
])
async def new(ctx: RequestContext, key: bytes) -> Response:
    """Add a new SSH key to the requesting user's account.

    The request payload should contain the public SSH key data in form
    data whose name is "key".
    """
    return await SSH.new(ctx, key)


@SSHKEY.operation("GET")
async def read(ctx: RequestContext, keyid: str) -> dict[str, Any]:
    """GET an SSH key.

    Returns 404 if the key does not exist.  Returns 401 if the key does not
    belong to the calling user.
    """
    return await SSH.read(ctx, keyid)


@SSHKEY.operation("DELETE")
async def delete(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSH key.

    Returns 404 if the key does not exist.  Returns 401 if the key does not
    belong to the calling user.
    """
    return await SSH.delete(ctx, keyid)


@SSHKEY.operation("POST", "delete")
async def delete_op(ctx: RequestContext, keyid: str) -> Response:
    """DELETE an SSH key.

    Returns 404 if the key does not exist.  Returns 401 if the key does not
    belong to the calling user.
    """
    return await SSH.delete(ctx, keyid)
