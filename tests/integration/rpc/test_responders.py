"""Each region responder through its wire format, against PostgreSQL."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.protocols import amp

from region.db import config as db_config
from region.db import nodegroups
from region.db import users as db_users
from region.db.nodegroups import ClusterState
from region.db.pool import Database
from region.domain.lifecycle import NodeStatus
from region.rpc.clusterops import DEFAULT_POWER_POLICY, PowerMonitorPolicy
from rpc.errors import INVALID_ARGUMENT
from region.rpc.service import RegionServerProtocol
from rpc.commands.region import (
    ClusterStatus,
    CommissionNode,
    CreateNode,
    GetArchiveMirrors,
    GetClusterInterfaces,
    GetClusterStatus,
    GetProxies,
    ListNodePowerParameters,
    MarkNodeFailed,
    MonitorExpired,
    Register,
    RegisterEventType,
    RegisterV2,
    ReportForeignDHCPServer,
    RequestNodeInfoByMACAddress,
    SendEvent,
    SendEventMACAddress,
    UpdateLeases,
    UpdateNodePowerState,
)
from rpc.errors import (
    CannotRegisterCluster,
    ClusterRejected,
    CommissionNodeFailed,
    NodeAlreadyExists,
    NodeStateViolation,
    NoSuchCluster,
    NoSuchEventType,
    NoSuchNode,
    NotAuthenticated,
)
from rpc.testing import call_responder
from tests.fakes.region_rpc import region_for_tests
from tests.integration.rpc.helpers import fetch, make_cluster, make_node

pytestmark = pytest.mark.integration


def connection(db: Database, uuid: str | None, status: ClusterStatus | None = None,
               policy: PowerMonitorPolicy = DEFAULT_POWER_POLICY) -> RegionServerProtocol:
    """A region protocol whose peer authenticated and identified itself as uuid
    (and, with a status, registered)."""
    region = region_for_tests(db, reactor, policy=policy)
    server = RegionServerProtocol(region)
    server.authentication_finished(True)
    if uuid is not None:
        server._settle_identity(uuid)
    if status is not None:
        assert uuid is not None
        server.cluster_uuid = uuid
        region.clusters.add(uuid, server, status)
    return server


async def accepted(db: Database, **kwargs: Any) -> tuple[str, RegionServerProtocol]:
    uuid = await make_cluster(db, ClusterState.ACCEPTED, **kwargs)
    return uuid, connection(db, uuid, ClusterStatus.ACCEPTED)


async def call(server: RegionServerProtocol, command: type[amp.Command], **kwargs: Any) -> Any:
    return await call_responder(server, command, kwargs)


async def node_row(db: Database, system_id: str, columns: str) -> Any:
    return await fetch(db, f"SELECT {columns} FROM nodes WHERE system_id = %s", (system_id,))


# -- Registration and the gate ---------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_register_answers_by_state(db: Database) -> None:
    """RegisterV2 says PENDING/ACCEPTED; Register refuses a pending cluster; the connection
    is listed either way."""
    uuid = await make_cluster(db, ClusterState.PENDING)
    server = connection(db, uuid)
    assert (await call(server, RegisterV2, uuid=uuid))["status"] is ClusterStatus.PENDING
    assert server.region.clusters.connected_clusters() == {uuid: ClusterStatus.PENDING}
    with pytest.raises(CannotRegisterCluster, match="waits for an administrator"):
        await call(server, Register, uuid=uuid)
    await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, ClusterState.ACCEPTED))
    assert await call(server, Register, uuid=uuid) == {}
    assert server.region.clusters.connected_uuids() == [uuid]


@pytest_twisted.ensureDeferred
async def test_a_rejected_cluster_is_told_so(db: Database) -> None:
    """RegisterV2 raises ClusterRejected (Register: CannotRegisterCluster); it stays connected."""
    uuid = await make_cluster(db, ClusterState.REJECTED)
    server = connection(db, uuid)
    with pytest.raises(ClusterRejected, match="rejected"):
        await call(server, RegisterV2, uuid=uuid)
    with pytest.raises(CannotRegisterCluster, match="rejected"):
        await call(server, Register, uuid=uuid)
    assert server.region.clusters.status_of(uuid) is ClusterStatus.REJECTED


@pytest_twisted.ensureDeferred
async def test_a_pending_cluster_gets_no_work_until_accepted(db: Database) -> None:
    """A pending cluster's other commands are refused; once accepted they are served."""
    uuid = await make_cluster(db, ClusterState.PENDING)
    server = connection(db, uuid, ClusterStatus.PENDING)
    with pytest.raises(NotAuthenticated, match="is pending"):
        await call(server, ListNodePowerParameters, uuid=uuid)
    status = await call(server, GetClusterStatus, uuid=uuid)
    assert status["status"] is ClusterStatus.PENDING
    await db.transaction(lambda tx: nodegroups.set_status(tx, uuid, ClusterState.ACCEPTED))
    assert await call(server, ListNodePowerParameters, uuid=uuid) == {"nodes": []}
    assert server.region.clusters.status_of(uuid) is ClusterStatus.ACCEPTED


@pytest_twisted.ensureDeferred
async def test_cluster_status_of_an_unknown_cluster(db: Database) -> None:
    """GetClusterStatus of an unknown uuid raises NoSuchCluster."""
    server = connection(db, None)
    with pytest.raises(NoSuchCluster):
        await call(server, GetClusterStatus, uuid="cluster-nobody")


# -- Power -----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_list_node_power_parameters_order(db: Database) -> None:
    """Transitional first, then never queried, then the stalest; others are left out."""
    uuid, server = await accepted(db)
    other = await make_cluster(db)
    stale = await make_node(db, uuid, queried_ago=600)
    staler = await make_node(db, uuid, queried_ago=3600)
    await make_node(db, uuid, queried_ago=20)  # fresh
    releasing = await make_node(db, uuid, status=NodeStatus.RELEASING, queried_ago=20)
    never = await make_node(db, uuid, status=NodeStatus.DEPLOYED)
    await make_node(db, uuid, status=NodeStatus.BROKEN)
    await make_node(db, uuid, power_type="ether_wake",
                    power_parameters={"mac_address": "02:00:00:00:00:01"})
    await make_node(db, uuid, power_type="", power_parameters=None)
    await make_node(db, other)

    nodes = (await call(server, ListNodePowerParameters, uuid=uuid))["nodes"]
    assert [n["system_id"] for n in nodes] == [
        releasing.system_id, never.system_id, staler.system_id, stale.system_id]
    entry = nodes[1]
    assert (entry["hostname"], entry["power_state"], entry["power_type"]) == (
        never.hostname, "unknown", "ipmi")
    assert entry["context"]["power_pass"] == never.power_parameters["power_pass"]
    assert entry["context"]["system_id"] == never.system_id
    assert entry["context"]["boot_mode"] == "local"
    assert entry["context"]["mac_address"].startswith("02:")
    # Handed out: not again until reported (or the lease runs out).
    assert (await call(server, ListNodePowerParameters, uuid=uuid))["nodes"] == []


@pytest_twisted.ensureDeferred
async def test_list_node_power_parameters_pages(db: Database) -> None:
    """Many due nodes come in pages that each fit 64 KiB, every node exactly once."""
    uuid, server = await accepted(db)
    blob = {"power_address": "10.0.0.1", "power_pass": "x", "note": secrets.token_hex(300)}
    made = {(await make_node(db, uuid, power_parameters=dict(blob))).system_id
            for _ in range(300)}
    seen: list[str] = []
    pages = 0
    while True:
        nodes = (await call(server, ListNodePowerParameters, uuid=uuid))["nodes"]
        if not nodes:
            break
        pages += 1
        seen += [n["system_id"] for n in nodes]
    assert pages >= 2
    assert sorted(seen) == sorted(made)


@pytest_twisted.ensureDeferred
async def test_list_node_power_parameters_of_an_unknown_cluster(db: Database) -> None:
    """An accepted connection asking for a cluster that was deleted: NoSuchCluster."""
    server = connection(db, "cluster-gone", ClusterStatus.ACCEPTED)
    with pytest.raises(NoSuchCluster):
        await call(server, ListNodePowerParameters, uuid="cluster-gone")


@pytest_twisted.ensureDeferred
async def test_update_node_power_state(db: Database) -> None:
    """The state and its time are recorded; ``updated`` is not touched; unknown: NoSuchNode."""
    uuid, server = await accepted(db)
    node = await make_node(db, uuid, status=NodeStatus.DEPLOYED)
    before = await node_row(db, node.system_id, "updated")
    await call(server, UpdateNodePowerState, system_id=node.system_id, power_state="on")
    state, when, updated = await node_row(db, node.system_id,
                                          "power_state, power_state_updated, updated")
    assert (state, updated) == ("on", before[0])
    assert when is not None
    with pytest.raises(NoSuchNode):
        await call(server, UpdateNodePowerState, system_id="node-nope", power_state="on")
    with pytest.raises(amp.RemoteAmpError) as raised:
        await call(server, UpdateNodePowerState, system_id=node.system_id, power_state="dim")
    assert raised.value.errorCode == INVALID_ARGUMENT


@pytest_twisted.ensureDeferred
async def test_a_releasing_node_seen_off_becomes_ready(db: Database) -> None:
    """RELEASING + off → READY through the state machine; on leaves it releasing."""
    uuid, server = await accepted(db)
    node = await make_node(db, uuid, status=NodeStatus.RELEASING)
    await call(server, UpdateNodePowerState, system_id=node.system_id, power_state="on")
    assert await node_row(db, node.system_id, "status") == (int(NodeStatus.RELEASING),)
    await call(server, UpdateNodePowerState, system_id=node.system_id, power_state="off")
    assert await node_row(db, node.system_id, "status, power_state") == (
        int(NodeStatus.READY), "off")


# -- Nodes -----------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_mark_node_failed(db: Database) -> None:
    """A commissioning node fails with the description; a ready one cannot; unknown: typed."""
    uuid, server = await accepted(db)
    node = await make_node(db, uuid, status=NodeStatus.COMMISSIONING)
    await call(server, MarkNodeFailed, system_id=node.system_id,
               error_description="Node could not be powered on: boom")
    assert await node_row(db, node.system_id, "status, error") == (
        int(NodeStatus.FAILED_COMMISSIONING), "Node could not be powered on: boom")
    ready = await make_node(db, uuid, status=NodeStatus.READY)
    with pytest.raises(NodeStateViolation):
        await call(server, MarkNodeFailed, system_id=ready.system_id, error_description="x")
    with pytest.raises(NoSuchNode):
        await call(server, MarkNodeFailed, system_id="node-nope", error_description="x")


@pytest_twisted.ensureDeferred
async def test_monitor_expired_fails_a_node_still_in_the_watched_status(db: Database) -> None:
    """MonitorExpired marks the node failed with 1.8's message, unless it moved on."""
    uuid, server = await accepted(db)
    node = await make_node(db, uuid, status=NodeStatus.COMMISSIONING)
    moved = await make_node(db, uuid, status=NodeStatus.READY)
    context = {"node_status": int(NodeStatus.COMMISSIONING), "timeout": 1200}
    await call(server, MonitorExpired, id=node.system_id, context=context)
    await call(server, MonitorExpired, id=moved.system_id, context=context)
    await call(server, MonitorExpired, id="node-gone", context=context)
    assert await node_row(db, node.system_id, "status, error") == (
        int(NodeStatus.FAILED_COMMISSIONING),
        "Node operation 'Commissioning' timed out after 0:20:00.")
    assert await node_row(db, moved.system_id, "status") == (int(NodeStatus.READY),)
    with pytest.raises(amp.RemoteAmpError):
        await call(server, MonitorExpired, id=node.system_id, context=["not", "a", "dict"])


@pytest_twisted.ensureDeferred
async def test_create_node(db: Database) -> None:
    """CreateNode enlists a NEW node in the cluster with its power settings."""
    uuid, server = await accepted(db)
    mac = "02:aa:" + ":".join(secrets.token_hex(1) for _ in range(4))
    answer = await call(server, CreateNode, cluster_uuid=uuid, architecture="amd64",
                        power_type="virsh",
                        power_parameters='{"power_address": "qemu:///system", "power_id": "vm1"}',
                        mac_addresses=[mac.upper()], hostname=None)
    system_id = answer["system_id"]
    row = await fetch(db, """SELECT n.status, n.architecture, n.power_type,
                                    n.power_parameters->>'power_id', g.uuid
                               FROM nodes n JOIN nodegroups g ON g.id = n.nodegroup_id
                              WHERE n.system_id = %s""", (system_id,))
    assert row == (int(NodeStatus.NEW), "amd64/generic", "virsh", "vm1", uuid)
    with pytest.raises(NodeAlreadyExists, match=mac):
        await call(server, CreateNode, cluster_uuid=uuid, architecture="amd64",
                   power_type="", power_parameters="", mac_addresses=[mac], hostname=None)
    for bad in ({"power_parameters": "{nope"}, {"mac_addresses": ["zz"]},
                {"architecture": "no-such-arch"}):
        arguments = {"cluster_uuid": uuid, "architecture": "amd64", "power_type": "",
                     "power_parameters": "{}", "mac_addresses": ["02:bb:00:00:00:01"],
                     "hostname": None, **bad}
        with pytest.raises(amp.RemoteAmpError) as raised:
            await call_responder(server, CreateNode, arguments)
        assert raised.value.errorCode == INVALID_ARGUMENT


@pytest_twisted.ensureDeferred
async def test_commission_node(db: Database) -> None:
    """CommissionNode starts commissioning as the named user; failures are typed."""
    uuid, server = await accepted(db)
    name = "rpc-admin-" + secrets.token_hex(3)
    await db.transaction(lambda tx: db_users.create(
        tx, username=name, email="", password_hash="", is_superuser=True))
    node = await make_node(db, uuid, status=NodeStatus.NEW, power_type="", power_parameters=None)
    await call(server, CommissionNode, system_id=node.system_id, user=name)
    assert await node_row(db, node.system_id, "status") == (int(NodeStatus.COMMISSIONING),)
    with pytest.raises(CommissionNodeFailed, match="No active user"):
        await call(server, CommissionNode, system_id=node.system_id, user="nobody-here")
    deployed = await make_node(db, uuid, status=NodeStatus.DEPLOYED)
    with pytest.raises(CommissionNodeFailed):
        await call(server, CommissionNode, system_id=deployed.system_id, user=name)
    # Committed, but its cluster (this fake connection) cannot power it on: said so.
    powered = await make_node(db, "taken-over-master", status=NodeStatus.NEW)
    with pytest.raises(CommissionNodeFailed, match="not connected"):
        await call(server, CommissionNode, system_id=powered.system_id, user=name)


@pytest_twisted.ensureDeferred
async def test_request_node_info_by_mac_address(db: Database) -> None:
    """The node owning a MAC (any spelling) is described for booting; unknown: NoSuchNode."""
    uuid, server = await accepted(db)
    node = await make_node(db, uuid, status=NodeStatus.COMMISSIONING)
    mac = (await fetch(db, "SELECT mac::text FROM macaddresses m JOIN nodes n ON n.id = m.node_id"
                           " WHERE n.system_id = %s", (node.system_id,)))[0]
    info = await call(server, RequestNodeInfoByMACAddress, mac_address=mac.upper())
    assert info == {"system_id": node.system_id, "hostname": node.hostname,
                    "status": int(NodeStatus.COMMISSIONING), "boot_type": "fastpath",
                    "osystem": "", "distro_series": "", "architecture": "amd64/generic",
                    "purpose": "commissioning"}
    for unknown in ("02:ff:ff:ff:ff:fe", "not-a-mac"):
        with pytest.raises(NoSuchNode):
            await call(server, RequestNodeInfoByMACAddress, mac_address=unknown)


# -- Events ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_events(db: Database) -> None:
    """Events by system_id or MAC are recorded; unknown types and nodes are typed errors."""
    uuid, server = await accepted(db)
    node = await make_node(db, uuid)
    mac = (await fetch(db, "SELECT mac::text FROM macaddresses m JOIN nodes n ON n.id = m.node_id"
                           " WHERE n.system_id = %s", (node.system_id,)))[0]
    await call(server, SendEvent, system_id=node.system_id, type_name="NODE_POWERED_ON",
               description="on")
    await call(server, SendEventMACAddress, mac_address=mac.replace(":", "-"),
               type_name="NODE_PXE_REQUEST", description="pxe")
    type_name = "RPC_TEST_" + secrets.token_hex(3).upper()
    with pytest.raises(NoSuchEventType):
        await call(server, SendEvent, system_id=node.system_id, type_name=type_name,
                   description="")
    await call(server, RegisterEventType, name=type_name, description="Testing", level=20)
    await call(server, RegisterEventType, name=type_name, description="Testing", level=20)
    await call(server, SendEvent, system_id=node.system_id, type_name=type_name,
               description="custom")
    rows = await db.transaction(lambda tx: tx.fetchall(
        """SELECT t.name, e.description FROM events e JOIN event_types t ON t.id = e.type_id
            JOIN nodes n ON n.id = e.node_id WHERE n.system_id = %s ORDER BY e.id""",
        (node.system_id,)))
    assert rows == [("NODE_POWERED_ON", "on"), ("NODE_PXE_REQUEST", "pxe"), (type_name, "custom")]
    with pytest.raises(NoSuchNode):
        await call(server, SendEvent, system_id="node-nope", type_name="NODE_POWERED_ON",
                   description="")
    with pytest.raises(NoSuchNode):
        await call(server, SendEventMACAddress, mac_address="02:ff:ff:ff:ff:fd",
                   type_name="NODE_POWERED_ON", description="")


# -- Configuration and networks ----------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_archive_mirrors_and_proxies_follow_the_config(db: Database) -> None:
    """GetArchiveMirrors and GetProxies answer from the configuration items."""
    _, server = await accepted(db)
    await db.transaction(lambda tx: db_config.set_value(
        tx, "ports_archive", "http://ports.example/ubuntu-ports"))
    mirrors = await call(server, GetArchiveMirrors)
    stored = await db.transaction(lambda tx: db_config.get(tx, "main_archive"))
    main = "http://archive.ubuntu.com/ubuntu" if stored is db_config.NOT_SET else stored
    assert mirrors["main"].to_text() == main
    assert mirrors["ports"].to_text() == "http://ports.example/ubuntu-ports"
    await db.transaction(lambda tx: db_config.set_value(tx, "http_proxy", ""))
    assert await call(server, GetProxies) == {"http": None, "https": None}
    await db.transaction(lambda tx: db_config.set_value(
        tx, "http_proxy", "http://proxy.example:3128/"))
    proxies = await call(server, GetProxies)
    assert proxies["http"].to_text() == proxies["https"].to_text() == (
        "http://proxy.example:3128/")
    await db.transaction(lambda tx: db_config.set_value(tx, "http_proxy", ""))


@pytest_twisted.ensureDeferred
async def test_interfaces_leases_and_foreign_dhcp(db: Database) -> None:
    """Interfaces come from the last report; leases and foreign DHCP servers are stored."""
    networks = [{"interface": "eth0", "ip": "192.168.7.1", "subnet_mask": "255.255.255.0"}]
    uuid, server = await accepted(db, networks=networks)
    answer = await call(server, GetClusterInterfaces, cluster_uuid=uuid)
    assert answer == {"interfaces": [{"name": "eth0", "interface": "eth0", "ip": "192.168.7.1"}]}

    mappings = [{"ip": "192.168.7.20", "mac": "02:00:00:00:07:20"},
                {"ip": "192.168.7.21", "mac": "02-00-00-00-07-21"}]
    await call(server, UpdateLeases, uuid=uuid, mappings=mappings)
    await call(server, UpdateLeases, uuid=uuid, mappings=mappings[1:])
    nodegroup = await db.transaction(lambda tx: nodegroups.get_by_uuid(tx, uuid))
    assert nodegroup is not None
    leases = await db.transaction(lambda tx: nodegroups.list_leases(tx, nodegroup.id))
    assert leases == [("192.168.7.21", "02:00:00:00:07:21")]
    with pytest.raises(amp.RemoteAmpError):
        await call(server, UpdateLeases, uuid=uuid, mappings=[{"ip": "nope", "mac": "x"}])

    await call(server, ReportForeignDHCPServer, cluster_uuid=uuid, interface_name="eth0",
               foreign_dhcp_ip="192.168.7.254")
    found = await db.transaction(lambda tx: nodegroups.get_by_uuid(tx, uuid))
    assert found is not None and found.foreign_dhcp == {"eth0": "192.168.7.254"}
    await call(server, ReportForeignDHCPServer, cluster_uuid=uuid, interface_name="eth0",
               foreign_dhcp_ip=None)
    found = await db.transaction(lambda tx: nodegroups.get_by_uuid(tx, uuid))
    assert found is not None and found.foreign_dhcp == {}
