"""Clusters' REST-side SQL against PostgreSQL: interfaces, accept/reject, downloads."""

from __future__ import annotations

import secrets

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults

from region.db import nodegroup_interfaces as db_interfaces
from region.db import nodegroups
from region.db.nodegroup_interfaces import InterfaceExists
from region.db.nodegroups import ClusterState
from region.db.pool import Database, Tx
from region.domain.interfaces import check_interface

pytestmark = pytest.mark.integration

NETWORKS = [{"interface": "eth0", "ip": "192.168.10.1", "subnet_mask": "255.255.255.0"},
            {"interface": "eth0", "ip": "192.168.11.1", "subnet_mask": "255.255.255.0"},
            {"interface": "eth1", "ip": "not-an-ip", "subnet_mask": "255.255.0.0"}]


async def new_cluster(db: Database, state: ClusterState = ClusterState.PENDING
                      ) -> nodegroups.Nodegroup:
    uuid = "db-" + secrets.token_hex(6)
    created = await db.transaction(lambda tx: nodegroups.create_pending(tx, uuid))
    assert created is not None
    if state is not ClusterState.PENDING:
        await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, state))
    return created


@pytest_twisted.ensureDeferred
async def test_reported_networks_become_interfaces_once(db: Database) -> None:
    """A registering cluster's networks become unmanaged interfaces, only while it has none."""
    cluster = await new_cluster(db)
    created = await db.transaction(
        lambda tx: nodegroups.create_interfaces_from_networks(tx, cluster.id, NETWORKS))
    assert created == ["eth0", "eth0:1"]
    found = await db.transaction(lambda tx: db_interfaces.list_for(tx, cluster.id))
    assert [(i.name, i.interface, i.ip, i.subnet_mask, i.broadcast_ip, i.management)
            for i in found] == [
        ("eth0", "eth0", "192.168.10.1", "255.255.255.0", "192.168.10.255", 0),
        ("eth0:1", "eth0", "192.168.11.1", "255.255.255.0", "192.168.11.255", 0)]
    assert await db.transaction(lambda tx: db_interfaces.set_foreign_dhcp_ip(
        tx, cluster.id, "eth0", "192.168.10.9")) == 2
    assert {i.foreign_dhcp_ip for i in await db.transaction(
        lambda tx: db_interfaces.list_for(tx, cluster.id))} == {"192.168.10.9"}
    again = await db.transaction(lambda tx: nodegroups.create_interfaces_from_networks(
        tx, cluster.id, [{"interface": "eth5", "ip": "10.5.0.1", "subnet_mask": "255.0.0.0"}]))
    assert again == []


@pytest_twisted.ensureDeferred
async def test_concurrent_registrations_create_one_set(db: Database) -> None:
    """Two registrations at once agree: one creates the interfaces, the other none."""
    cluster = await new_cluster(db)

    def create() -> Deferred[list[str]]:
        return Deferred.fromCoroutine(db.transaction(
            lambda tx: nodegroups.create_interfaces_from_networks(tx, cluster.id, NETWORKS)))

    results = await gatherResults([create(), create()])
    assert sorted(results) == [[], ["eth0", "eth0:1"]]


@pytest_twisted.ensureDeferred
async def test_set_statuses_is_all_or_nothing(db: Database) -> None:
    first, second = await new_cluster(db), await new_cluster(db)
    missing = await db.transaction(lambda tx: nodegroups.set_statuses(
        tx, [first.uuid, "db-missing"], ClusterState.ACCEPTED))
    assert missing == ["db-missing"]
    states = await db.transaction(lambda tx: nodegroups.statuses(tx, [first.uuid]))
    assert states[first.uuid] is ClusterState.PENDING
    assert await db.transaction(lambda tx: nodegroups.set_statuses(
        tx, [first.uuid, second.uuid, first.uuid], ClusterState.REJECTED)) == []
    states = await db.transaction(lambda tx: nodegroups.statuses(tx, [first.uuid, second.uuid]))
    assert set(states.values()) == {ClusterState.REJECTED}


@pytest_twisted.ensureDeferred
async def test_interface_names_are_unique_per_cluster(db: Database) -> None:
    """The same name twice in a cluster is refused; in another cluster it is fine."""
    one, two = await new_cluster(db), await new_cluster(db)
    eth0 = check_interface({"name": "eth0", "ip": "10.0.0.1"})
    await db.transaction(lambda tx: db_interfaces.create(tx, one.id, eth0))
    with pytest.raises(InterfaceExists):
        await db.transaction(lambda tx: db_interfaces.create(tx, one.id, eth0))
    await db.transaction(lambda tx: db_interfaces.create(tx, two.id, eth0))
    eth1 = check_interface({"name": "eth1", "ip": "10.0.0.2"})
    created = await db.transaction(lambda tx: db_interfaces.create(tx, one.id, eth1))

    async def rename(tx: Tx) -> None:
        await db_interfaces.update(tx, created.id, eth0)

    with pytest.raises(InterfaceExists):
        await db.transaction(rename)
    assert [i.name for i in await db.transaction(
        lambda tx: db_interfaces.list_for(tx, one.id))] == ["eth0", "eth1"]
    assert await db.transaction(lambda tx: db_interfaces.delete(tx, one.id, "eth1"))
    assert not await db.transaction(lambda tx: db_interfaces.delete(tx, one.id, "eth1"))


@pytest_twisted.ensureDeferred
async def test_download_progress(db: Database) -> None:
    """A start row per download; later reports update the latest one of that file."""
    cluster = await new_cluster(db)
    first = await db.transaction(lambda tx: nodegroups.start_download(
        tx, cluster.id, "kernel", size=None, error=""))
    second = await db.transaction(lambda tx: nodegroups.start_download(
        tx, cluster.id, "kernel", size=50, error=""))
    latest = await db.transaction(lambda tx: nodegroups.latest_download(tx, cluster.id, "kernel"))
    assert latest == second and latest.id > first.id
    await db.transaction(lambda tx: nodegroups.update_download(
        tx, second.id, size=50, bytes_downloaded=50, error=""))
    assert [(d.size, d.bytes_downloaded) for d in await db.transaction(
        lambda tx: nodegroups.list_downloads(tx, cluster.id))] == [(None, None), (50, 50)]
    assert await db.transaction(
        lambda tx: nodegroups.latest_download(tx, cluster.id, "initrd")) is None
