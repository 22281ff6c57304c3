"""
SQL for how the metadata service knows a node: its own OAuth key, and its name.

A node key is an ordinary token (see :mod:`region.db.tokens`) owned by the
built-in user ``maas-init-node`` and tied to one node by ``node_keys``.  It
is created the first time the node needs it (its preseed or its user-data);
a race between two region processes is settled by the primary key on
``node_keys.node_id``: the loser deletes its token and takes the winner's.
"""

from __future__ import annotations

from region.db import tokens
from region.db.node_json import FQDN
from region.db.pool import Tx
from region.db.tokens import Token

#: The built-in user that owns every node key.
NODE_USER = "maas-init-node"

SELECT_FOR_NODE = """
    SELECT t.id, t.user_id, t.consumer_key, t.consumer_secret, t.token_key, t.token_secret
      FROM node_keys k JOIN tokens t ON t.id = k.token_id
     WHERE k.node_id = %(node_id)s
"""
SELECT_NODE_OF_KEY = """
    SELECT n.system_id FROM node_keys k JOIN nodes n ON n.id = k.node_id
     WHERE k.token_id = %(token_id)s
"""
NODE_USER_ID = "SELECT id FROM users WHERE username = %(username)s AND is_system"
SELECT_FQDN = f"""
    SELECT {FQDN} FROM nodes n JOIN nodegroups g ON g.id = n.nodegroup_id WHERE n.id = %(id)s
"""
INSERT = """
    INSERT INTO node_keys (node_id, token_id) VALUES (%(node_id)s, %(token_id)s)
    ON CONFLICT (node_id) DO NOTHING
    RETURNING token_id
"""


class MissingNodeUser(Exception):
    """The built-in user ``maas-init-node`` is missing (the database was not migrated)."""


async def get_for_node(tx: Tx, node_id: int) -> Token | None:
    row = await tx.fetchone(SELECT_FOR_NODE, {"node_id": node_id})
    return None if row is None else Token.from_row(row)


async def get_or_create(tx: Tx, node_id: int) -> Token:
    """The node's token, created (owned by maas-init-node) if it has none yet."""
    existing = await get_for_node(tx, node_id)
    if existing is not None:
        return existing
    user_id = await tx.fetchval(NODE_USER_ID, {"username": NODE_USER})
    if user_id is None:
        raise MissingNodeUser(f"the built-in user {NODE_USER!r} does not exist")
    token = await tokens.create(tx, int(user_id))
    if await tx.fetchval(INSERT, {"node_id": node_id, "token_id": token.id}) is not None:
        return token
    # Another transaction gave the node a key first: use that one.
    await tokens.delete_for_user(tx, int(user_id), token.token_key)
    winner = await get_for_node(tx, node_id)
    assert winner is not None
    return winner


async def system_id_for_token(tx: Tx, token_id: int) -> str | None:
    """The system_id of the node whose key this token is, or None."""
    value = await tx.fetchval(SELECT_NODE_OF_KEY, {"token_id": token_id})
    return None if value is None else str(value)


async def fqdn(tx: Tx, node_id: int) -> str | None:
    """The node's fully qualified name, as it is told it (``local-hostname``)."""
    value = await tx.fetchval(SELECT_FQDN, {"id": node_id})
    return None if value is None else str(value)
