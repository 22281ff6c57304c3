"""RegionServerProtocol: the handshake on connect, the registration gate, disconnects."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from region.rpc.service import RegionServerProtocol
from rpc.commands.common import Identify
from rpc.commands.region import (
    ClusterStatus,
    GetBootSourcesV2,
    GetClusterInterfaces,
    Register,
    ReportBootImages,
)
from rpc.errors import CannotRegisterCluster, NotAuthenticated
from tests.fakes.region_rpc import (
    OTHER_SECRET,
    SECRET,
    FakeCluster,
    connect_cluster,
    region_for_tests,
)


class UnknownDatabase:
    """Stands in for the database in tests that must not reach it."""

    async def transaction(self, work: Any, **kwargs: Any) -> Any:
        raise AssertionError("this test should not use the database")


class SilentIdentify(FakeCluster):
    """A cluster that never answers Identify."""

    @Identify.responder
    def _identify(self) -> Deferred[dict[str, str]]:
        return Deferred()


class TestHandshake(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.clock = Clock()
        self.region = region_for_tests(UnknownDatabase(), self.clock)

    @staticmethod
    def dropped(server: RegionServerProtocol) -> bool:
        return server.transport is None or bool(server.transport.disconnecting)

    def messages(self) -> list[str]:
        return [formatEvent(event) for event in self.events]

    def test_a_cluster_with_the_secret_is_authenticated_and_identified(self) -> None:
        """On connect the region authenticates the cluster, then learns its uuid."""
        server, _ = connect_cluster(self.region, FakeCluster("c-1"), self.clock)
        self.assertTrue(server.peer_authenticated)
        self.assertEqual(server.peer_ident, "c-1")
        self.assertIn("Cluster c-1 connected from", "\n".join(self.messages()))
        self.assertEqual(self.successResultOf(server.when_identified()), "c-1")
        self.assertFalse(server.transport.disconnecting)

    def test_tcp_keepalive_is_on(self) -> None:
        """Every cluster connection has TCP keepalive enabled, and the challenge goes out."""

        class Transport(StringTransport):
            keepalive = False

            def setTcpKeepAlive(self, enabled: bool) -> None:
                self.keepalive = enabled

        transport = Transport()
        RegionServerProtocol(self.region).makeConnection(transport)
        self.assertTrue(transport.keepalive)
        self.assertIn(b"Authenticate", transport.value())

    def test_a_cluster_without_the_secret_is_dropped_with_one_line(self) -> None:
        """A wrong secret drops the connection; one warning says so, with no secret in it."""
        server, _ = connect_cluster(self.region, FakeCluster("c-1", OTHER_SECRET), self.clock)
        self.assertTrue(self.dropped(server))
        self.assertFalse(server.peer_authenticated)
        dropped = [m for m in self.messages() if "Dropped the RPC connection" in m]
        self.assertEqual(len(dropped), 1, self.messages())
        self.assertIn("shared secrets differ", dropped[0])
        for text in self.messages():
            for secret in (SECRET, OTHER_SECRET):
                self.assertNotIn(secret.hex(), text)
                self.assertNotIn(secret.decode(), text)
        self.failureResultOf(server.when_identified())

    def test_a_silent_peer_is_dropped_after_the_challenge_timeout(self) -> None:
        """A peer that never answers the challenge is dropped when it times out."""
        from twisted.test import iosim

        from rpc.testing import connect_pair

        class Mute(FakeCluster):
            def dataReceived(self, data: bytes) -> None:
                pass

        _, server, pump = connect_pair(lambda: RegionServerProtocol(self.region), Mute,
                                       clock=self.clock)
        assert isinstance(pump, iosim.IOPump)
        pump.flush()
        self.assertFalse(self.dropped(server))
        self.clock.advance(30)
        pump.flush()
        self.assertTrue(self.dropped(server))

    def test_a_peer_that_does_not_identify_itself_is_dropped(self) -> None:
        """After the challenge, a peer that never answers Identify is dropped (30 s)."""
        server, pump = connect_cluster(self.region, SilentIdentify("c-1"), self.clock)
        self.assertTrue(server.peer_authenticated)
        self.clock.advance(30)
        pump.flush()
        self.assertTrue(self.dropped(server))
        self.assertIn("did not identify itself", "\n".join(self.messages()))

    def test_disconnect_forgets_the_connection(self) -> None:
        """A lost connection leaves the registry and is logged with the cluster's uuid."""
        server, pump = connect_cluster(self.region, FakeCluster("c-1"), self.clock)
        server.cluster_uuid = "c-1"
        self.region.clusters.add("c-1", server, ClusterStatus.ACCEPTED)
        server.transport.loseConnection()
        pump.flush()
        self.assertFalse(self.region.clusters.is_connected("c-1"))
        self.assertIn("Cluster c-1 disconnected", "\n".join(self.messages()))


class TestRegistrationGate(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.region = region_for_tests(UnknownDatabase(), self.clock)
        self.cluster = FakeCluster("c-1")
        self.server, self.pump = connect_cluster(self.region, self.cluster, self.clock)

    def call(self, command: type, **kwargs: Any) -> Deferred[Any]:
        d = self.cluster.callRemote(command, **kwargs)
        self.pump.flush()
        return d

    def test_commands_before_registering_are_refused(self) -> None:
        """An authenticated but unregistered cluster may not ask for work."""
        failure = self.failureResultOf(self.call(GetBootSourcesV2, uuid="c-1"), NotAuthenticated)
        self.assertIn("has not registered", str(failure.value))

    def test_an_accepted_cluster_is_served(self) -> None:
        """Once registered and accepted, the cluster's commands are answered."""
        self.server.cluster_uuid = "c-1"
        self.region.clusters.add("c-1", self.server, ClusterStatus.ACCEPTED)
        answer = self.successResultOf(self.call(GetBootSourcesV2, uuid="c-1"))
        self.assertEqual(answer["sources"][0]["url"],
                         "http://region.example:5240/MAAS/images-stream/streams/v1/index.json")
        self.assertEqual(self.successResultOf(self.call(ReportBootImages, uuid="c-1", images=[])),
                         {})

    def test_a_cluster_cannot_act_for_another(self) -> None:
        """A command naming another cluster's uuid is refused."""
        self.server.cluster_uuid = "c-1"
        self.region.clusters.add("c-1", self.server, ClusterStatus.ACCEPTED)
        failure = self.failureResultOf(self.call(GetClusterInterfaces, cluster_uuid="c-2"),
                                       NotAuthenticated)
        self.assertIn("cannot act for another cluster", str(failure.value))

    def test_register_under_another_uuid_than_identified_is_refused(self) -> None:
        """Register must name the uuid the cluster gave to Identify."""
        failure = self.failureResultOf(self.call(Register, uuid="c-2"), CannotRegisterCluster)
        self.assertIn("identified itself as cluster 'c-1'", str(failure.value))
