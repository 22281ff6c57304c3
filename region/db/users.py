"""SQL for user accounts."""

from __future__ import annotations

from typing import Any

import attrs

from region.db.pool import Tx

_COLUMNS = "id, username, email, is_superuser, is_active, is_system"

SELECT_BY_USERNAME = f"SELECT {_COLUMNS} FROM users WHERE username = %(username)s"
SELECT_BY_ID = f"SELECT {_COLUMNS} FROM users WHERE id = %(id)s"
SELECT_LISTED = f"SELECT {_COLUMNS} FROM users WHERE NOT is_system ORDER BY username"
INSERT = f"""
    INSERT INTO users (username, email, password, is_superuser)
    VALUES (%(username)s, %(email)s, %(password)s, %(is_superuser)s)
    ON CONFLICT (username) DO NOTHING
    RETURNING {_COLUMNS}
"""
SELECT_PASSWORD = "SELECT password FROM users WHERE username = %(username)s"  # noqa: S105
DELETE = "DELETE FROM users WHERE username = %(username)s AND NOT is_system"
COUNT_SUPERUSERS = "SELECT count(*) FROM users WHERE is_superuser AND is_active"


class UserExists(Exception):
    """A user with that username exists already."""


@attrs.frozen
class User:
    id: int
    username: str
    email: str
    is_superuser: bool
    is_active: bool
    is_system: bool

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> User:
        return cls(*row)

    def to_json(self) -> dict[str, Any]:
        return {"username": self.username, "email": self.email,
                "is_superuser": self.is_superuser}


async def get_by_username(tx: Tx, username: str) -> User | None:
    row = await tx.fetchone(SELECT_BY_USERNAME, {"username": username})
    return None if row is None else User.from_row(row)


async def get_by_id(tx: Tx, user_id: int) -> User | None:
    row = await tx.fetchone(SELECT_BY_ID, {"id": user_id})
    return None if row is None else User.from_row(row)


async def list_users(tx: Tx) -> list[User]:
    """Every user a person can log in as (built-in accounts are left out)."""
    return [User.from_row(row) for row in await tx.fetchall(SELECT_LISTED)]


async def create(
    tx: Tx, *, username: str, email: str, password_hash: str, is_superuser: bool
) -> User:
    row = await tx.fetchone(INSERT, {
        "username": username, "email": email, "password": password_hash,
        "is_superuser": is_superuser,
    })
    if row is None:
        raise UserExists(username)
    return User.from_row(row)


async def password_hash(tx: Tx, username: str) -> str | None:
    value = await tx.fetchval(SELECT_PASSWORD, {"username": username})
    return None if value is None else str(value)


async def delete(tx: Tx, username: str) -> bool:
    return await tx.execute(DELETE, {"username": username}) > 0
