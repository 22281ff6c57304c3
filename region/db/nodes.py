"""SQL for nodes: reading, creating, changing and deleting them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
from psycopg2 import sql
from psycopg2.extras import Json

from region.db.node_json import FQDN, list_query, single_query
from region.db.pool import Tx

_COLUMNS = """
    n.id, n.system_id, n.hostname, n.nodegroup_id, n.status, n.owner_id, n.architecture,
    n.cpu_count, n.memory, n.power_type, n.power_parameters, n.power_state, n.zone_id,
    n.agent_name, n.token_id, n.netboot, n.osystem, n.distro_series, n.error, g.uuid,
    n.boot_type
"""
_FROM = "nodes n JOIN nodegroups g ON g.id = n.nodegroup_id"

#: Who may see a node: admins see all; others see unowned nodes and their own.
VISIBLE = "(%(admin)s OR n.owner_id IS NULL OR n.owner_id = %(user_id)s)"

SELECT_ONE = f"SELECT {_COLUMNS} FROM {_FROM} WHERE n.system_id = %(system_id)s"
SELECT_MANY = f"SELECT {_COLUMNS} FROM {_FROM} WHERE n.system_id = ANY(%(ids)s) ORDER BY n.id"
HOSTNAME_TAKEN = f"""
    SELECT EXISTS (SELECT 1 FROM {_FROM}
                    WHERE (n.hostname = %(hostname)s OR {FQDN} = %(fqdn)s)
                      AND n.id IS DISTINCT FROM %(exclude)s)
"""
INSERT = """
    INSERT INTO nodes (system_id, hostname, nodegroup_id, status, owner_id, architecture,
                       power_type, power_parameters, zone_id, boot_type, osystem,
                       distro_series, license_key, disable_ipv4, swap_size, cpu_count, memory)
    VALUES (%(system_id)s, %(hostname)s, %(nodegroup_id)s, %(status)s, %(owner_id)s,
            %(architecture)s, %(power_type)s, %(power_parameters)s,
            COALESCE(%(zone_id)s, default_zone_id()), %(boot_type)s, %(osystem)s,
            %(distro_series)s, %(license_key)s, %(disable_ipv4)s, %(swap_size)s,
            %(cpu_count)s, %(memory)s)
    ON CONFLICT (hostname) DO NOTHING
    RETURNING id
"""
MACS_IN_USE = """
    SELECT m.mac::text, n.hostname FROM macaddresses m JOIN nodes n ON n.id = m.node_id
     WHERE m.mac = ANY(%(macs)s::macaddr[])
"""
ADD_MACS = """
    INSERT INTO macaddresses (node_id, mac)
    SELECT %(node_id)s, mac FROM unnest(%(macs)s::macaddr[]) AS mac
    ON CONFLICT (mac) DO NOTHING
"""
DELETE_NODE_CREDENTIALS = """
    DELETE FROM tokens WHERE id IN (SELECT token_id FROM node_keys WHERE node_id = %(id)s)
"""
DELETE = "DELETE FROM nodes WHERE id = %(id)s"
MASTER_NODEGROUP = "SELECT id FROM nodegroups ORDER BY id LIMIT 1"
NODEGROUP_BY_UUID = "SELECT id FROM nodegroups WHERE uuid = %(uuid)s"

#: Columns an update may touch (anything else is a programming error).
UPDATABLE = frozenset({
    "hostname", "status", "owner_id", "architecture", "cpu_count", "memory", "swap_size",
    "osystem", "distro_series", "license_key", "boot_type", "netboot", "disable_ipv4",
    "power_type", "power_parameters", "power_state", "power_state_updated", "zone_id",
    "agent_name", "token_id", "error", "routers", "pxe_mac",
})


@attrs.frozen
class Node:
    """The facts about a node that the region's logic needs."""

    id: int
    system_id: str
    hostname: str
    nodegroup_id: int
    status: int
    owner_id: int | None
    architecture: str
    cpu_count: int
    memory: int
    power_type: str
    power_parameters: dict[str, Any] | None
    power_state: str
    zone_id: int
    agent_name: str
    token_id: int | None
    netboot: bool
    osystem: str
    distro_series: str
    error: str
    nodegroup_uuid: str
    boot_type: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Node:
        return cls(*row)


@attrs.frozen
class NodeFilter:
    """The filters of ``nodes op=list`` (every one optional)."""

    system_ids: Sequence[str] = ()
    hostnames: Sequence[str] = ()
    macs: Sequence[str] = ()
    zone: str | None = None
    agent_name: str | None = None


@attrs.frozen
class NewNode:
    system_id: str
    hostname: str
    nodegroup_id: int
    status: int
    architecture: str
    owner_id: int | None = None
    power_type: str = ""
    power_parameters: dict[str, Any] | None = None
    zone_id: int | None = None
    boot_type: str = "fastpath"
    osystem: str = ""
    distro_series: str = ""
    license_key: str = ""
    disable_ipv4: bool = False
    swap_size: int | None = None
    cpu_count: int = 0
    memory: int = 0


def viewer_params(user_id: int | None, admin: bool) -> dict[str, Any]:
    return {"admin": admin, "user_id": user_id}


async def get(tx: Tx, system_id: str, *, for_update: bool = False) -> Node | None:
    query = SELECT_ONE + (" FOR UPDATE OF n" if for_update else "")
    row = await tx.fetchone(query, {"system_id": system_id})
    return None if row is None else Node.from_row(row)


async def get_many(tx: Tx, system_ids: Iterable[str], *, for_update: bool = False) -> list[Node]:
    query = SELECT_MANY + (" FOR UPDATE OF n" if for_update else "")
    rows = await tx.fetchall(query, {"ids": list(system_ids)})
    return [Node.from_row(row) for row in rows]


async def get_json(tx: Tx, system_id: str) -> str | None:
    value = await tx.fetchval(single_query("n.system_id = %(system_id)s"),
                              {"system_id": system_id})
    return None if value is None else str(value)


def filter_clauses(filters: NodeFilter, params: dict[str, Any]) -> list[str]:
    """WHERE clauses (over aliases n and g) for the nodes a viewer may see that match
    filters; fills params.  The caller sets ``admin`` and ``user_id`` in params."""
    clauses = [VISIBLE]
    if filters.system_ids:
        clauses.append("n.system_id = ANY(%(ids)s)")
        params["ids"] = list(filters.system_ids)
    if filters.hostnames:
        clauses.append(f"(n.hostname = ANY(%(hostnames)s) OR {FQDN} = ANY(%(hostnames)s))")
        params["hostnames"] = list(filters.hostnames)
    if filters.macs:
        clauses.append("EXISTS (SELECT 1 FROM macaddresses m2 WHERE m2.node_id = n.id "
                       "AND m2.mac = ANY(%(macs)s::macaddr[]))")
        params["macs"] = list(filters.macs)
    if filters.zone is not None:
        clauses.append("n.zone_id = (SELECT id FROM zones WHERE name = %(zone)s)")
        params["zone"] = filters.zone
    if filters.agent_name is not None:
        clauses.append("n.agent_name = %(agent_name)s")
        params["agent_name"] = filters.agent_name
    return clauses


async def list_json(tx: Tx, *, user_id: int | None, admin: bool,
                    filters: NodeFilter = NodeFilter()) -> str:
    """The JSON array of nodes the viewer may see, filtered, ordered by id."""
    params: dict[str, Any] = viewer_params(user_id, admin)
    clauses = filter_clauses(filters, params)
    return str(await tx.fetchval(list_query(" AND ".join(clauses)), params))


async def list_allocated_json(tx: Tx, token_id: int, system_ids: Sequence[str] = ()) -> str:
    """Nodes acquired with this OAuth token (``nodes op=list_allocated``)."""
    where = "n.token_id = %(token_id)s"
    params: dict[str, Any] = {"token_id": token_id}
    if system_ids:
        where += " AND n.system_id = ANY(%(ids)s)"
        params["ids"] = list(system_ids)
    return str(await tx.fetchval(list_query(where), params))


async def hostname_taken(tx: Tx, hostname: str, fqdn: str, exclude: int | None = None) -> bool:
    return bool(await tx.fetchval(HOSTNAME_TAKEN,
                                  {"hostname": hostname, "fqdn": fqdn, "exclude": exclude}))


async def macs_in_use(tx: Tx, macs: Sequence[str]) -> dict[str, str]:
    """Which of macs belong to a node already: mac → that node's hostname."""
    rows = await tx.fetchall(MACS_IN_USE, {"macs": list(macs)})
    return {mac: hostname for mac, hostname in rows}


async def create(tx: Tx, new: NewNode) -> int | None:
    """Insert a node; None if its hostname is taken (the caller picks another)."""
    params = attrs.asdict(new)
    params["power_parameters"] = (None if new.power_parameters is None
                                  else Json(new.power_parameters))
    value = await tx.fetchval(INSERT, params)
    return None if value is None else int(value)


async def add_macs(tx: Tx, node_id: int, macs: Sequence[str]) -> int:
    """Attach macs to a node; returns how many were new (a taken MAC is skipped)."""
    return await tx.execute(ADD_MACS, {"node_id": node_id, "macs": list(macs)})


async def update(tx: Tx, node_id: int, **fields: Any) -> None:
    """Set columns of one node; ``updated`` is refreshed."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    if not fields:
        return
    # psycopg2 sends a list as text[], which PostgreSQL will not assign to macaddr[].
    assignments = [sql.SQL("{} = {}{}").format(
        sql.Identifier(name), sql.Placeholder(name),
        sql.SQL("::macaddr[]" if name == "routers" else ""))
        for name in fields]
    assignments.append(sql.SQL("updated = now()"))
    statement = sql.SQL("UPDATE nodes SET {} WHERE id = %(id)s").format(
        sql.SQL(", ").join(assignments))
    values = {name: (Json(value) if name == "power_parameters" and value is not None else value)
              for name, value in fields.items()}
    await tx.execute(statement, {**values, "id": node_id})


async def delete(tx: Tx, node_id: int) -> None:
    """Delete a node, its children and its metadata credentials."""
    await tx.execute(DELETE_NODE_CREDENTIALS, {"id": node_id})
    await tx.execute(DELETE, {"id": node_id})


async def master_nodegroup_id(tx: Tx) -> int:
    return int(await tx.fetchval(MASTER_NODEGROUP))


async def nodegroup_id(tx: Tx, uuid: str) -> int | None:
    value = await tx.fetchval(NODEGROUP_BY_UUID, {"uuid": uuid})
    return None if value is None else int(value)


async def unknown_system_ids(tx: Tx, system_ids: Sequence[str]) -> list[str]:
    known = set(await tx.fetchcol("SELECT system_id FROM nodes WHERE system_id = ANY(%(ids)s)",
                                  {"ids": list(system_ids)}))
    return [system_id for system_id in system_ids if system_id not in known]


async def power_parameters(tx: Tx, system_ids: Sequence[str] = ()) -> dict[str, Any]:
    """system_id → power parameters ("" when never set), for admins."""
    where = "WHERE system_id = ANY(%(ids)s)" if system_ids else ""
    rows = await tx.fetchall(
        f"SELECT system_id, power_parameters FROM nodes {where} ORDER BY id",
        {"ids": list(system_ids)})
    return {system_id: ("" if params is None else params) for system_id, params in rows}


async def statuses(tx: Tx, system_ids: Sequence[str]) -> dict[str, int]:
    rows = await tx.fetchall(
        "SELECT system_id, status FROM nodes WHERE system_id = ANY(%(ids)s)",
        {"ids": list(system_ids)})
    return {system_id: status for system_id, status in rows}


async def ids_in_status(tx: Tx, status: int) -> list[str]:
    return await tx.fetchcol(
        "SELECT system_id FROM nodes WHERE status = %(status)s ORDER BY id", {"status": status})


async def fail_stale_commissioning(tx: Tx, minutes: int, commissioning: int,
                                   failed: int) -> list[str]:
    """Move nodes commissioning for longer than minutes to failed; return their ids."""
    return await tx.fetchcol(
        """UPDATE nodes SET status = %(failed)s, updated = now()
            WHERE status = %(commissioning)s
              AND updated < now() - make_interval(mins => %(minutes)s)
        RETURNING system_id""",
        {"failed": failed, "commissioning": commissioning, "minutes": minutes})


async def set_zone(tx: Tx, system_ids: Sequence[str], zone_id: int) -> int:
    return await tx.execute(
        "UPDATE nodes SET zone_id = %(zone)s, updated = now() WHERE system_id = ANY(%(ids)s)",
        {"zone": zone_id, "ids": list(system_ids)})
