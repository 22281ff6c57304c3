"""
SQL for clusters (nodegroups).

The first part serves cluster registration over RPC (``region.rpc``): the
placeholder row ``master``, pending clusters, the worker token, what a
cluster reports (networks, leases, foreign DHCP servers).  The REST API's
functions follow below it.

Status values: 0 pending, 1 accepted (1.8: ENABLED), 2 rejected (1.8: DISABLED).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from psycopg2.extras import Json

from region.db import tokens
from region.db.pool import Tx

#: The uuid of the placeholder cluster that the first cluster to register takes over.
MASTER_PLACEHOLDER = "master"
#: The built-in user that owns the clusters' worker credentials.
WORKER_USER = "maas-nodegroup-worker"

_COLUMNS = """
    id, uuid, name, cluster_name, status, token_id, maas_url, reported_networks, foreign_dhcp
"""

SELECT_BY_UUID = f"SELECT {_COLUMNS} FROM nodegroups WHERE uuid = %(uuid)s"
# The placeholder is taken over by one registration only: concurrent ones wait
# for the row lock, then find the uuid changed and update nothing.
TAKE_OVER_MASTER = f"""
    UPDATE nodegroups
       SET uuid = %(uuid)s,
           cluster_name = CASE WHEN cluster_name = 'Cluster ' || %(placeholder)s
                               THEN %(cluster_name)s ELSE cluster_name END,
           status = 1, updated = now()
     WHERE id = (SELECT id FROM nodegroups ORDER BY id LIMIT 1)
       AND uuid = %(placeholder)s
    RETURNING {_COLUMNS}
"""
INSERT_PENDING = f"""
    INSERT INTO nodegroups (uuid, name, cluster_name, status)
    VALUES (%(uuid)s, %(name)s, %(cluster_name)s, 0)
    ON CONFLICT (uuid) DO NOTHING
    RETURNING {_COLUMNS}
"""
SET_REPORTED = """
    UPDATE nodegroups SET reported_networks = %(networks)s, updated = now()
     WHERE id = %(id)s
"""
SET_MAAS_URL = "UPDATE nodegroups SET maas_url = %(url)s, updated = now() WHERE id = %(id)s"
# (S105: SQL, not a password.)
SET_TOKEN = "UPDATE nodegroups SET token_id = %(token_id)s WHERE id = %(id)s AND token_id IS NULL"  # noqa: S105
WORKER_USER_ID = "SELECT id FROM users WHERE username = %(username)s AND is_system"
STATUSES = "SELECT uuid, status FROM nodegroups WHERE uuid = ANY(%(uuids)s)"
SET_STATUS = """
    UPDATE nodegroups SET status = %(status)s, updated = now()
     WHERE uuid = %(uuid)s RETURNING id
"""
DELETE_LEASES = "DELETE FROM dhcp_leases WHERE nodegroup_id = %(id)s"
INSERT_LEASES = """
    INSERT INTO dhcp_leases (nodegroup_id, ip, mac)
    SELECT %(id)s, ip, mac
      FROM unnest(%(ips)s::inet[], %(macs)s::macaddr[]) AS lease (ip, mac)
    ON CONFLICT (nodegroup_id, ip) DO UPDATE SET mac = EXCLUDED.mac
"""
LIST_LEASES = """
    SELECT host(ip), mac::text FROM dhcp_leases WHERE nodegroup_id = %(id)s ORDER BY ip
"""
SET_FOREIGN_DHCP = """
    UPDATE nodegroups
       SET foreign_dhcp = CASE WHEN %(ip)s::text IS NULL
                               THEN foreign_dhcp - %(interface)s
                               ELSE foreign_dhcp || jsonb_build_object(%(interface)s, %(ip)s::text)
                          END
     WHERE uuid = %(uuid)s
    RETURNING id
"""


class ClusterState(enum.IntEnum):
    """``nodegroups.status``."""

    PENDING = 0
    ACCEPTED = 1
    REJECTED = 2


@attrs.frozen
class Nodegroup:
    """What registration needs to know of a cluster."""

    id: int
    uuid: str
    name: str
    cluster_name: str
    status: int
    token_id: int | None
    maas_url: str
    #: ``[{"interface": ..., "ip": ..., "subnet_mask": ...}, ...]`` as last reported.
    reported_networks: list[dict[str, str]]
    #: ``{"<interface>": "<ip>"}``: DHCP servers not run by MAAS that the cluster saw.
    foreign_dhcp: dict[str, str]

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Nodegroup:
        return cls(*row)

    @property
    def state(self) -> ClusterState:
        return ClusterState(self.status)


def default_cluster_name(uuid: str) -> str:
    """The name 1.8 gives a cluster that did not choose one."""
    return f"Cluster {uuid}"


def _networks_json(networks: Sequence[Mapping[str, str]]) -> Json:
    keys = ("interface", "ip", "subnet_mask")
    return Json([{key: str(network.get(key, "")) for key in keys} for network in networks])


async def get_by_uuid(tx: Tx, uuid: str, *, for_update: bool = False) -> Nodegroup | None:
    row = await tx.fetchone(SELECT_BY_UUID + (" FOR UPDATE" if for_update else ""),
                            {"uuid": uuid})
    return None if row is None else Nodegroup.from_row(row)


async def take_over_master(tx: Tx, uuid: str) -> Nodegroup | None:
    """Give the placeholder row to cluster uuid, accepted; None if it is no longer a placeholder."""
    row = await tx.fetchone(TAKE_OVER_MASTER, {
        "uuid": uuid, "placeholder": MASTER_PLACEHOLDER,
        "cluster_name": default_cluster_name(uuid)})
    return None if row is None else Nodegroup.from_row(row)


async def create_pending(tx: Tx, uuid: str, *, name: str = "maas",
                         cluster_name: str | None = None) -> Nodegroup | None:
    """Create cluster uuid, pending; None if it exists (a concurrent registration)."""
    row = await tx.fetchone(INSERT_PENDING, {
        "uuid": uuid, "name": name, "cluster_name": cluster_name or default_cluster_name(uuid)})
    return None if row is None else Nodegroup.from_row(row)


async def set_reported_networks(tx: Tx, nodegroup_id: int,
                                networks: Sequence[Mapping[str, str]]) -> None:
    await tx.execute(SET_REPORTED, {"id": nodegroup_id, "networks": _networks_json(networks)})


async def set_maas_url(tx: Tx, nodegroup_id: int, url: str) -> None:
    await tx.execute(SET_MAAS_URL, {"id": nodegroup_id, "url": url})


async def ensure_worker_token(tx: Tx, nodegroup: Nodegroup) -> int:
    """The cluster's worker token (of ``maas-nodegroup-worker``), created on first need."""
    if nodegroup.token_id is not None:
        return nodegroup.token_id
    user_id = await tx.fetchval(WORKER_USER_ID, {"username": WORKER_USER})
    if user_id is None:
        raise RuntimeError(f"the built-in user {WORKER_USER} is missing; run 'maas-region migrate'")
    token = await tokens.create(tx, int(user_id))
    await tx.execute(SET_TOKEN, {"id": nodegroup.id, "token_id": token.id})
    return token.id


async def statuses(tx: Tx, uuids: Iterable[str]) -> dict[str, ClusterState]:
    """uuid → state, for those of uuids that exist."""
    rows = await tx.fetchall(STATUSES, {"uuids": list(uuids)})
    return {uuid: ClusterState(status) for uuid, status in rows}


async def set_status(tx: Tx, uuid: str, state: ClusterState) -> bool:
    """Accept or reject a cluster; False if there is no such cluster."""
    return await tx.fetchval(SET_STATUS, {"uuid": uuid, "status": int(state)}) is not None


async def replace_leases(tx: Tx, nodegroup_id: int, leases: Sequence[tuple[str, str]]) -> None:
    """Replace the cluster's DHCP leases with leases, ``(ip, mac)`` pairs."""
    await tx.execute(DELETE_LEASES, {"id": nodegroup_id})
    if leases:
        await tx.execute(INSERT_LEASES, {"id": nodegroup_id, "ips": [ip for ip, _ in leases],
                                         "macs": [mac for _, mac in leases]})


async def list_leases(tx: Tx, nodegroup_id: int) -> list[tuple[str, str]]:
    return [(ip, mac) for ip, mac in await tx.fetchall(LIST_LEASES, {"id": nodegroup_id})]


async def set_foreign_dhcp(tx: Tx, uuid: str, interface: str, ip: str | None) -> bool:
    """Record (or, with ip None, forget) a foreign DHCP server on one of the cluster's
    interfaces; False if there is no such cluster."""
    return await tx.fetchval(SET_FOREIGN_DHCP,
                             {"uuid": uuid, "interface": interface, "ip": ip}) is not None


def interfaces_from_networks(networks: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """
    The nodegroup interfaces 1.8 created from a registering cluster's networks:
    one per reported network, named after the network interface, UNMANAGED
    (``management`` 0), with no ranges.  For the interfaces table once it
    exists; 1.8 did this only when the cluster had no interfaces yet.
    """
    return [{"name": network["interface"], "interface": network["interface"],
             "ip": network["ip"], "subnet_mask": network["subnet_mask"], "management": 0}
            for network in networks]


# -- The REST API's functions (region/api/handlers/nodegroups*.py) go below ----
