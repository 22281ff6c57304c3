"""SQL for a node's MAC addresses and physical block devices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from region.db.pool import Tx

LIST = "SELECT mac::text FROM macaddresses WHERE node_id = %(node_id)s ORDER BY id"
EXISTS = "SELECT EXISTS (SELECT 1 FROM macaddresses WHERE node_id = %(node_id)s AND mac = %(mac)s)"
OWNER = """
    SELECT n.hostname FROM macaddresses m JOIN nodes n ON n.id = m.node_id
     WHERE m.mac = %(mac)s::macaddr
"""
INSERT = """
    INSERT INTO macaddresses (node_id, mac) VALUES (%(node_id)s, %(mac)s)
    ON CONFLICT (mac) DO NOTHING
    RETURNING mac::text
"""
DELETE = "DELETE FROM macaddresses WHERE node_id = %(node_id)s AND mac = %(mac)s::macaddr"
DELETE_OTHERS = """
    DELETE FROM macaddresses WHERE node_id = %(node_id)s AND NOT (mac = ANY(%(keep)s::macaddr[]))
"""
MOVE = """
    INSERT INTO macaddresses (node_id, mac)
    SELECT %(node_id)s, mac FROM unnest(%(macs)s::macaddr[]) AS mac
    ON CONFLICT (mac) DO UPDATE SET node_id = EXCLUDED.node_id
"""
REPLACE_DEVICES_DELETE = "DELETE FROM blockdevices WHERE node_id = %(node_id)s"
INSERT_DEVICE = """
    INSERT INTO blockdevices (node_id, name, path, id_path, size, block_size, model, serial, tags)
    VALUES (%(node_id)s, %(name)s, %(path)s, %(id_path)s, %(size)s, %(block_size)s, %(model)s,
            %(serial)s, %(tags)s)
    ON CONFLICT (node_id, path) DO NOTHING
"""
LIST_DEVICES = """
    SELECT id, name, path, size, tags FROM blockdevices WHERE node_id = %(node_id)s ORDER BY id
"""


async def list_macs(tx: Tx, node_id: int) -> list[str]:
    return await tx.fetchcol(LIST, {"node_id": node_id})


async def has_mac(tx: Tx, node_id: int, mac: str) -> bool:
    return bool(await tx.fetchval(EXISTS, {"node_id": node_id, "mac": mac}))


async def hostname_using(tx: Tx, mac: str) -> str | None:
    value = await tx.fetchval(OWNER, {"mac": mac})
    return None if value is None else str(value)


async def add_mac(tx: Tx, node_id: int, mac: str) -> bool:
    """Attach mac to the node; False if some node has it already."""
    return await tx.fetchval(INSERT, {"node_id": node_id, "mac": mac}) is not None


async def delete_mac(tx: Tx, node_id: int, mac: str) -> bool:
    return await tx.execute(DELETE, {"node_id": node_id, "mac": mac}) > 0


async def set_node_macs(tx: Tx, node_id: int, macs: Sequence[str]) -> None:
    """Make macs exactly the node's MACs, taking them from other nodes if need be
    (what commissioning's network-interfaces hook does)."""
    if not macs:
        return
    await tx.execute(MOVE, {"node_id": node_id, "macs": list(macs)})
    await tx.execute(DELETE_OTHERS, {"node_id": node_id, "keep": list(macs)})


async def replace_block_devices(tx: Tx, node_id: int, devices: Sequence[dict[str, Any]]) -> None:
    """Replace the node's physical block devices (from commissioning)."""
    await tx.execute(REPLACE_DEVICES_DELETE, {"node_id": node_id})
    for device in devices:
        await tx.execute(INSERT_DEVICE, {"node_id": node_id, **device})


async def list_block_devices(tx: Tx, node_id: int) -> list[tuple[int, str, str, int, list[str]]]:
    """(id, name, path, size, tags) of each device, in id order."""
    return [tuple(row) for row in await tx.fetchall(LIST_DEVICES, {"node_id": node_id})]  # type: ignore[misc]
