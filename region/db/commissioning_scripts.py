"""SQL for custom commissioning scripts (table ``commissioning_scripts``)."""

from __future__ import annotations

from typing import Any

import attrs

from region.db.pool import Tx

# Scripts run in the order of their names; "C" collation is byte order, the
# same on every server whatever its locale.
SELECT_NAMES = 'SELECT name FROM commissioning_scripts ORDER BY name COLLATE "C"'
SELECT_ALL = 'SELECT name, content FROM commissioning_scripts ORDER BY name COLLATE "C"'
SELECT_ONE = "SELECT name, content FROM commissioning_scripts WHERE name = %(name)s"
INSERT = """
    INSERT INTO commissioning_scripts (name, content) VALUES (%(name)s, %(content)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING name, content
"""
UPDATE = """
    UPDATE commissioning_scripts SET content = %(content)s, updated = now()
     WHERE name = %(name)s
    RETURNING name, content
"""
DELETE = "DELETE FROM commissioning_scripts WHERE name = %(name)s"


class ScriptExists(Exception):
    """A commissioning script with that name exists already."""


@attrs.frozen
class CommissioningScript:
    name: str
    content: bytes

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> CommissioningScript:
        return cls(row[0], bytes(row[1]))


async def list_names(tx: Tx) -> list[str]:
    return [str(name) for name in await tx.fetchcol(SELECT_NAMES)]


async def list_scripts(tx: Tx) -> list[CommissioningScript]:
    """Every script with its content, in the order nodes run them."""
    return [CommissioningScript.from_row(row) for row in await tx.fetchall(SELECT_ALL)]


async def get(tx: Tx, name: str) -> CommissioningScript | None:
    row = await tx.fetchone(SELECT_ONE, {"name": name})
    return None if row is None else CommissioningScript.from_row(row)


async def create(tx: Tx, name: str, content: bytes) -> CommissioningScript:
    row = await tx.fetchone(INSERT, {"name": name, "content": content})
    if row is None:
        raise ScriptExists(name)
    return CommissioningScript.from_row(row)


async def update(tx: Tx, name: str, content: bytes) -> CommissioningScript | None:
    """Replace a script's content; None if there is no script of that name."""
    row = await tx.fetchone(UPDATE, {"name": name, "content": content})
    return None if row is None else CommissioningScript.from_row(row)


async def delete(tx: Tx, name: str) -> bool:
    return await tx.execute(DELETE, {"name": name}) > 0
