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

from region.db import nodegroup_interfaces, tokens
from region.db.pool import Tx
from region.domain.interfaces import reported_interfaces

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
#
# Everything below serves the REST API (nodegroups/, nodegroups/<uuid>/ and
# its interfaces) and reuses ``Nodegroup`` and ``get_by_uuid`` above.
# (Issue 4 item 5, by the nodegroups-API helper session; it also wrote
# region/api/handlers/{nodegroups,cluster_calls}.py, region/db/nodegroup_interfaces.py,
# migration 0006 and region/domain/{clusters,hardware_probe}.py, and builds on
# region/domain/interfaces.py as it stands.  Another session on the same item:
# please extend these files rather than replace them.)

LIST_ALL = f"SELECT {_COLUMNS} FROM nodegroups ORDER BY id"
SET_STATUSES = """
    UPDATE nodegroups SET status = %(status)s, updated = now()
     WHERE uuid = ANY(%(uuids)s) RETURNING uuid
"""
LOCK_UUIDS = "SELECT uuid FROM nodegroups WHERE uuid = ANY(%(uuids)s) ORDER BY id FOR UPDATE"
UPDATE_SETTINGS = f"""
    UPDATE nodegroups SET name = %(name)s, cluster_name = %(cluster_name)s,
                          status = %(status)s, updated = now()
     WHERE id = %(id)s
    RETURNING {_COLUMNS}
"""
CLUSTER_NAME_TAKEN = """
    SELECT EXISTS (SELECT 1 FROM nodegroups WHERE cluster_name = %(cluster_name)s
                                             AND id <> %(id)s)
"""
# 1.8 kept a cluster that serves DNS from renaming its zone under nodes in use.
DNS_ZONE_IN_USE = """
    SELECT EXISTS (SELECT 1 FROM nodegroup_interfaces
                    WHERE nodegroup_id = %(id)s AND management = 2)
       AND EXISTS (SELECT 1 FROM nodes WHERE nodegroup_id = %(id)s AND status = ANY(%(in_use)s))
"""
NODE_IDS = "SELECT system_id FROM nodes WHERE nodegroup_id = %(id)s ORDER BY id"
NODE_IDS_AMONG = """
    SELECT system_id FROM nodes WHERE nodegroup_id = %(id)s AND system_id = ANY(%(ids)s)
     ORDER BY id
"""
_DOWNLOAD_COLUMNS = "id, nodegroup_id, filename, size, bytes_downloaded, error"
START_DOWNLOAD = f"""
    INSERT INTO download_progress (nodegroup_id, filename, size, error)
    VALUES (%(id)s, %(filename)s, %(size)s, %(error)s)
    RETURNING {_DOWNLOAD_COLUMNS}
"""
LATEST_DOWNLOAD = f"""
    SELECT {_DOWNLOAD_COLUMNS} FROM download_progress
     WHERE nodegroup_id = %(id)s AND filename = %(filename)s
     ORDER BY id DESC LIMIT 1 FOR UPDATE
"""
UPDATE_DOWNLOAD = f"""
    UPDATE download_progress
       SET size = %(size)s, bytes_downloaded = %(bytes_downloaded)s, error = %(error)s,
           updated = now()
     WHERE id = %(download_id)s
    RETURNING {_DOWNLOAD_COLUMNS}
"""
LIST_DOWNLOADS = f"""
    SELECT {_DOWNLOAD_COLUMNS} FROM download_progress WHERE nodegroup_id = %(id)s ORDER BY id
"""

#: Node statuses during which 1.8 refused to rename a DNS-managing cluster's
#: zone: deployed (6), deploying (9), allocated (10).
NODES_IN_USE_STATUSES = (6, 9, 10)


@attrs.frozen
class DownloadProgress:
    """One download a cluster reported (``report_download_progress``)."""

    id: int
    nodegroup_id: int
    filename: str
    size: int | None
    bytes_downloaded: int | None
    error: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> DownloadProgress:
        return cls(*row)


async def list_all(tx: Tx) -> list[Nodegroup]:
    """Every cluster, the placeholder included, oldest first."""
    return [Nodegroup.from_row(row) for row in await tx.fetchall(LIST_ALL)]


async def set_statuses(tx: Tx, uuids: Sequence[str], state: ClusterState) -> list[str]:
    """
    Accept or reject clusters: all of uuids, or none of them.  Return the
    uuids that do not exist (then nothing is changed; the caller rolls back).
    """
    wanted = sorted(set(uuids))
    found = set(await tx.fetchcol(LOCK_UUIDS, {"uuids": wanted}))
    missing = [uuid for uuid in wanted if uuid not in found]
    if not missing:
        await tx.fetchcol(SET_STATUSES, {"uuids": wanted, "status": int(state)})
    return missing


async def cluster_name_taken(tx: Tx, nodegroup_id: int, cluster_name: str) -> bool:
    """True if another cluster is called cluster_name."""
    return bool(await tx.fetchval(CLUSTER_NAME_TAKEN,
                                  {"id": nodegroup_id, "cluster_name": cluster_name}))


async def dns_zone_in_use(tx: Tx, nodegroup_id: int) -> bool:
    """True if the cluster manages DNS and some of its nodes are allocated or deployed."""
    return bool(await tx.fetchval(DNS_ZONE_IN_USE, {
        "id": nodegroup_id, "in_use": list(NODES_IN_USE_STATUSES)}))


async def update_settings(tx: Tx, nodegroup_id: int, *, name: str, cluster_name: str,
                          status: ClusterState) -> Nodegroup:
    row = await tx.fetchone(UPDATE_SETTINGS, {"id": nodegroup_id, "name": name,
                                              "cluster_name": cluster_name,
                                              "status": int(status)})
    assert row is not None, "the caller holds the nodegroup's row lock"
    return Nodegroup.from_row(row)


async def node_ids(tx: Tx, nodegroup_id: int) -> list[str]:
    """The system_ids of the cluster's nodes, oldest first."""
    return [str(value) for value in await tx.fetchcol(NODE_IDS, {"id": nodegroup_id})]


async def node_ids_among(tx: Tx, nodegroup_id: int, system_ids: Sequence[str]) -> list[str]:
    """Those of system_ids that are nodes of the cluster."""
    return [str(value) for value in await tx.fetchcol(
        NODE_IDS_AMONG, {"id": nodegroup_id, "ids": list(system_ids)})]


async def start_download(tx: Tx, nodegroup_id: int, filename: str, *, size: int | None,
                         error: str) -> DownloadProgress:
    """Record the start of a new download of filename."""
    row = await tx.fetchone(START_DOWNLOAD, {"id": nodegroup_id, "filename": filename,
                                             "size": size, "error": error})
    assert row is not None
    return DownloadProgress.from_row(row)


async def latest_download(tx: Tx, nodegroup_id: int, filename: str) -> DownloadProgress | None:
    """The cluster's latest download of filename, locked for an update; None if none."""
    row = await tx.fetchone(LATEST_DOWNLOAD, {"id": nodegroup_id, "filename": filename})
    return None if row is None else DownloadProgress.from_row(row)


async def update_download(tx: Tx, download_id: int, *, size: int | None,
                          bytes_downloaded: int | None, error: str) -> DownloadProgress:
    row = await tx.fetchone(UPDATE_DOWNLOAD, {"download_id": download_id, "size": size,
                                              "bytes_downloaded": bytes_downloaded,
                                              "error": error})
    assert row is not None, "the caller holds the row lock"
    return DownloadProgress.from_row(row)


async def list_downloads(tx: Tx, nodegroup_id: int) -> list[DownloadProgress]:
    rows = await tx.fetchall(LIST_DOWNLOADS, {"id": nodegroup_id})
    return [DownloadProgress.from_row(row) for row in rows]


async def create_interfaces_from_networks(
        tx: Tx, nodegroup_id: int, networks: Sequence[Mapping[str, Any]]) -> list[str]:
    """
    For a registering cluster: create an UNMANAGED interface per reported
    network (``interface``, ``ip``, ``subnet_mask`` each), named after its
    network interface (``eth0``; a second network on the same interface gets
    ``eth0:1``), with the broadcast address computed — but only if the
    cluster has no interfaces yet, as 1.8 did.  Networks that are not
    consistent (a bad address or mask) are skipped.  Call it inside the
    registration's transaction; it locks the cluster's row.  Returns the names
    of the interfaces created (empty when the cluster had some already).
    """
    created = await nodegroup_interfaces.create_if_none(
        tx, nodegroup_id, reported_interfaces(networks))
    return [interface.name for interface in created]
