"""SQL for the user data a node is handed by the metadata service (``node_userdata``)."""

from __future__ import annotations

from region.db.pool import Tx

SELECT = "SELECT data FROM node_userdata WHERE node_id = %(node_id)s"
UPSERT = """
    INSERT INTO node_userdata (node_id, data) VALUES (%(node_id)s, %(data)s)
    ON CONFLICT (node_id) DO UPDATE SET data = EXCLUDED.data
"""
DELETE = "DELETE FROM node_userdata WHERE node_id = %(node_id)s"


async def get(tx: Tx, node_id: int) -> bytes | None:
    value = await tx.fetchval(SELECT, {"node_id": node_id})
    return None if value is None else bytes(value)


async def put(tx: Tx, node_id: int, data: bytes) -> None:
    await tx.execute(UPSERT, {"node_id": node_id, "data": data})


async def delete(tx: Tx, node_id: int) -> None:
    await tx.execute(DELETE, {"node_id": node_id})
