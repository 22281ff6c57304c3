"""
SQL for the keys users keep in MAAS: SSH public keys and SSL certificates.

Both kinds live in tables of the same shape (``sshkeys``, ``sslkeys``: id,
user_id, key), unique per user by the digest of the key text.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
from psycopg2 import sql

from region.db.pool import Tx


class KeyKind(enum.Enum):
    """Which kind of key, named after its table."""

    SSH = "sshkeys"
    SSL = "sslkeys"


_SELECT_FOR_USER = "SELECT id, user_id, key FROM {} WHERE user_id = %(user_id)s ORDER BY id"
_SELECT_BY_ID = "SELECT id, user_id, key FROM {} WHERE id = %(id)s"
_INSERT = """
    INSERT INTO {} (user_id, key) VALUES (%(user_id)s, %(key)s)
    ON CONFLICT (user_id, md5(key)) DO NOTHING
    RETURNING id, user_id, key
"""
_DELETE = "DELETE FROM {} WHERE id = %(id)s AND user_id = %(user_id)s"


def _query(template: str, kind: KeyKind) -> sql.Composed:
    return sql.SQL(template).format(sql.Identifier(kind.value))


class KeyExists(Exception):
    """The user has that key already."""


@attrs.frozen
class UserKey:
    id: int
    user_id: int
    key: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> UserKey:
        return cls(*row)


async def list_for_user(tx: Tx, kind: KeyKind, user_id: int) -> list[UserKey]:
    rows = await tx.fetchall(_query(_SELECT_FOR_USER, kind), {"user_id": user_id})
    return [UserKey.from_row(row) for row in rows]


async def get(tx: Tx, kind: KeyKind, key_id: int) -> UserKey | None:
    row = await tx.fetchone(_query(_SELECT_BY_ID, kind), {"id": key_id})
    return None if row is None else UserKey.from_row(row)


async def create(tx: Tx, kind: KeyKind, user_id: int, key: str) -> UserKey:
    """Add key to user_id's keys; raise KeyExists if the user has it already."""
    row = await tx.fetchone(_query(_INSERT, kind), {"user_id": user_id, "key": key})
    if row is None:
        raise KeyExists(key)
    return UserKey.from_row(row)


async def delete(tx: Tx, kind: KeyKind, key_id: int, user_id: int) -> bool:
    """Delete the key if user_id owns it; False if there was no such key of theirs."""
    return await tx.execute(_query(_DELETE, kind), {"id": key_id, "user_id": user_id}) > 0
