"""SQL for node events."""

from __future__ import annotations

from typing import Any

import attrs

from region.db.nodes import NodeFilter, filter_clauses
from region.db.pool import Tx

RECORD = """
    INSERT INTO events (type_id, node_id, description)
    SELECT t.id, n.id, %(description)s
      FROM event_types t, nodes n
     WHERE t.name = %(type)s AND n.system_id = %(system_id)s
"""
REGISTER_TYPE = """
    INSERT INTO event_types (name, description, level)
    VALUES (%(name)s, %(description)s, %(level)s)
    ON CONFLICT (name) DO NOTHING
"""
TYPE_EXISTS = "SELECT EXISTS (SELECT 1 FROM event_types WHERE name = %(name)s)"


@attrs.frozen
class EventQuery:
    """The filters of ``events op=query`` (§11.1 of the reference)."""

    nodes: NodeFilter = attrs.field(factory=NodeFilter)
    level: int = 20
    limit: int = 100
    after: int | None = None


async def record(tx: Tx, system_id: str, type_name: str, description: str = "") -> bool:
    """Record an event for a node; False if the node or the event type is unknown."""
    return await tx.execute(RECORD, {"system_id": system_id, "type": type_name,
                                     "description": description}) > 0


async def register_type(tx: Tx, name: str, description: str, level: int) -> None:
    await tx.execute(REGISTER_TYPE, {"name": name, "description": description, "level": level})


async def type_exists(tx: Tx, name: str) -> bool:
    return bool(await tx.fetchval(TYPE_EXISTS, {"name": name}))


async def query(tx: Tx, q: EventQuery, *, user_id: int | None,
                admin: bool) -> list[dict[str, Any]]:
    """Events of visible nodes, newest first (the oldest ``limit`` after ``after``)."""
    params: dict[str, Any] = {"level": q.level, "admin": admin, "user_id": user_id,
                              "limit": q.limit}
    clauses = ["t.level >= %(level)s", *filter_clauses(q.nodes, params)]
    if q.after is None:
        order = "e.id DESC"
    else:
        clauses.append("e.id >= %(after)s")
        params["after"] = q.after
        order = "e.id ASC"
    rows = await tx.fetchdicts(
        f"""SELECT e.id, n.system_id AS node, n.hostname, t.level, e.created,
                   t.description AS type, e.description
              FROM events e
              JOIN event_types t ON t.id = e.type_id
              JOIN nodes n ON n.id = e.node_id
              JOIN nodegroups g ON g.id = n.nodegroup_id
             WHERE {' AND '.join(clauses)}
             ORDER BY {order}
             LIMIT %(limit)s""", params)
    rows.sort(key=lambda row: row["id"], reverse=True)
    return rows
