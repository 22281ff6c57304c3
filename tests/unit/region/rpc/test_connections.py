"""ClusterConnections: who is connected, in what state, and clients that never hang."""

from __future__ import annotations

import random

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.protocols import amp
from twisted.trial.unittest import SynchronousTestCase

from region.rpc.connections import ClusterConnections
from rpc.client import RPCClient
from rpc.commands.region import ClusterStatus
from rpc.errors import NoConnectionsAvailable

ACCEPTED, PENDING, REJECTED = ClusterStatus.ACCEPTED, ClusterStatus.PENDING, ClusterStatus.REJECTED


class TestClusterConnections(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clusters = ClusterConnections(self.clock, rng=random.Random(4))

    def test_no_connection_fails_at_once_with_18s_message(self) -> None:
        """client_for a cluster with no connection raises NoConnectionsAvailable at once."""
        with self.assertRaises(NoConnectionsAvailable) as raised:
            self.clusters.client_for("abc")
        self.assertEqual(str(raised.exception),
                         "Unable to connect to cluster abc; no connections available.")
        self.assertEqual(raised.exception.uuid, "abc")

    def test_accepted_cluster_gets_a_client_on_one_of_its_connections(self) -> None:
        """An accepted cluster's client uses one of its connections, with the registry's clock."""
        first, second = amp.AMP(), amp.AMP()
        self.clusters.add("abc", first, ACCEPTED)
        self.clusters.add("abc", second, ACCEPTED)
        used = {self.clusters.client_for("abc").protocol for _ in range(50)}
        self.assertEqual(used, {first, second})
        client = self.clusters.client_for("abc")
        self.assertIsInstance(client, RPCClient)
        self.assertIs(client.clock, self.clock)
        self.assertEqual(self.clusters.connection_count("abc"), 2)

    def test_pending_and_rejected_clusters_are_listed_but_get_no_client(self) -> None:
        """Pending and rejected clusters keep their connection but are not handed out."""
        self.clusters.add("p", amp.AMP(), PENDING)
        self.clusters.add("r", amp.AMP(), REJECTED)
        self.clusters.add("a", amp.AMP(), ACCEPTED)
        for uuid in ("p", "r"):
            self.assertRaises(NoConnectionsAvailable, self.clusters.client_for, uuid)
            self.assertTrue(self.clusters.is_connected(uuid))
        self.assertEqual(self.clusters.connected_uuids(), ["a"])
        self.assertEqual(self.clusters.connected_clusters(),
                         {"a": ACCEPTED, "p": PENDING, "r": REJECTED})
        self.assertEqual(self.clusters.status_of("p"), PENDING)
        self.assertIsNone(self.clusters.status_of("nobody"))

    def test_accepting_a_connected_cluster_hands_it_out(self) -> None:
        """set_status(ACCEPTED) on a pending cluster makes it usable at once."""
        connection = amp.AMP()
        self.clusters.add("p", connection, PENDING)
        self.clusters.set_status("p", ACCEPTED)
        self.assertIs(self.clusters.client_for("p").protocol, connection)
        self.clusters.set_status("p", REJECTED)
        self.assertRaises(NoConnectionsAvailable, self.clusters.client_for, "p")

    def test_set_status_of_unconnected_cluster_is_ignored(self) -> None:
        """A state change for a cluster that is not connected records nothing."""
        self.clusters.set_status("gone", ACCEPTED)
        self.assertEqual(self.clusters.connected_clusters(), {})

    def test_discarding_the_last_connection_forgets_the_cluster(self) -> None:
        """When its last connection is lost, the cluster is no longer connected."""
        first, second = amp.AMP(), amp.AMP()
        self.clusters.add("abc", first, ACCEPTED)
        self.clusters.add("abc", second, ACCEPTED)
        self.assertEqual(self.clusters.discard(first), "abc")
        self.assertIs(self.clusters.client_for("abc").protocol, second)
        self.assertEqual(self.clusters.discard(second), "abc")
        self.assertIsNone(self.clusters.discard(second))
        self.assertFalse(self.clusters.is_connected("abc"))
        self.assertRaises(NoConnectionsAvailable, self.clusters.client_for, "abc")
        self.assertEqual(list(self.clusters.connections()), [])

    def test_wait_for_client_returns_when_the_cluster_connects(self) -> None:
        """wait_for_client fires as soon as an accepted connection appears."""
        d = Deferred.fromCoroutine(self.clusters.wait_for_client("abc", 5))
        self.assertNoResult(d)
        connection = amp.AMP()
        self.clusters.add("abc", connection, PENDING)
        self.assertNoResult(d)
        self.clusters.set_status("abc", ACCEPTED)
        self.assertIs(self.successResultOf(d).protocol, connection)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_wait_for_client_gives_up_after_its_timeout(self) -> None:
        """wait_for_client raises NoConnectionsAvailable once its timeout passes."""
        d = Deferred.fromCoroutine(self.clusters.wait_for_client("abc", 5))
        self.clock.advance(4.9)
        self.assertNoResult(d)
        self.clock.advance(0.2)
        self.failureResultOf(d, NoConnectionsAvailable)
        # A later connection does not trip over the expired waiter.
        self.clusters.add("abc", amp.AMP(), ACCEPTED)

    def test_wait_for_client_with_zero_timeout_is_client_for(self) -> None:
        """A zero timeout fails at once, without waiting."""
        d = Deferred.fromCoroutine(self.clusters.wait_for_client("abc", 0))
        self.failureResultOf(d, NoConnectionsAvailable)
