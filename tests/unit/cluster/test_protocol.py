"""ClusterClientProtocol and register(): the handshake with a region, over iosim."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from cluster.rpc.protocol import ClusterClientProtocol, register
from rpc.commands.region import ClusterStatus
from rpc.errors import AuthenticationFailed, ClusterRejected
from rpc.testing import connect_pair
from tests.unit.cluster.helpers import (
    OTHER_SECRET,
    SECRET,
    UUID,
    FakeOldRegion,
    FakeRegion,
    RegionState,
    Runtime,
)

NETWORKS = [{"interface": "eth0", "ip": "10.0.0.2", "subnet_mask": "255.255.255.0"}]
URL = "http://region.example:5240/MAAS/"


class HandshakeTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.state = RegionState()

    def connect(self, region_class: type[FakeOldRegion] = FakeRegion, *,
                cluster_secret: bytes = SECRET, uuid: str = UUID,
                ) -> tuple[ClusterClientProtocol, FakeOldRegion, object]:
        cluster, region, pump = connect_pair(
            lambda: region_class(self.state),
            lambda: ClusterClientProtocol(Runtime(uuid), cluster_secret, self.clock),
            clock=self.clock)
        return cluster, region, pump

    def register(self, cluster: ClusterClientProtocol, uuid: str = UUID) -> Deferred[object]:
        return Deferred.fromCoroutine(register(cluster, self.clock, uuid=uuid,
                                               networks=NETWORKS, url=URL))


class TestHandshake(HandshakeTestCase):
    def test_both_sides_authenticate_and_the_region_identifies_the_cluster(self) -> None:
        """On connect the cluster challenges the region while the region challenges the
        cluster and then learns its uuid with Identify."""
        cluster, region, pump = self.connect()
        authenticated = cluster.when_authenticated()
        pump.flush()
        self.successResultOf(authenticated)
        self.assertTrue(cluster.peer_authenticated)
        self.assertTrue(region.peer_authenticated)
        self.assertEqual(region.identified, UUID)

    def test_the_challenge_goes_out_on_connection(self) -> None:
        """connectionMade sends Authenticate before anything else, with TCP keepalive on."""

        class Transport(StringTransport):
            keepalive = False

            def setTcpKeepAlive(self, enabled: bool) -> None:
                self.keepalive = enabled

        transport = Transport()
        ClusterClientProtocol(Runtime(), SECRET, self.clock).makeConnection(transport)
        self.assertIn(b"Authenticate", transport.value())
        self.assertTrue(transport.keepalive)

    def test_register_v2_first_cluster_is_accepted(self) -> None:
        """RegisterV2 with this host's networks and the region URL: ACCEPTED."""
        cluster, _, pump = self.connect()
        registered = self.register(cluster)
        pump.flush()
        self.assertIs(self.successResultOf(registered), ClusterStatus.ACCEPTED)
        [call] = self.state.named("RegisterV2")
        self.assertEqual(call["uuid"], UUID)
        self.assertEqual(call["networks"], NETWORKS)
        self.assertEqual(call["url"].to_text(), URL)

    def test_register_v2_second_cluster_is_pending(self) -> None:
        """A later unknown cluster is PENDING."""
        self.state.statuses["other"] = ClusterStatus.ACCEPTED
        cluster, _, pump = self.connect()
        registered = self.register(cluster)
        pump.flush()
        self.assertIs(self.successResultOf(registered), ClusterStatus.PENDING)

    def test_register_v2_rejected(self) -> None:
        """A rejected cluster gets ClusterRejected."""
        self.state.statuses[UUID] = ClusterStatus.REJECTED
        cluster, _, pump = self.connect()
        registered = self.register(cluster)
        pump.flush()
        self.failureResultOf(registered, ClusterRejected)

    def test_wrong_secret_fails_authentication(self) -> None:
        """With another secret the region's digest does not match (and the region drops
        the cluster)."""
        cluster, region, pump = self.connect(cluster_secret=OTHER_SECRET)
        authenticated = cluster.when_authenticated()
        pump.flush()
        self.failureResultOf(authenticated, AuthenticationFailed)
        self.failureResultOf(cluster.when_authenticated(), AuthenticationFailed)
        self.assertEqual(self.state.refused, 1)
        self.assertTrue(region.lost)


class TestOldRegion(HandshakeTestCase):
    def test_falls_back_to_register(self) -> None:
        """A region without RegisterV2 (1.8) answers UNHANDLED; Register is used."""
        cluster, _, pump = self.connect(FakeOldRegion)
        registered = self.register(cluster)
        pump.flush()
        self.assertIs(self.successResultOf(registered), ClusterStatus.ACCEPTED)
        self.assertEqual(len(self.state.named("Register")), 1)

    def test_fallback_pending(self) -> None:
        """Register refused as pending: GetClusterStatus tells PENDING."""
        self.state.statuses["other"] = ClusterStatus.ACCEPTED
        cluster, _, pump = self.connect(FakeOldRegion)
        registered = self.register(cluster)
        pump.flush()
        self.assertIs(self.successResultOf(registered), ClusterStatus.PENDING)

    def test_fallback_rejected(self) -> None:
        """Register refused as rejected: ClusterRejected."""
        self.state.statuses[UUID] = ClusterStatus.REJECTED
        cluster, _, pump = self.connect(FakeOldRegion)
        registered = self.register(cluster)
        pump.flush()
        self.failureResultOf(registered, ClusterRejected)
