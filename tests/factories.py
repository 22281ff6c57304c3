"""
Factories for test data, written through the region's own database functions.

``await make_node(db, status=NodeStatus.READY, cpu_count=4, tags=["ssd"])``
creates a node with a unique hostname and MAC, and whatever hardware facts
are asked for.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence
from typing import Any

from region.db import macs as db_macs
from region.db import nodes as db_nodes
from region.db import tags as db_tags
from region.db import users as db_users
from region.db import zones as db_zones
from region.db.pool import Database, Tx
from region.domain.lifecycle import NodeStatus

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}-{next(_counter)}"


def random_mac() -> str:
    octets = secrets.token_bytes(5)
    return "02:" + ":".join(f"{octet:02x}" for octet in octets)


async def make_user(db: Database, *, admin: bool = False) -> db_users.User:
    return await db.transaction(lambda tx: db_users.create(
        tx, username=unique("user"), email="u@example.com", password_hash="x",
        is_superuser=admin))


async def make_zone(db: Database) -> db_zones.Zone:
    return await db.transaction(lambda tx: db_zones.create(tx, unique("zone"), ""))


async def ensure_tag(tx: Tx, name: str) -> db_tags.Tag:
    tag = await db_tags.get(tx, name)
    if tag is None:
        tag = await db_tags.create(tx, name=name, definition="", comment="", kernel_opts="")
    return tag


async def make_node(
    db: Database,
    *,
    status: NodeStatus = NodeStatus.READY,
    architecture: str = "amd64/generic",
    cpu_count: int = 1,
    memory: int = 1024,
    tags: Sequence[str] = (),
    zone: str | None = None,
    routers: Sequence[str] | None = None,
    disks: Sequence[tuple[int, Sequence[str]]] = (),
    owner_id: int | None = None,
    hostname: str | None = None,
) -> db_nodes.Node:
    """A node in status with the given facts; disks are (size in bytes, tags) pairs."""

    async def work(tx: Tx) -> db_nodes.Node:
        zone_id = None
        if zone is not None:
            found = await db_zones.get(tx, zone)
            assert found is not None
            zone_id = found.id
        system_id = unique("node")
        node_id = await db_nodes.create(tx, db_nodes.NewNode(
            system_id=system_id, hostname=hostname or unique("host"),
            nodegroup_id=await db_nodes.master_nodegroup_id(tx), status=int(status),
            architecture=architecture, owner_id=owner_id, zone_id=zone_id,
            cpu_count=cpu_count, memory=memory))
        assert node_id is not None
        await db_nodes.add_macs(tx, node_id, [random_mac()])
        fields: dict[str, Any] = {}
        if routers is not None:
            fields["routers"] = list(routers)
        if fields:
            await db_nodes.update(tx, node_id, **fields)
        for name in tags:
            tag = await ensure_tag(tx, name)
            await db_tags.add_nodes(tx, tag.id, [system_id])
        await db_macs.replace_block_devices(tx, node_id, [
            {"name": f"sd{chr(97 + i)}", "path": f"/dev/sd{chr(97 + i)}", "id_path": "",
             "size": size, "block_size": 512, "model": "", "serial": "", "tags": list(disk_tags)}
            for i, (size, disk_tags) in enumerate(disks)])
        node = await db_nodes.get(tx, system_id)
        assert node is not None
        return node

    return await db.transaction(work)
