"""
What Register and RegisterV2 do: find or create the cluster's nodegroup and
record what it reported.

- An unknown uuid takes over the placeholder nodegroup (uuid ``master``)
  while it is still the placeholder, and is ACCEPTED: the first cluster of a
  fresh MAAS just works.
- Any later unknown cluster is created PENDING (name ``maas``,
  cluster_name ``Cluster <uuid>``) and waits for an administrator's
  ``nodegroups op=accept`` (→ ACCEPTED) or ``op=reject`` (→ REJECTED).
- A known cluster keeps its state.  In particular a REJECTED cluster stays
  rejected when it reconnects: MAAS 1.8 saved the nodegroup with status
  ENABLED on every registration, which silently re-enabled a cluster an
  administrator had disabled.
- ``networks`` are kept as reported (``nodegroups.reported_networks``);
  malformed entries are dropped with a warning.  ``url`` becomes the
  cluster's ``maas_url`` unless its host is ``localhost`` (as 1.8).
- Every cluster gets a worker API token (user ``maas-nodegroup-worker``).

All of it happens in one transaction; concurrent registrations of the same
or different clusters are settled by the database (the placeholder row is
claimed by one UPDATE, new clusters by ``INSERT ... ON CONFLICT``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import netaddr
from twisted.logger import Logger

from region.db import nodegroups
from region.db.nodegroups import MASTER_PLACEHOLDER, ClusterState, Nodegroup
from region.db.pool import Database, Tx
from rpc.commands.region import ClusterStatus
from rpc.errors import CannotRegisterCluster

log = Logger(namespace="region.rpc.registration")

#: What a cluster uuid may look like (1.8 allowed 36 characters; we allow a few more).
_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

#: Database state → wire status.
WIRE_STATUS: Mapping[ClusterState, ClusterStatus] = {
    ClusterState.PENDING: ClusterStatus.PENDING,
    ClusterState.ACCEPTED: ClusterStatus.ACCEPTED,
    ClusterState.REJECTED: ClusterStatus.REJECTED,
}


def check_uuid(uuid: str) -> None:
    """Raise CannotRegisterCluster unless uuid can name a cluster."""
    if uuid == MASTER_PLACEHOLDER:
        raise CannotRegisterCluster(
            f"A cluster cannot be called {MASTER_PLACEHOLDER!r}; that name is reserved.")
    if not _UUID.match(uuid):
        raise CannotRegisterCluster(
            f"{uuid[:80]!r} is not a valid cluster UUID (1 to 64 letters, digits, '.', "
            "'_', ':' or '-').")


def valid_networks(uuid: str, networks: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The well-formed entries of networks (an address and a netmask each)."""
    kept = []
    for network in networks:
        interface = str(network.get("interface", ""))
        ip = str(network.get("ip", ""))
        mask = str(network.get("subnet_mask", ""))
        try:
            address = netaddr.IPAddress(ip)
            netaddr.IPNetwork(f"{address}/{mask}")
            if not interface or not netaddr.IPAddress(mask).is_netmask():
                raise ValueError("not a netmask")
        except (netaddr.AddrFormatError, ValueError, TypeError):
            log.warn("Cluster {uuid} reported an unusable network {interface!r} {ip!r}/{mask!r};"
                     " ignored", uuid=uuid, interface=interface[:40], ip=ip[:60], mask=mask[:60])
            continue
        kept.append({"interface": interface, "ip": str(address), "subnet_mask": mask})
    return kept


def maas_url_from(url: Any) -> str | None:
    """The URL to record as the cluster's maas_url, or None (absent or localhost)."""
    if url is None:
        return None
    host = getattr(url, "host", "") or ""
    if not host or host.lower() == "localhost":
        return None
    text: str = url.to_text()
    return text


async def find_or_create(tx: Tx, uuid: str) -> tuple[Nodegroup, bool]:
    """Cluster uuid's nodegroup, locked; True if it was created (or took over the placeholder)."""
    found = await nodegroups.get_by_uuid(tx, uuid, for_update=True)
    if found is not None:
        return found, False
    taken = await nodegroups.take_over_master(tx, uuid)
    if taken is not None:
        log.info("Cluster {uuid} took over the master placeholder and is accepted", uuid=uuid)
        return taken, True
    created = await nodegroups.create_pending(tx, uuid)
    if created is not None:
        log.info("Cluster {uuid} is new; it waits for an administrator to accept it", uuid=uuid)
        return created, True
    # Created meanwhile by a concurrent registration, which has committed.
    found = await nodegroups.get_by_uuid(tx, uuid, for_update=True)
    if found is None:
        raise CannotRegisterCluster(f"Cluster {uuid} could not be registered; try again.")
    return found, False


async def register(tx: Tx, uuid: str, networks: Sequence[Mapping[str, Any]] | None,
                   url: Any) -> ClusterStatus:
    """Register cluster uuid inside tx; return its state (the caller decides what to answer)."""
    check_uuid(uuid)
    nodegroup, _created = await find_or_create(tx, uuid)
    if networks is not None:
        reported = valid_networks(uuid, networks)
        await nodegroups.set_reported_networks(tx, nodegroup.id, reported)
        # The cluster's first registration describes its networks as
        # unmanaged interfaces (1.8); an admin then manages them.
        await nodegroups.create_interfaces_from_networks(tx, nodegroup.id, reported)
    maas_url = maas_url_from(url)
    if maas_url is not None and maas_url != nodegroup.maas_url:
        await nodegroups.set_maas_url(tx, nodegroup.id, maas_url)
    await nodegroups.ensure_worker_token(tx, nodegroup)
    return WIRE_STATUS[nodegroup.state]


async def register_cluster(db: Database, uuid: str,
                           networks: Sequence[Mapping[str, Any]] | None = None,
                           url: Any = None) -> ClusterStatus:
    """Register cluster uuid in its own transaction; return ACCEPTED, PENDING or REJECTED."""
    return await db.transaction(lambda tx: register(tx, uuid, networks, url))


async def cluster_status(db: Database, uuid: str) -> ClusterStatus | None:
    """The state of cluster uuid, or None if there is no such cluster."""
    found = await db.transaction(lambda tx: nodegroups.statuses(tx, [uuid]))
    state = found.get(uuid)
    return None if state is None else WIRE_STATUS[state]


async def cluster_statuses(db: Database, uuids: Sequence[str]) -> dict[str, ClusterStatus]:
    """uuid → state for those of uuids that exist."""
    found = await db.transaction(lambda tx: nodegroups.statuses(tx, uuids))
    return {uuid: WIRE_STATUS[state] for uuid, state in found.items()}


async def set_cluster_state(db: Database, clusters: Any, uuid: str, state: ClusterState) -> bool:
    """
    An administrator's decision (``nodegroups op=accept|reject``, or PUT
    ``status``): store it and apply it to this process's connections at once
    (other region processes pick it up within seconds).  ``clusters`` is the
    ``ClusterConnections`` of ``Services.extras["clusters"]``.  False if there
    is no such cluster.
    """
    found = await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, state))
    if found:
        clusters.set_status(uuid, WIRE_STATUS[state])
        log.info("Cluster {uuid} is now {state}", uuid=uuid, state=WIRE_STATUS[state].value)
    return found
