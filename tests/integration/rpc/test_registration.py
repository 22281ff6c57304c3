"""Registration against PostgreSQL: master takeover, pending, rejected stays rejected."""

from __future__ import annotations

import pytest
import pytest_twisted
from hyperlink import URL
from twisted.internet.defer import Deferred, gatherResults

from region.db import nodegroups
from region.db.nodegroups import ClusterState
from region.db.pool import Database
from region.rpc import registration
from region.rpc.registration import register_cluster
from rpc.commands.region import ClusterStatus
from rpc.errors import CannotRegisterCluster
from tests.integration.rpc.helpers import fetch, make_cluster

pytestmark = pytest.mark.integration

NETWORKS = [{"interface": "eth0", "ip": "192.168.10.1", "subnet_mask": "255.255.255.0"},
            {"interface": "eth1", "ip": "not-an-ip", "subnet_mask": "255.255.0.0"},
            {"interface": "eth2", "ip": "10.1.0.1", "subnet_mask": "255.0.255.0"}]


async def nodegroup(db: Database, uuid: str) -> nodegroups.Nodegroup:
    found = await db.transaction(lambda tx: nodegroups.get_by_uuid(tx, uuid))
    assert found is not None
    return found


@pytest_twisted.ensureDeferred
async def test_first_cluster_takes_over_the_master_placeholder(fresh_db: Database) -> None:
    """The first cluster to register becomes the placeholder row, accepted; the next waits."""
    master_id = (await fetch(fresh_db, "SELECT id FROM nodegroups WHERE uuid = 'master'"))[0]
    assert await register_cluster(fresh_db, "first") is ClusterStatus.ACCEPTED
    first = await nodegroup(fresh_db, "first")
    assert (first.id, first.name, first.cluster_name, first.state) == (
        master_id, "maas", "Cluster first", ClusterState.ACCEPTED)
    assert await register_cluster(fresh_db, "second") is ClusterStatus.PENDING
    second = await nodegroup(fresh_db, "second")
    assert (second.name, second.cluster_name, second.state) == (
        "maas", "Cluster second", ClusterState.PENDING)
    assert await fetch(fresh_db, "SELECT count(*) FROM nodegroups") == (2,)


@pytest_twisted.ensureDeferred
async def test_concurrent_first_registrations_take_over_master_once(fresh_db: Database) -> None:
    """Clusters registering at the same moment: exactly one takes the placeholder over."""
    uuids = [f"racer-{n}" for n in range(6)]
    results = await gatherResults(
        [Deferred.fromCoroutine(register_cluster(fresh_db, uuid)) for uuid in uuids])
    assert sorted(status.value for status in results) == ["ACCEPTED"] + ["PENDING"] * 5
    assert await fetch(fresh_db, "SELECT count(*) FROM nodegroups WHERE uuid = 'master'") == (0,)
    assert await fetch(fresh_db, "SELECT count(*) FROM nodegroups") == (6,)


@pytest_twisted.ensureDeferred
async def test_an_admins_name_for_the_placeholder_is_kept(fresh_db: Database) -> None:
    """Taking over the placeholder keeps a cluster_name an administrator gave it."""
    await fresh_db.transaction(lambda tx: tx.execute(
        "UPDATE nodegroups SET cluster_name = 'Rack A' WHERE uuid = 'master'"))
    await register_cluster(fresh_db, "rack-a")
    assert (await nodegroup(fresh_db, "rack-a")).cluster_name == "Rack A"


@pytest_twisted.ensureDeferred
async def test_known_clusters_keep_their_state(db: Database) -> None:
    """Registering again changes nothing; a rejected cluster stays rejected (unlike 1.8)."""
    uuid = await make_cluster(db, ClusterState.PENDING)
    assert await register_cluster(db, uuid) is ClusterStatus.PENDING
    await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, ClusterState.REJECTED))
    assert await register_cluster(db, uuid) is ClusterStatus.REJECTED
    assert (await nodegroup(db, uuid)).state is ClusterState.REJECTED
    await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, ClusterState.ACCEPTED))
    assert await register_cluster(db, uuid) is ClusterStatus.ACCEPTED
    assert await registration.cluster_status(db, uuid) is ClusterStatus.ACCEPTED
    assert await registration.cluster_status(db, "no-such-cluster") is None


@pytest_twisted.ensureDeferred
async def test_networks_and_url_are_recorded(db: Database) -> None:
    """Well-formed networks are kept (others dropped); url becomes maas_url unless localhost."""
    uuid = await make_cluster(db, ClusterState.PENDING)
    await register_cluster(db, uuid, NETWORKS, URL.from_text("http://10.0.0.2:5240/MAAS/"))
    found = await nodegroup(db, uuid)
    assert found.reported_networks == [NETWORKS[0]]
    assert found.maas_url == "http://10.0.0.2:5240/MAAS/"
    await register_cluster(db, uuid, None, URL.from_text("http://localhost:5240/MAAS/"))
    found = await nodegroup(db, uuid)
    assert found.maas_url == "http://10.0.0.2:5240/MAAS/"
    assert found.reported_networks == [NETWORKS[0]]  # no networks given: kept
    assert nodegroups.interfaces_from_networks(found.reported_networks) == [
        {"name": "eth0", "interface": "eth0", "ip": "192.168.10.1",
         "subnet_mask": "255.255.255.0", "management": 0}]


@pytest_twisted.ensureDeferred
async def test_every_cluster_gets_a_worker_token(db: Database) -> None:
    """A registered cluster has API credentials of maas-nodegroup-worker, made once."""
    uuid = await make_cluster(db, ClusterState.PENDING)
    first = await nodegroup(db, uuid)
    owner = await fetch(db, "SELECT u.username FROM tokens t JOIN users u ON u.id = t.user_id"
                            " WHERE t.id = %s", (first.token_id,))
    assert owner == ("maas-nodegroup-worker",)
    await register_cluster(db, uuid)
    assert (await nodegroup(db, uuid)).token_id == first.token_id


@pytest_twisted.ensureDeferred
async def test_bad_uuids_are_refused(db: Database) -> None:
    """'master' is reserved; empty or odd uuids cannot register."""
    for uuid in ("master", "", "has space", "x" * 65, "../etc"):
        with pytest.raises(CannotRegisterCluster):
            await register_cluster(db, uuid)


@pytest_twisted.ensureDeferred
async def test_an_administrators_decision_applies_at_once(db: Database) -> None:
    """set_cluster_state stores the decision and updates this process's connections."""
    from twisted.internet import reactor
    from twisted.protocols import amp

    from region.rpc.connections import ClusterConnections

    clusters = ClusterConnections(reactor)
    uuid = await make_cluster(db, ClusterState.PENDING)
    clusters.add(uuid, amp.AMP(), ClusterStatus.PENDING)
    assert await registration.set_cluster_state(db, clusters, uuid, ClusterState.ACCEPTED)
    assert clusters.connected_uuids() == [uuid]
    assert await registration.cluster_status(db, uuid) is ClusterStatus.ACCEPTED
    assert await registration.set_cluster_state(db, clusters, uuid, ClusterState.REJECTED)
    assert clusters.connected_uuids() == []
    assert not await registration.set_cluster_state(db, clusters, "no-such", ClusterState.ACCEPTED)
