"""
The cluster-facing operations of nodegroups/ with a cluster connected over
real TCP (loopback): a small fake cluster answers (or refuses) the commands,
through the commands' real wire format, and the operations are called as the
API calls them, on a real database.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory
from twisted.protocols import amp

from region.api.context import RequestContext, Services
from region.api.errors import ServiceUnavailable
from region.api.handlers import boot_images, nodegroups
from region.api.handlers.cluster_calls import ClusterNotSupported
from region.api.params import Params
from region.db import nodegroups as db_nodegroups
from region.db.nodegroups import ClusterState
from region.db.pool import Database
from region.rpc.connections import ClusterConnections
from rpc.commands.cluster import (
    AddVirsh,
    DescribePowerTypes,
    ImportBootImages,
    ListBootImagesV2,
)
from rpc.commands.region import ClusterStatus
from rpc.protocol import RPCProtocol
from tests.factories import make_user

pytestmark = pytest.mark.integration

IMAGE = {"osystem": "ubuntu", "architecture": "amd64", "subarchitecture": "generic",
         "release": "trusty", "label": "release", "purpose": "commissioning",
         "xinstall_type": "tgz", "xinstall_path": "root-tgz"}


class FakeCluster(RPCProtocol):
    """Answers what the region asks; ``can_import`` and ``probes`` decide the refusals."""

    def __init__(self, power_types: list[dict[str, Any]], *, can_import: bool) -> None:
        super().__init__(ident="fake", secret=b"0" * 16, name="fake-cluster")
        self.power_types = power_types
        self.can_import = can_import
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @DescribePowerTypes.responder
    def describe(self) -> dict[str, Any]:
        return {"power_types": self.power_types}

    @ListBootImagesV2.responder
    def images(self) -> dict[str, Any]:
        return {"images": [IMAGE]}

    @ImportBootImages.responder
    def import_images(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(("ImportBootImages", arguments))
        if not self.can_import:
            raise amp.RemoteAmpError(b"NotImplementedError",
                                     "This cluster cannot import boot images yet.")
        return {}

    @AddVirsh.responder
    def add_virsh(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(("AddVirsh", arguments))
        return {}


class Rig:
    """A region-side view (context, connections) of clusters connected over loopback."""

    def __init__(self, db: Database, reactor: Any) -> None:
        self.db = db
        self.reactor = reactor
        self.clusters = ClusterConnections(reactor)
        self.ports: list[Any] = []
        self.protocols: list[amp.AMP] = []

    async def connect(self, power_types: list[dict[str, Any]], *, can_import: bool = True,
                      state: ClusterState = ClusterState.ACCEPTED) -> tuple[str, FakeCluster]:
        uuid = "conn-" + secrets.token_hex(6)
        await self.db.transaction(lambda tx: db_nodegroups.create_pending(tx, uuid))
        await self.db.transaction(lambda tx: db_nodegroups.set_status(tx, uuid, state))
        cluster = FakeCluster(power_types, can_import=can_import)
        cluster.authentication_finished(True)  # the handshake is tested elsewhere
        port = await TCP4ServerEndpoint(self.reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(lambda: cluster))
        self.ports.append(port)
        region_side = RPCProtocol(ident="region", secret=b"0" * 16, name="region-test")
        await connectProtocol(TCP4ClientEndpoint(self.reactor, "127.0.0.1",
                                                 port.getHost().port), region_side)
        region_side.authentication_finished(True)
        self.protocols.append(region_side)
        wire = {ClusterState.ACCEPTED: ClusterStatus.ACCEPTED,
                ClusterState.PENDING: ClusterStatus.PENDING}[state]
        self.clusters.add(uuid, region_side, wire)
        return uuid, cluster

    async def context(self) -> RequestContext:
        admin = await make_user(self.db, admin=True)
        services = Services(reactor=self.reactor, db=self.db,
                            config=SimpleNamespace(effective_maas_url="http://region:5240/MAAS/"),
                            extras={"clusters": self.clusters})
        return RequestContext(services=services, request=None, params=Params(), user=admin,
                              token=None, base_uri="http://region:5240/MAAS/api/1.0/")

    async def close(self) -> None:
        for protocol in self.protocols:
            protocol.transport.loseConnection()
        for port in self.ports:
            await port.stopListening()


@pytest_twisted.async_yield_fixture
async def rig(db: Database) -> AsyncIterator[Rig]:
    found = Rig(db, db.reactor)
    yield found
    await found.close()


def power_type(name: str, description: str, fields: list[Any] | None = None) -> dict[str, Any]:
    return {"name": name, "description": description, "fields": fields or []}


@pytest_twisted.ensureDeferred
async def test_power_types_are_merged_from_the_clusters(rig: Rig) -> None:
    """Every connected cluster is asked; types merge by name, sorted by description."""
    await rig.connect([power_type("virsh", "Virsh", ["a"]), power_type("zz", "Alpha")])
    await rig.connect([power_type("virsh", "Virsh", ["b"]), power_type("ipmi", "IPMI")])
    merged = await nodegroups.describe_power_types(await rig.context())
    assert [entry["description"] for entry in merged] == ["Alpha", "IPMI", "Virsh"]
    assert len([entry for entry in merged if entry["name"] == "virsh"]) == 1


@pytest_twisted.ensureDeferred
async def test_boot_images_come_from_the_cluster(rig: Rig) -> None:
    """A cluster's images, without xinstall_type and xinstall_path."""
    uuid, _ = await rig.connect([])
    images = await boot_images.read(await rig.context(), uuid)
    expected = {key: value for key, value in IMAGE.items() if not key.startswith("xinstall")}
    assert images == [expected]


@pytest_twisted.ensureDeferred
async def test_import_is_forwarded_with_the_regions_mirror(rig: Rig) -> None:
    """ImportBootImages carries the region's simplestreams mirror as the source."""
    uuid, cluster = await rig.connect([])
    response = await nodegroups.import_boot_images(await rig.context(), uuid)
    assert response.status == 200
    [(command, arguments)] = cluster.calls
    assert command == "ImportBootImages"
    assert arguments["sources"][0]["url"] == (
        "http://region:5240/MAAS/images-stream/streams/v1/index.json")


@pytest_twisted.ensureDeferred
async def test_a_cluster_that_cannot_import_yet_is_501(rig: Rig) -> None:
    """The cluster's 'not yet' comes back as a 501 with its words and the region's."""
    uuid, _ = await rig.connect([], can_import=False)
    with pytest.raises(ClusterNotSupported) as raised:
        await nodegroups.import_boot_images(await rig.context(), uuid)
    assert "This cluster cannot import boot images yet." in raised.value.message
    assert nodegroups.IMPORT_NOT_YET in raised.value.message
    assert raised.value.headers == {}


@pytest_twisted.ensureDeferred
async def test_import_everywhere_reports_each_cluster(rig: Rig) -> None:
    """Started where possible; clusters that cannot import are named in the answer."""
    able, _ = await rig.connect([])
    unable, _ = await rig.connect([], can_import=False)
    pending, pending_cluster = await rig.connect([], state=ClusterState.PENDING)
    response = await nodegroups.import_boot_images_everywhere(await rig.context())
    assert response.status == 200
    text = response.body.decode()
    assert f"Import of boot images started on cluster {able}." in text
    assert f"Cluster {unable} cannot import boot images" in text
    assert pending not in text and pending_cluster.calls == []


@pytest_twisted.ensureDeferred
async def test_probe_is_forwarded_with_the_users_name(rig: Rig) -> None:
    """The probe reaches the cluster as its 1.8 command, on behalf of the caller."""
    uuid, cluster = await rig.connect([])
    ctx = await rig.context()
    response = await nodegroups.probe_and_enlist_hardware(
        ctx, uuid, "virsh", power_address="qemu+ssh://me@kvm/system", power_pass="pw",
        accept_all="true")
    assert response.status == 200
    assert cluster.calls == [("AddVirsh", {
        "user": ctx.user.username, "poweraddr": "qemu+ssh://me@kvm/system", "password": "pw",
        "prefix_filter": None, "accept_all": True})]


@pytest_twisted.ensureDeferred
async def test_a_pending_connected_cluster_gets_no_work(rig: Rig) -> None:
    """Connected but not accepted: 503 saying so, and nothing is sent to it."""
    uuid, cluster = await rig.connect([], state=ClusterState.PENDING)
    with pytest.raises(ServiceUnavailable) as raised:
        await nodegroups.import_boot_images(await rig.context(), uuid)
    assert "has not been accepted yet" in raised.value.message
    assert cluster.calls == []
