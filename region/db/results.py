"""SQL for the results of commissioning and installation scripts (node results)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from region.db.pool import Tx

COMMISSIONING = 0
INSTALLATION = 1

#: Result names whose content is exposed as a node's probed details.
LSHW_OUTPUT = "00-maas-01-lshw.out"
LLDP_OUTPUT = "99-maas-02-capture-lldp.out"

STORE = """
    INSERT INTO node_results (node_id, name, script_result, result_type, data)
    VALUES (%(node_id)s, %(name)s, %(script_result)s, %(result_type)s, %(data)s)
    ON CONFLICT (node_id, name) DO UPDATE
       SET script_result = EXCLUDED.script_result, result_type = EXCLUDED.result_type,
           data = EXCLUDED.data, updated = now()
"""
DELETE_FOR_NODE = "DELETE FROM node_results WHERE node_id = %(node_id)s AND result_type = %(type)s"
DETAILS = """
    SELECT name, data FROM node_results
     WHERE node_id = %(node_id)s AND result_type = 0 AND name = ANY(%(names)s)
"""
DETAILS_MANY = """
    SELECT n.system_id, r.name, r.data
      FROM nodes n LEFT JOIN node_results r
        ON r.node_id = n.id AND r.result_type = 0 AND r.name = ANY(%(names)s)
     WHERE n.system_id = ANY(%(ids)s)
"""


async def store(tx: Tx, node_id: int, name: str, data: bytes, *, script_result: int,
                result_type: int) -> None:
    await tx.execute(STORE, {"node_id": node_id, "name": name, "data": data,
                             "script_result": script_result, "result_type": result_type})


async def delete_for_node(tx: Tx, node_id: int, *, result_type: int) -> None:
    await tx.execute(DELETE_FOR_NODE, {"node_id": node_id, "type": result_type})


async def details(tx: Tx, node_id: int) -> dict[str, bytes | None]:
    """The node's probed details: {"lshw": xml-or-None, "lldp": xml-or-None}."""
    rows = await tx.fetchall(DETAILS, {"node_id": node_id, "names": [LSHW_OUTPUT, LLDP_OUTPUT]})
    found = {name: bytes(data) for name, data in rows}
    return {"lshw": found.get(LSHW_OUTPUT), "lldp": found.get(LLDP_OUTPUT)}


async def details_many(tx: Tx, system_ids: Sequence[str]) -> dict[str, dict[str, bytes | None]]:
    """Probed details of several nodes, keyed by system_id."""
    rows = await tx.fetchall(DETAILS_MANY, {"ids": list(system_ids),
                                            "names": [LSHW_OUTPUT, LLDP_OUTPUT]})
    result: dict[str, dict[str, bytes | None]] = {}
    for system_id, name, data in rows:
        entry = result.setdefault(system_id, {"lshw": None, "lldp": None})
        if name == LSHW_OUTPUT:
            entry["lshw"] = bytes(data)
        elif name == LLDP_OUTPUT:
            entry["lldp"] = bytes(data)
    return result


async def list_results(tx: Tx, *, user_id: int | None, admin: bool,
                       system_ids: Sequence[str] = (), names: Sequence[str] = (),
                       result_type: int | None = None) -> list[dict[str, Any]]:
    """Results of nodes the viewer may see, filtered, with their node's system_id."""
    clauses = ["(%(admin)s OR n.owner_id IS NULL OR n.owner_id = %(user_id)s)"]
    params: dict[str, Any] = {"admin": admin, "user_id": user_id}
    if system_ids:
        clauses.append("n.system_id = ANY(%(ids)s)")
        params["ids"] = list(system_ids)
    if names:
        clauses.append("r.name = ANY(%(names)s)")
        params["names"] = list(names)
    if result_type is not None:
        clauses.append("r.result_type = %(result_type)s")
        params["result_type"] = result_type
    return await tx.fetchdicts(
        f"""SELECT r.name, r.script_result, r.result_type, r.created, r.updated, r.data,
                   n.system_id
              FROM node_results r JOIN nodes n ON n.id = r.node_id
             WHERE {' AND '.join(clauses)}
             ORDER BY r.id""", params)
