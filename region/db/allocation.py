"""
SQL for acquiring nodes, settled in PostgreSQL without a global lock.

Candidates are READY nodes the user may see that meet every constraint,
cheapest first (``cpu_count + memory / 1024``, as 1.8), locked with
``FOR UPDATE SKIP LOCKED``: concurrent acquirers each lock different rows, so
none waits for another and no node is handed out twice.  (MAAS 1.8 ran every
acquire in the region under one advisory lock.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from region.db.node_json import FQDN
from region.db.pool import Tx

READY = 4
ALLOCATED = 10


@attrs.frozen
class Constraints:
    """Acquire's filters, already validated (unknown tags and zones refused)."""

    name: str | None = None
    architectures: Sequence[str] | None = None
    cpu_count: float | None = None
    memory: float | None = None
    tags: Sequence[str] = ()
    not_tags: Sequence[str] = ()
    zone: str | None = None
    not_in_zones: Sequence[str] = ()
    connected_to: Sequence[str] = ()
    not_connected_to: Sequence[str] = ()


def _where(c: Constraints) -> tuple[list[str], dict[str, Any]]:
    clauses = [
        "n.status = %(ready)s",
        "(%(admin)s OR n.owner_id IS NULL OR n.owner_id = %(user_id)s)",
    ]
    params: dict[str, Any] = {"ready": READY}
    if c.name:
        clauses.append(f"(n.hostname = %(name)s OR {FQDN} = %(name)s)")
        params["name"] = c.name
    if c.architectures is not None:
        clauses.append("n.architecture = ANY(%(archs)s)")
        params["archs"] = list(c.architectures)
    if c.cpu_count:
        clauses.append("n.cpu_count >= %(cpu_count)s")
        params["cpu_count"] = c.cpu_count
    if c.memory:
        clauses.append("n.memory >= %(memory)s")
        params["memory"] = c.memory
    for index, tag in enumerate(c.tags):
        clauses.append(
            f"EXISTS (SELECT 1 FROM node_tags nt JOIN tags t ON t.id = nt.tag_id "
            f"WHERE nt.node_id = n.id AND t.name = %(tag{index})s)")
        params[f"tag{index}"] = tag
    if c.not_tags:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM node_tags nt JOIN tags t ON t.id = nt.tag_id "
            "WHERE nt.node_id = n.id AND t.name = ANY(%(not_tags)s))")
        params["not_tags"] = list(c.not_tags)
    if c.zone:
        clauses.append("z.name = %(zone)s")
        params["zone"] = c.zone
    if c.not_in_zones:
        clauses.append("NOT (z.name = ANY(%(not_zones)s))")
        params["not_zones"] = list(c.not_in_zones)
    if c.connected_to:
        clauses.append("n.routers @> %(connected)s::macaddr[]")
        params["connected"] = list(c.connected_to)
    if c.not_connected_to:
        clauses.append("(n.routers IS NULL OR NOT (n.routers && %(not_connected)s::macaddr[]))")
        params["not_connected"] = list(c.not_connected_to)
    return clauses, params


async def lock_candidates(tx: Tx, c: Constraints, *, user_id: int | None, admin: bool,
                          limit: int, offset: int = 0) -> list[tuple[int, str]]:
    """Lock up to limit matching READY nodes, cheapest first; (id, system_id) pairs.

    Rows other transactions hold are skipped; rows this transaction locked on
    an earlier page stay in the ordering, so ``offset`` pages through them.
    """
    clauses, params = _where(c)
    params.update(admin=admin, user_id=user_id, limit=limit, offset=offset)
    rows = await tx.fetchall(
        f"""SELECT n.id, n.system_id
              FROM nodes n
              JOIN nodegroups g ON g.id = n.nodegroup_id
              JOIN zones z ON z.id = n.zone_id
             WHERE {' AND '.join(clauses)}
             ORDER BY (n.cpu_count + n.memory / 1024.0), n.id
             LIMIT %(limit)s OFFSET %(offset)s
               FOR UPDATE OF n SKIP LOCKED""",
        params)
    return [(int(node_id), str(system_id)) for node_id, system_id in rows]


async def allocate(tx: Tx, node_id: int, *, owner_id: int, token_id: int | None,
                   agent_name: str) -> None:
    """Hand a locked READY node to its new owner."""
    await tx.execute(
        """UPDATE nodes SET status = %(allocated)s, owner_id = %(owner)s, token_id = %(token)s,
                  agent_name = %(agent)s, updated = now()
            WHERE id = %(id)s AND status = %(ready)s""",
        {"allocated": ALLOCATED, "owner": owner_id, "token": token_id, "agent": agent_name,
         "id": node_id, "ready": READY})


async def missing_tags(tx: Tx, names: Sequence[str]) -> list[str]:
    known = set(await tx.fetchcol("SELECT name FROM tags WHERE name = ANY(%(n)s)",
                                  {"n": list(names)}))
    return [name for name in names if name not in known]


async def missing_zones(tx: Tx, names: Sequence[str]) -> list[str]:
    known = set(await tx.fetchcol("SELECT name FROM zones WHERE name = ANY(%(n)s)",
                                  {"n": list(names)}))
    return [name for name in names if name not in known]


async def used_architectures(tx: Tx) -> list[str]:
    return await tx.fetchcol("SELECT DISTINCT architecture FROM nodes ORDER BY 1")
