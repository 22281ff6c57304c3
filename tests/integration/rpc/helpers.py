"""Making clusters and nodes in the database for RPC tests."""

from __future__ import annotations

import secrets
from typing import Any

from region.db import nodegroups
from region.db import nodes as db_nodes
from region.db.nodegroups import ClusterState
from region.db.pool import Database, Tx
from region.domain.lifecycle import NodeStatus
from region.rpc import registration

MASTER_TAKEN = "taken-over-master"


async def make_cluster(db: Database, state: ClusterState = ClusterState.ACCEPTED,
                       *, networks: list[dict[str, str]] | None = None) -> str:
    """A registered cluster (never the placeholder) in state; returns its uuid."""
    # Whoever registers first takes the placeholder over: make sure that is done.
    await registration.register_cluster(db, MASTER_TAKEN)
    uuid = "cluster-" + secrets.token_hex(6)
    await registration.register_cluster(db, uuid, networks)
    await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, state))
    return uuid


def random_mac() -> str:
    return "02:" + ":".join(secrets.token_hex(1) for _ in range(5))


async def make_node(db: Database, cluster_uuid: str, *, status: NodeStatus = NodeStatus.READY,
                    power_type: str = "ipmi", power_parameters: dict[str, Any] | None = None,
                    macs: int = 1, queried_ago: float | None = None,
                    **fields: Any) -> db_nodes.Node:
    """A node of the cluster; queried_ago sets power_state_updated that many seconds ago."""
    if power_parameters is None and power_type:
        power_parameters = {"power_address": "10.9.9.9", "power_user": "admin",
                            "power_pass": "pw-" + secrets.token_hex(4)}

    async def work(tx: Tx) -> db_nodes.Node:
        nodegroup_id = await db_nodes.nodegroup_id(tx, cluster_uuid)
        assert nodegroup_id is not None
        system_id = "node-" + secrets.token_hex(8)
        node_id = await db_nodes.create(tx, db_nodes.NewNode(
            system_id=system_id, hostname="h-" + secrets.token_hex(6),
            nodegroup_id=nodegroup_id, status=int(status), architecture="amd64/generic",
            power_type=power_type, power_parameters=power_parameters))
        assert node_id is not None
        await db_nodes.add_macs(tx, node_id, [random_mac() for _ in range(macs)])
        if fields:
            await db_nodes.update(tx, node_id, **fields)
        if queried_ago is not None:
            await tx.execute(
                "UPDATE nodes SET power_state_updated = now() - make_interval(secs => %s)"
                " WHERE id = %s", (queried_ago, node_id))
        node = await db_nodes.get(tx, system_id)
        assert node is not None
        return node

    return await db.transaction(work)


async def fetch(db: Database, sql: str, params: Any = None) -> Any:
    return await db.transaction(lambda tx: tx.fetchone(sql, params))
