"""SQL for OAuth credentials (a consumer and an access token per API key)."""

from __future__ import annotations

from typing import Any

import attrs

from region.db.pool import Tx
from region.db.users import User
from region.domain.credentials import NewCredentials, format_api_key

_COLUMNS = "id, user_id, consumer_key, consumer_secret, token_key, token_secret"

INSERT = f"""
    INSERT INTO tokens (user_id, consumer_key, token_key, token_secret)
    VALUES (%(user_id)s, %(consumer_key)s, %(token_key)s, %(token_secret)s)
    RETURNING {_COLUMNS}
"""
SELECT_FOR_USER = f"SELECT {_COLUMNS} FROM tokens WHERE user_id = %(user_id)s ORDER BY id"
SELECT_WITH_USER = """
    SELECT t.id, t.user_id, t.consumer_key, t.consumer_secret, t.token_key, t.token_secret,
           u.id, u.username, u.email, u.is_superuser, u.is_active, u.is_system
      FROM tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_key = %(token_key)s
"""
DELETE_FOR_USER = "DELETE FROM tokens WHERE user_id = %(user_id)s AND token_key = %(token_key)s"


@attrs.frozen(repr=False)
class Token:
    id: int
    user_id: int
    consumer_key: str
    consumer_secret: str
    token_key: str
    token_secret: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Token:
        return cls(*row)

    @property
    def api_key(self) -> str:
        return format_api_key(self.consumer_key, self.token_key, self.token_secret)

    def __repr__(self) -> str:
        # Never show the secret, even in a traceback.
        return f"Token(id={self.id}, user_id={self.user_id}, token_key={self.token_key!r})"


async def create(tx: Tx, user_id: int) -> Token:
    """Create a new consumer and access token for user_id."""
    credentials = NewCredentials.generate()
    row = await tx.fetchone(INSERT, {"user_id": user_id, **attrs.asdict(credentials)})
    assert row is not None
    return Token.from_row(row)


async def list_for_user(tx: Tx, user_id: int) -> list[Token]:
    return [Token.from_row(row) for row in await tx.fetchall(SELECT_FOR_USER, {"user_id": user_id})]


async def get_with_user(tx: Tx, token_key: str) -> tuple[Token, User] | None:
    row = await tx.fetchone(SELECT_WITH_USER, {"token_key": token_key})
    if row is None:
        return None
    return Token.from_row(row[:6]), User.from_row(row[6:])


async def delete_for_user(tx: Tx, user_id: int, token_key: str) -> bool:
    return await tx.execute(DELETE_FOR_USER, {"user_id": user_id, "token_key": token_key}) > 0
