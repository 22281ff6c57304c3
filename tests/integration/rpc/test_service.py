"""The RPC service on a real socket: a cluster connects, registers, is accepted and powered."""

from __future__ import annotations

import json
import secrets
import socket
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import deferLater

from region.config import RegionConfig
from region.db import eventloops, nodegroups
from region.db.nodegroups import ClusterState
from region.db.pool import Database
from region.domain.lifecycle import NodeStatus
from region.rpc.advertise import AdvertiseService, make_rpc_view
from region.rpc.secret import shared_secret
from region.rpc.service import RegionRPCService, RegionServerProtocol, build
from rpc.auth import authenticate_peer
from rpc.client import RPCClient
from rpc.commands.region import ClusterStatus, GetClusterStatus, RegisterV2
from tests.fakes.region_rpc import OTHER_SECRET, FakeCluster
from tests.integration.rpc.helpers import fetch, make_cluster, make_node

pytestmark = pytest.mark.integration


class GetRequest:
    method = b"GET"
    path = b"/MAAS/rpc/"


async def until(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await deferLater(reactor, 0.02)
    raise AssertionError("timed out waiting")


async def connect(service: RegionRPCService, cluster: FakeCluster) -> FakeCluster:
    bound = service.bound()
    assert bound is not None
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", bound[1], timeout=10)
    await connectProtocol(endpoint, cluster)
    return cluster


@pytest_twisted.ensureDeferred
async def test_cluster_lifecycle_over_tcp(db: Database) -> None:
    """Connect, authenticate both ways, register (pending), get accepted, be powered."""
    await make_cluster(db)  # the placeholder is taken: the next cluster waits
    config = RegionConfig(rpc_listen=("127.0.0.1", 0))
    parts = build(config, reactor, db)
    service, advertiser = parts.services
    assert isinstance(service, RegionRPCService) and isinstance(advertiser, AdvertiseService)
    await service.startService()
    try:
        secret = await shared_secret(db)
        uuid = "tcp-" + secrets.token_hex(4)
        cluster = await connect(service, FakeCluster(uuid, secret))
        await Deferred.fromCoroutine(authenticate_peer(cluster, secret, clock=reactor))
        client = RPCClient(cluster, reactor)
        answer = await client.call(RegisterV2, uuid=uuid, networks=[
            {"interface": "eth0", "ip": "10.20.0.1", "subnet_mask": "255.255.0.0"}])
        assert answer["status"] is ClusterStatus.PENDING
        clusters = parts.extras["clusters"]
        assert clusters.connected_clusters()[uuid] is ClusterStatus.PENDING
        [server] = [c for c in clusters.connections() if c.cluster_uuid == uuid]
        assert isinstance(server, RegionServerProtocol)
        handle = server.transport.getHandle()
        assert handle.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1

        # An administrator accepts it (in another process, say): the refresh notices.
        await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, ClusterState.ACCEPTED))
        await service.refresh_statuses()
        assert clusters.connected_uuids().count(uuid) == 1
        status = await client.call(GetClusterStatus, uuid=uuid)
        assert status["status"] is ClusterStatus.ACCEPTED

        power = parts.extras["power"]
        node = await make_node(db, uuid, status=NodeStatus.RELEASING)
        assert await power.power_off(node, "soft") is True
        cluster.answers[node.system_id] = "off"
        assert await power.query_power_state(node) == "off"
        assert [command for command, _ in cluster.calls] == ["PowerOff", "PowerQuery"]
        assert cluster.calls[0][1]["context"]["power_off_mode"] == "soft"
        assert await fetch(db, "SELECT status, power_state FROM nodes WHERE system_id = %s",
                           (node.system_id,)) == (int(NodeStatus.READY), "off")

        # A deleted cluster's connections are closed.
        await db.transaction(lambda tx: tx.execute(
            "DELETE FROM nodes WHERE nodegroup_id = (SELECT id FROM nodegroups WHERE uuid = %s)",
            (uuid,)))
        await db.transaction(lambda tx: tx.execute(
            "DELETE FROM nodegroups WHERE uuid = %s", (uuid,)))
        await service.refresh_statuses()
        await cluster.lost
        await until(lambda: not clusters.is_connected(uuid))
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_a_wrong_secret_is_dropped(db: Database) -> None:
    """A peer that does not know the secret is disconnected by the region."""
    parts = build(RegionConfig(rpc_listen=("127.0.0.1", 0)), reactor, db)
    service = parts.services[0]
    assert isinstance(service, RegionRPCService)
    await service.startService()
    try:
        cluster = await connect(service, FakeCluster("intruder", OTHER_SECRET))
        await cluster.lost
        assert parts.extras["clusters"].connected_clusters() == {}
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_stopping_closes_connections(db: Database) -> None:
    """Stopping the service closes the port and every cluster connection."""
    parts = build(RegionConfig(rpc_listen=("127.0.0.1", 0)), reactor, db)
    service = parts.services[0]
    assert isinstance(service, RegionRPCService)
    await service.startService()
    secret = await shared_secret(db)
    uuid = await make_cluster(db)
    cluster = await connect(service, FakeCluster(uuid, secret))
    await Deferred.fromCoroutine(authenticate_peer(cluster, secret, clock=reactor))
    await RPCClient(cluster, reactor).call(RegisterV2, uuid=uuid)
    await service.stopService()
    await cluster.lost
    assert service.bound() is None


@pytest_twisted.ensureDeferred
async def test_advertising_and_the_rpc_view(db: Database) -> None:
    """The service's endpoints are listed by GET /MAAS/rpc/ and withdrawn on stop."""
    parts = build(RegionConfig(rpc_listen=("127.0.0.1", 0)), reactor, db)
    service, advertiser = parts.services
    assert isinstance(service, RegionRPCService) and isinstance(advertiser, AdvertiseService)
    await service.startService()
    try:
        bound = service.bound()
        assert bound is not None
        assert await advertiser.refresh() == [("127.0.0.1", bound[1])]
        view = make_rpc_view(db)
        response = await view(GetRequest(), "")  # type: ignore[arg-type]
        assert response.status == 200
        listed = json.loads(response.body)["eventloops"]
        assert listed[parts.region.eventloop] == [["127.0.0.1", bound[1]]]
        assert (await view(GetRequest(), "extra")).status == 404
    finally:
        await service.stopService()
        await advertiser.stopService()
    remaining = await db.transaction(lambda tx: eventloops.live(tx, 180))
    assert parts.region.eventloop not in remaining


@pytest_twisted.ensureDeferred
async def test_eventloop_rows(db: Database) -> None:
    """Rows are replaced per process, taken over per endpoint, pruned when stale."""
    async def live() -> dict[str, list[tuple[str, int]]]:
        return await db.transaction(lambda tx: eventloops.live(tx, 180))

    await db.transaction(lambda tx: eventloops.advertise(
        tx, "a:pid=1", [("10.0.0.1", 5250), ("10.0.0.2", 5250)]))
    await db.transaction(lambda tx: eventloops.advertise(tx, "a:pid=1", [("10.0.0.1", 5250)]))
    assert (await live())["a:pid=1"] == [("10.0.0.1", 5250)]
    # A new process on the same endpoint takes it over.
    await db.transaction(lambda tx: eventloops.advertise(tx, "a:pid=2", [("10.0.0.1", 5250)]))
    found = await live()
    assert "a:pid=1" not in found and found["a:pid=2"] == [("10.0.0.1", 5250)]
    await db.transaction(lambda tx: tx.execute(
        "UPDATE eventloops SET updated = now() - interval '10 minutes' WHERE name = 'a:pid=2'"))
    assert "a:pid=2" not in await live()
    assert await db.transaction(lambda tx: eventloops.prune(tx, 180)) >= 1
    assert await db.transaction(lambda tx: eventloops.withdraw(tx, "a:pid=2")) == 0
