"""SQL for users' SSL keys (X.509 certificates, PEM)."""

from __future__ import annotations

from typing import Any

import attrs

from region.db.pool import Tx

SELECT_FOR_USER = "SELECT id, user_id, key FROM sslkeys WHERE user_id = %(user_id)s ORDER BY id"
SELECT_BY_ID = "SELECT id, user_id, key FROM sslkeys WHERE id = %(id)s"
INSERT = """
    INSERT INTO sslkeys (user_id, key) VALUES (%(user_id)s, %(key)s)
    ON CONFLICT (user_id, md5(key)) DO NOTHING
    RETURNING id, user_id, key
"""
DELETE = "DELETE FROM sslkeys WHERE id = %(id)s AND user_id = %(user_id)s"


class SSLKeyExists(Exception):
    """The user has that key already."""


@attrs.frozen
class SSLKey:
    id: int
    user_id: int
    key: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> SSLKey:
        return cls(*row)


async def list_for_user(tx: Tx, user_id: int) -> list[SSLKey]:
    return [SSLKey.from_row(row) for row in await tx.fetchall(SELECT_FOR_USER,
                                                               {"user_id": user_id})]


async def get(tx: Tx, key_id: int) -> SSLKey | None:
    row = await tx.fetchone(SELECT_BY_ID, {"id": key_id})
    return None if row is None else SSLKey.from_row(row)


async def create(tx: Tx, user_id: int, key: str) -> SSLKey:
    """Add key to user_id's keys; raise SSLKeyExists if the user has it already."""
    row = await tx.fetchone(INSERT, {"user_id": user_id, "key": key})
    if row is None:
        raise SSLKeyExists(key)
    return SSLKey.from_row(row)


async def delete(tx: Tx, key_id: int, user_id: int) -> bool:
    """Delete the key if user_id owns it; False if there was no such key of theirs."""
    return await tx.execute(DELETE, {"id": key_id, "user_id": user_id}) > 0
