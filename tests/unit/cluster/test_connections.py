"""RegionConnections: discovery, one reconnecting link per event loop, the handshake."""

from __future__ import annotations

from typing import Any

from automat import NoTransition
from twisted.application.internet import ClientService
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from cluster.power.service import PowerService
from cluster.rpc.connections import RegionConnections
from cluster.rpc.discovery import EventLoops
from rpc.commands.cluster import PowerQuery
from rpc.commands.region import ClusterStatus, ListNodePowerParameters
from rpc.errors import NoConnectionsAvailable
from tests.unit.cluster.helpers import (
    OTHER_SECRET,
    SECRET,
    UUID,
    FakeNetwork,
    FakeOldRegion,
    FakeRegion,
    FakeRegionClient,
    RegionState,
    Runtime,
)
from tests.unit.cluster.test_power_service import Drivers

URL = "http://region.example:5240/MAAS/"
NETWORKS = [{"interface": "eth0", "ip": "10.0.0.2", "subnet_mask": "255.255.255.0"}]
LOOP1, LOOP2 = "region:pid=1", "region:pid=2"
ADDRESS1, ADDRESS2 = ("10.0.0.1", 5250), ("10.0.0.1", 5251)


class ConnectionsTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.network = FakeNetwork(self.clock)
        self.state = RegionState()
        self.serve(LOOP1, ADDRESS1)
        self.eventloops: EventLoops | None = {LOOP1: [ADDRESS1]}
        self.fetch_error: Exception | None = None
        self.fetches = 0
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.runtime = Runtime(UUID)
        self.connections = self.make(SECRET)

    def make(self, secret: bytes, region_class: type[FakeOldRegion] = FakeRegion,
             ) -> RegionConnections:
        self.region_class = region_class
        return RegionConnections(
            self.clock, self.runtime, secret, region_url=URL, fetch=self.fetch,
            connect_to=self.network.connect_to, networks=lambda: NETWORKS,
            jitter=lambda: 0.0, choose=lambda links: links[0])

    def serve(self, name: str, address: tuple[str, int]) -> None:
        self.network.serve(*address, lambda: self.region_class(self.state, name=name))

    region_class: type[FakeOldRegion] = FakeRegion

    def fetch(self) -> Deferred[EventLoops | None]:
        self.fetches += 1
        if self.fetch_error is not None:
            return fail(self.fetch_error)
        return succeed(None if self.eventloops is None else dict(self.eventloops))

    def start(self) -> None:
        self.connections.startService()
        self.clock.advance(0)
        self.network.flush()

    def advance(self, seconds: float) -> None:
        """Advance in steps of 1/16 s (the backoff delays are multiples of it), moving
        bytes in between."""
        while seconds > 0:
            step = min(0.0625, seconds)
            self.clock.advance(step)
            self.network.flush()
            seconds -= step

    def stop(self) -> None:
        stopped = self.connections.stopService()
        self.network.flush()
        self.successResultOf(stopped)

    def tearDown(self) -> None:
        """Every test leaves the clock with nothing scheduled (no work left behind)."""
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def rendered(self) -> str:
        return "\n".join(formatEvent(event) for event in self.events)

    def attempt_times(self, address: tuple[str, int] = ADDRESS1) -> list[float]:
        return [when for when, host, port in self.network.attempts if (host, port) == address]


class TestHandshake(ConnectionsTestCase):
    def test_discovers_connects_authenticates_and_registers(self) -> None:
        """The first cluster: discovered, connected, both sides authenticated, RegisterV2
        with the networks and URL, ACCEPTED; one log line per step."""
        self.start()
        self.assertTrue(self.connections.has_accepted_connection())
        self.assertEqual(self.connections.statuses(), {LOOP1: ClusterStatus.ACCEPTED})
        [call] = self.state.named("RegisterV2")
        self.assertEqual((call["uuid"], call["networks"], call["url"].to_text()),
                         (UUID, NETWORKS, URL))
        [region] = self.network.regions
        self.assertEqual(region.identified, UUID)
        text = self.rendered()
        steps = ["Discovered region event loops: region:pid=1 at 10.0.0.1:5250",
                 "Connected to region region:pid=1 at 10.0.0.1:5250",
                 "Authenticated region region:pid=1",
                 "Registered with region region:pid=1: cluster cluster-0001 is ACCEPTED"]
        positions = [text.find(step) for step in steps]
        self.assertNotIn(-1, positions, text)
        self.assertEqual(positions, sorted(positions))
        self.stop()

    def test_old_region_is_registered_with_register(self) -> None:
        """A region without RegisterV2: Register, and the cluster is accepted."""
        self.connections = self.make(SECRET, FakeOldRegion)
        self.start()
        self.assertTrue(self.connections.has_accepted_connection())
        self.assertEqual(len(self.state.named("Register")), 1)
        self.stop()

    def test_addresses_are_tried_in_turn(self) -> None:
        """An event loop advertised at two addresses: the reachable one is used."""
        self.eventloops = {LOOP1: [("10.9.9.9", 5250), ADDRESS1]}
        self.start()
        self.assertTrue(self.connections.has_accepted_connection())
        self.assertEqual(self.connections.links[LOOP1].address, ADDRESS1)
        self.stop()

    def test_the_region_can_call_the_cluster(self) -> None:
        """Once established, the region's commands reach the cluster's responders."""
        drivers = Drivers(self.clock)
        self.runtime.power = PowerService(self.clock, FakeRegionClient(), drivers)
        drivers.driver_for("ipmi").states["node-1"] = "on"
        self.start()
        [region] = self.network.regions
        answer = region.callRemote(PowerQuery, system_id="node-1", hostname="h",
                                   power_type="ipmi",
                                   context={"system_id": "node-1", "power_address": "10.0.0.5"})
        self.network.flush()
        self.assertEqual(self.successResultOf(answer), {"state": "on"})
        self.stop()


class TestStanding(ConnectionsTestCase):
    def test_pending_cluster_keeps_its_connection_and_learns_it_was_accepted(self) -> None:
        """A second cluster is PENDING: connected, no work; GetClusterStatus every 30 s
        tells it when an administrator accepted it."""
        self.state.statuses["first"] = ClusterStatus.ACCEPTED
        self.start()
        self.assertEqual(self.connections.statuses(), {LOOP1: ClusterStatus.PENDING})
        self.assertFalse(self.connections.has_accepted_connection())
        self.assertIn("is PENDING; an administrator must accept it", self.rendered())
        self.advance(30)
        self.assertEqual(len(self.state.named("GetClusterStatus")), 1)
        self.assertFalse(self.connections.has_accepted_connection())
        self.state.statuses[UUID] = ClusterStatus.ACCEPTED
        self.advance(30)
        self.assertTrue(self.connections.has_accepted_connection())
        self.assertIn("Cluster cluster-0001 is now ACCEPTED", self.rendered())
        self.assertEqual(len(self.network.regions), 1)  # the same connection all along
        self.stop()

    def test_rejected_cluster_retries_slowly_and_says_so(self) -> None:
        """A rejected cluster is disconnected and tries again only every 2 minutes."""
        self.state.statuses[UUID] = ClusterStatus.REJECTED
        self.start()
        self.assertFalse(self.connections.has_accepted_connection())
        self.assertIn("has been rejected", self.rendered())
        self.assertIn("retrying slowly, in 120 s", self.rendered())
        self.advance(119)
        self.assertEqual(self.attempt_times(), [0.0])
        self.advance(1)
        self.assertEqual(self.attempt_times(), [0.0, 120.0])
        self.stop()

    def test_accepted_then_rejected_disconnects(self) -> None:
        """An administrator rejects an accepted cluster: it notices within 30 s, drops the
        connection and retries slowly."""
        self.start()
        self.state.statuses[UUID] = ClusterStatus.REJECTED
        self.advance(30)
        self.assertFalse(self.connections.has_accepted_connection())
        self.assertTrue(self.network.regions[0].lost)
        self.assertIn("has been rejected by an administrator", self.rendered())
        self.assertIn("cluster cluster-0001 has been rejected; retrying slowly, in 120 s",
                      self.rendered())
        attempts = len(self.attempt_times())
        self.advance(119)
        self.assertEqual(len(self.attempt_times()), attempts)
        self.stop()


class TestReconnection(ConnectionsTestCase):
    def test_reconnects_with_backoff_when_the_region_restarts(self) -> None:
        """The region goes away: retries back off (1.5, 2.25, 3.375 s ...) and the
        cluster reconnects by itself when the region is back."""
        self.start()
        self.network.down(*ADDRESS1)
        self.assertFalse(self.connections.has_accepted_connection())
        self.assertIn("Lost the connection to region region:pid=1", self.rendered())
        self.advance(8)
        self.assertEqual(self.attempt_times(), [0.0, 1.5, 3.75, 7.125])
        self.assertIn("retrying in 3.4 s (attempt 3)", self.rendered())
        self.serve(LOOP1, ADDRESS1)
        self.advance(5)  # the next attempt is due at 7.125 + 5.0625
        self.assertTrue(self.connections.has_accepted_connection())
        self.assertEqual(len(self.state.named("RegisterV2")), 2)
        self.stop()

    def test_a_wrong_secret_is_refused_and_retried_with_backoff(self) -> None:
        """With a wrong secret no connection is established; the log says to check the
        secret and never shows either secret."""
        self.connections = self.make(OTHER_SECRET)
        self.start()
        self.assertFalse(self.connections.has_accepted_connection())
        self.assertEqual(self.state.named("RegisterV2"), [])
        self.assertGreaterEqual(self.state.refused, 1)
        self.advance(4)
        self.assertEqual(self.attempt_times(), [0.0, 1.5, 3.75])
        text = self.rendered()
        self.assertIn("shared secret", text)
        for secret in (SECRET, OTHER_SECRET):
            self.assertNotIn(secret.hex(), text)
            self.assertNotIn(secret.decode(), text)
        self.stop()

    def test_client_service_prepare_connection_trap(self) -> None:
        """Why the handshake is not a prepareConnection: after a failed prepareConnection,
        ClientService cannot take the loss of that connection (Twisted 26.10).  If this
        test fails, Twisted fixed it and the workaround can go."""
        connected: list[Protocol] = []

        class Endpoint:
            def connect(self, factory: Factory) -> Deferred[Protocol]:
                protocol = factory.buildProtocol(None)
                protocol.makeConnection(StringTransport())
                connected.append(protocol)
                return succeed(protocol)

        def refuse(protocol: Protocol) -> None:
            raise ValueError("handshake failed")

        service = ClientService(Endpoint(), Factory.forProtocol(Protocol), clock=Clock(),
                                prepareConnection=refuse)
        service.startService()
        self.assertRaises(NoTransition, connected[0].connectionLost,
                          Failure(ConnectionDone()))

    def test_stopping_closes_connections_and_stops_retrying(self) -> None:
        """stopService closes every connection and leaves no timer behind."""
        self.start()
        self.stop()
        self.assertTrue(self.network.regions[0].lost)
        self.assertIn("Closed the connection to region region:pid=1", self.rendered())
        self.assertEqual(self.clock.getDelayedCalls(), [])
        attempts = len(self.network.attempts)
        self.advance(100)
        self.assertEqual(len(self.network.attempts), attempts)

    def test_stopping_during_the_handshake(self) -> None:
        """Stopping while the handshake is in flight closes that connection and leaves
        nothing scheduled."""
        self.connections.startService()
        self.clock.advance(0)  # connected, no byte moved yet
        [region] = self.network.regions
        stopped = self.connections.stopService()
        self.network.flush()
        self.successResultOf(stopped)
        self.assertTrue(region.lost)
        self.assertEqual(self.state.named("RegisterV2"), [])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopping_while_retrying(self) -> None:
        """Stopping while waiting to retry cancels the retry."""
        self.network.up.clear()
        self.start()
        self.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class TestDiscovery(ConnectionsTestCase):
    def test_new_event_loops_are_joined_and_gone_ones_dropped(self) -> None:
        """Discovery every 30 s while settled: a new region process is joined, one that
        is no longer advertised is dropped."""
        self.start()
        self.serve(LOOP2, ADDRESS2)
        self.eventloops = {LOOP1: [ADDRESS1], LOOP2: [ADDRESS2]}
        self.advance(30)
        self.assertEqual(self.connections.statuses(),
                         {LOOP1: ClusterStatus.ACCEPTED, LOOP2: ClusterStatus.ACCEPTED})
        self.eventloops = {LOOP2: [ADDRESS2]}
        self.advance(30)
        self.assertEqual(list(self.connections.links), [LOOP2])
        self.assertTrue(self.network.regions[0].lost)
        self.assertIn("Region event loop region:pid=1 is no longer advertised; dropping it",
                      self.rendered())
        self.stop()

    def test_discovery_failures_back_off(self) -> None:
        """While the region's HTTP side is down, discovery retries with backoff."""
        self.fetch_error = ConnectionRefusedError("region down")
        self.start()
        self.assertIn("Cannot discover the region's event loops at "
                      "http://region.example:5240/MAAS/rpc/", self.rendered())
        self.advance(1.5)
        self.assertEqual(self.fetches, 2)
        self.advance(2.25)
        self.assertEqual(self.fetches, 3)
        self.fetch_error = None
        self.advance(3.375)
        self.assertTrue(self.connections.has_accepted_connection())
        self.stop()

    def test_nothing_advertised_yet(self) -> None:
        """{"eventloops": null}: no link, asked again 10 s later."""
        self.eventloops = None
        self.start()
        self.assertEqual(self.connections.links, {})
        self.assertIn("advertises no RPC event loop yet", self.rendered())
        self.eventloops = {LOOP1: [ADDRESS1]}
        self.advance(10)
        self.assertTrue(self.connections.has_accepted_connection())
        self.stop()

    def test_a_lost_connection_brings_discovery_forward(self) -> None:
        """When a connection is lost the cluster looks for the region's processes again
        after 2 s instead of 30 s (a restarted region has a new event loop)."""
        self.start()
        fetched = self.fetches
        self.network.down(*ADDRESS1)
        self.advance(2)
        self.assertEqual(self.fetches, fetched + 1)
        self.stop()


class TestCalls(ConnectionsTestCase):
    def test_calls_go_over_an_accepted_connection(self) -> None:
        """call() sends the command to the region and returns its answer."""
        self.state.pages.append([])
        self.start()
        answer = Deferred.fromCoroutine(
            self.connections.call(ListNodePowerParameters, uuid=UUID))
        self.network.flush()
        self.assertEqual(self.successResultOf(answer), {"nodes": []})
        self.stop()

    def test_calls_wait_for_a_connection(self) -> None:
        """A call made while connecting is answered once the cluster is accepted."""
        self.connections.startService()
        answer = Deferred.fromCoroutine(
            self.connections.call(ListNodePowerParameters, uuid=UUID))
        self.clock.advance(0)
        self.network.flush()
        self.assertEqual(self.successResultOf(answer), {"nodes": []})
        self.stop()

    def test_calls_fail_when_no_connection_is_accepted_in_time(self) -> None:
        """No accepted connection within 10 s: NoConnectionsAvailable."""
        self.state.statuses["first"] = ClusterStatus.ACCEPTED  # we are PENDING
        self.start()
        answer: Deferred[Any] = Deferred.fromCoroutine(
            self.connections.call(ListNodePowerParameters, uuid=UUID))
        self.clock.advance(10)
        failure = self.failureResultOf(answer, NoConnectionsAvailable)
        self.assertIn("No connection to the region accepts cluster cluster-0001",
                      str(failure.value))
        self.stop()
