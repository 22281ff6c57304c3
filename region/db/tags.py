"""SQL for tags and which nodes carry them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from region.db.pool import Tx
from region.db.results import LLDP_OUTPUT, LSHW_OUTPUT

_COLUMNS = "id, name, definition, comment, kernel_opts"

SELECT_ALL = f"SELECT {_COLUMNS} FROM tags ORDER BY name"
SELECT_ONE = f"SELECT {_COLUMNS} FROM tags WHERE name = %(name)s"
SELECT_DEFINED = f"SELECT {_COLUMNS} FROM tags WHERE definition <> '' ORDER BY id"
INSERT = f"""
    INSERT INTO tags (name, definition, comment, kernel_opts)
    VALUES (%(name)s, %(definition)s, %(comment)s, %(kernel_opts)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING {_COLUMNS}
"""
UPDATE = f"""
    UPDATE tags SET name = %(new_name)s, definition = %(definition)s, comment = %(comment)s,
                    kernel_opts = %(kernel_opts)s, updated = now()
     WHERE id = %(id)s
    RETURNING {_COLUMNS}
"""
NAME_TAKEN = "SELECT EXISTS (SELECT 1 FROM tags WHERE name = %(name)s AND id <> %(id)s)"
DELETE = "DELETE FROM tags WHERE name = %(name)s"
TAGGED_IDS = """
    SELECT n.system_id FROM node_tags nt JOIN nodes n ON n.id = nt.node_id
     WHERE nt.tag_id = %(tag_id)s ORDER BY n.id
"""
ADD = """
    INSERT INTO node_tags (node_id, tag_id)
    SELECT n.id, %(tag_id)s FROM nodes n WHERE n.system_id = ANY(%(ids)s)
    ON CONFLICT DO NOTHING
"""
REMOVE = """
    DELETE FROM node_tags nt USING nodes n
     WHERE nt.node_id = n.id AND nt.tag_id = %(tag_id)s AND n.system_id = ANY(%(ids)s)
"""
REPLACE_FOR_TAG_DELETE = "DELETE FROM node_tags WHERE tag_id = %(tag_id)s"
SET_FOR_NODE_DELETE = """
    DELETE FROM node_tags WHERE node_id = %(node_id)s AND tag_id = ANY(%(tag_ids)s)
"""
SET_FOR_NODE_ADD = """
    INSERT INTO node_tags (node_id, tag_id) SELECT %(node_id)s, unnest(%(tag_ids)s::integer[])
    ON CONFLICT DO NOTHING
"""
DETAILS_PAGE = """
    SELECT n.id, n.system_id,
           (SELECT data FROM node_results r WHERE r.node_id = n.id AND r.result_type = 0
               AND r.name = %(lshw)s),
           (SELECT data FROM node_results r WHERE r.node_id = n.id AND r.result_type = 0
               AND r.name = %(lldp)s)
      FROM nodes n
     WHERE n.id > %(after)s AND (%(only)s::integer IS NULL OR n.id = %(only)s)
     ORDER BY n.id
     LIMIT %(limit)s
"""


class TagExists(Exception):
    """Another tag has that name."""


@attrs.frozen
class Tag:
    id: int
    name: str
    definition: str
    comment: str
    kernel_opts: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Tag:
        return cls(*row)


async def list_tags(tx: Tx) -> list[Tag]:
    return [Tag.from_row(row) for row in await tx.fetchall(SELECT_ALL)]


async def defined_tags(tx: Tx) -> list[Tag]:
    """Tags with an XPath definition (manual tags have none)."""
    return [Tag.from_row(row) for row in await tx.fetchall(SELECT_DEFINED)]


async def get(tx: Tx, name: str, *, for_update: bool = False) -> Tag | None:
    row = await tx.fetchone(SELECT_ONE + (" FOR UPDATE" if for_update else ""), {"name": name})
    return None if row is None else Tag.from_row(row)


async def create(tx: Tx, *, name: str, definition: str, comment: str, kernel_opts: str) -> Tag:
    row = await tx.fetchone(INSERT, {"name": name, "definition": definition,
                                     "comment": comment, "kernel_opts": kernel_opts})
    if row is None:
        raise TagExists(name)
    return Tag.from_row(row)


async def update(tx: Tx, tag: Tag, *, new_name: str, definition: str, comment: str,
                 kernel_opts: str) -> Tag:
    if await tx.fetchval(NAME_TAKEN, {"name": new_name, "id": tag.id}):
        raise TagExists(new_name)
    row = await tx.fetchone(UPDATE, {"id": tag.id, "new_name": new_name,
                                     "definition": definition, "comment": comment,
                                     "kernel_opts": kernel_opts})
    assert row is not None
    return Tag.from_row(row)


async def delete(tx: Tx, name: str) -> bool:
    return await tx.execute(DELETE, {"name": name}) > 0


async def tagged_system_ids(tx: Tx, tag_id: int) -> list[str]:
    return await tx.fetchcol(TAGGED_IDS, {"tag_id": tag_id})


async def add_nodes(tx: Tx, tag_id: int, system_ids: Sequence[str]) -> int:
    return await tx.execute(ADD, {"tag_id": tag_id, "ids": list(system_ids)}) if system_ids else 0


async def remove_nodes(tx: Tx, tag_id: int, system_ids: Sequence[str]) -> int:
    if not system_ids:
        return 0
    return await tx.execute(REMOVE, {"tag_id": tag_id, "ids": list(system_ids)})


async def replace_nodes(tx: Tx, tag_id: int, system_ids: Sequence[str]) -> None:
    """Make system_ids exactly the nodes carrying the tag."""
    await tx.execute(REPLACE_FOR_TAG_DELETE, {"tag_id": tag_id})
    await add_nodes(tx, tag_id, system_ids)


async def set_node_tags(tx: Tx, node_id: int, *, add: Sequence[int],
                        remove: Sequence[int]) -> None:
    """Add and remove tags (by id) on one node."""
    if remove:
        await tx.execute(SET_FOR_NODE_DELETE, {"node_id": node_id, "tag_ids": list(remove)})
    if add:
        await tx.execute(SET_FOR_NODE_ADD, {"node_id": node_id, "tag_ids": list(add)})


Details = tuple[int, str, bytes | None, bytes | None]


async def details_page(tx: Tx, *, after: int, limit: int,
                       only: int | None = None) -> list[Details]:
    """Nodes with id > after and their lshw/LLDP details, limit at a time."""
    rows = await tx.fetchall(DETAILS_PAGE, {"after": after, "limit": limit, "only": only,
                                            "lshw": LSHW_OUTPUT, "lldp": LLDP_OUTPUT})
    return [(int(node_id), str(system_id),
             None if lshw is None else bytes(lshw), None if lldp is None else bytes(lldp))
            for node_id, system_id, lshw, lldp in rows]
