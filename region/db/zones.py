"""SQL for physical zones."""

from __future__ import annotations

from typing import Any

import attrs

from region.db.pool import Tx

DEFAULT_ZONE_NAME = "default"

SELECT_ALL = "SELECT id, name, description FROM zones ORDER BY name"
SELECT_BY_NAME = "SELECT id, name, description FROM zones WHERE name = %(name)s"
INSERT = """
    INSERT INTO zones (name, description) VALUES (%(name)s, %(description)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id, name, description
"""
UPDATE = """
    UPDATE zones SET name = %(new_name)s, description = %(description)s, updated = now()
     WHERE name = %(name)s
    RETURNING id, name, description
"""
NAME_TAKEN = "SELECT EXISTS (SELECT 1 FROM zones WHERE name = %(name)s)"
DELETE = "DELETE FROM zones WHERE name = %(name)s"


class ZoneExists(Exception):
    """Another zone has that name."""


@attrs.frozen
class Zone:
    id: int
    name: str
    description: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Zone:
        return cls(*row)

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ZONE_NAME


async def list_zones(tx: Tx) -> list[Zone]:
    return [Zone.from_row(row) for row in await tx.fetchall(SELECT_ALL)]


async def get(tx: Tx, name: str) -> Zone | None:
    row = await tx.fetchone(SELECT_BY_NAME, {"name": name})
    return None if row is None else Zone.from_row(row)


async def create(tx: Tx, name: str, description: str) -> Zone:
    row = await tx.fetchone(INSERT, {"name": name, "description": description})
    if row is None:
        raise ZoneExists(name)
    return Zone.from_row(row)


async def update(tx: Tx, name: str, *, new_name: str, description: str) -> Zone | None:
    """Rename and/or describe a zone; None if it does not exist."""
    if new_name != name and await tx.fetchval(NAME_TAKEN, {"name": new_name}):
        raise ZoneExists(new_name)
    row = await tx.fetchone(UPDATE, {"name": name, "new_name": new_name,
                                     "description": description})
    return None if row is None else Zone.from_row(row)


async def delete(tx: Tx, name: str) -> bool:
    return await tx.execute(DELETE, {"name": name}) > 0
