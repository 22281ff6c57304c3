"""ClusterPowerControl: power actions through the node's cluster, 503 when it cannot act."""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from region.db.nodes import Node
from region.domain.lifecycle import NodeStatus
from region.rpc.power import ClusterPowerControl, PowerUnavailable
from rpc.commands.region import ClusterStatus
from rpc.errors import PowerActionAlreadyInProgress, UnknownPowerType
from tests.fakes.region_rpc import FakeCluster, connect_cluster, region_for_tests

PRIMARY_MAC = "00:16:3e:00:00:01"


class MacOnlyTx:
    """Answers the one query power control makes before calling: the primary MAC."""

    async def fetchval(self, sql: str, params: Any = None) -> Any:
        return PRIMARY_MAC


class MacOnlyDatabase:
    async def transaction(self, work: Any, **kwargs: Any) -> Any:
        return await work(MacOnlyTx())


def make_node(**fields: Any) -> Node:
    values: dict[str, Any] = dict(
        id=1, system_id="node-1", hostname="host-1", nodegroup_id=1,
        status=int(NodeStatus.COMMISSIONING), owner_id=None, architecture="amd64/generic",
        cpu_count=1, memory=1024, power_type="ipmi",
        power_parameters={"power_address": "10.0.0.9", "power_user": "admin",
                          "power_pass": "s3cret-pass"},
        power_state="unknown", zone_id=1, agent_name="", token_id=None, netboot=True,
        osystem="", distro_series="", error="", nodegroup_uuid="c-1", boot_type="fastpath")
    values.update(fields)
    return Node(**values)


class PowerTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.clock = Clock()
        self.region = region_for_tests(MacOnlyDatabase(), self.clock)
        self.power: ClusterPowerControl = self.region.power
        self.cluster = FakeCluster("c-1")
        self.server, self.pump = connect_cluster(self.region, self.cluster, self.clock)

    def accept(self, status: ClusterStatus = ClusterStatus.ACCEPTED) -> None:
        self.server.cluster_uuid = "c-1"
        self.region.clusters.add("c-1", self.server, status)

    def drive(self, coroutine: Any) -> Deferred[Any]:
        d = Deferred.fromCoroutine(coroutine)
        self.pump.flush()
        return d


class TestPowerActions(PowerTestCase):
    def test_power_on_sends_poweron_with_the_effective_parameters(self) -> None:
        """power_on asks the node's cluster to PowerOn, with type and effective parameters."""
        self.accept()
        self.assertTrue(self.successResultOf(self.drive(self.power.power_on(make_node()))))
        [(command, call)] = self.cluster.calls
        self.assertEqual(command, "PowerOn")
        self.assertEqual((call["system_id"], call["hostname"], call["power_type"]),
                         ("node-1", "host-1", "ipmi"))
        context = call["context"]
        self.assertEqual(context["power_address"], "10.0.0.9")
        self.assertEqual(context["power_pass"], "s3cret-pass")
        self.assertEqual(context["mac_address"], PRIMARY_MAC)
        self.assertEqual(context["system_id"], "node-1")
        self.assertEqual(context["boot_mode"], "pxe")

    def test_power_off_passes_the_stop_mode(self) -> None:
        """power_off(mode='soft') sends power_off_mode=soft; anything else is hard."""
        self.accept()
        self.assertTrue(self.successResultOf(self.drive(self.power.power_off(make_node(), "soft"))))
        self.successResultOf(self.drive(self.power.power_off(make_node(), "whatever")))
        modes = [(command, call["context"]["power_off_mode"]) for command, call in
                 self.cluster.calls]
        self.assertEqual(modes, [("PowerOff", "soft"), ("PowerOff", "hard")])

    def test_nodes_without_power_control_are_left_to_a_person(self) -> None:
        """No power type, Wake-on-LAN without MAC, or stopping Wake-on-LAN: False, nothing sent."""
        self.accept()
        self.assertFalse(self.successResultOf(self.drive(
            self.power.power_on(make_node(power_type="", power_parameters=None)))))
        self.assertFalse(self.successResultOf(self.drive(
            self.power.power_off(make_node(power_type="ether_wake")))))
        self.assertEqual(self.cluster.calls, [])

    def test_secrets_are_not_logged(self) -> None:
        """Powering a node logs what happened, never its power password."""
        self.accept()
        self.successResultOf(self.drive(self.power.power_on(make_node())))
        text = "\n".join(formatEvent(event) for event in self.events)
        self.assertIn("node-1", text)
        self.assertNotIn("s3cret-pass", text)


class TestPowerUnavailable(PowerTestCase):
    def assertUnavailable(self, d: Deferred[Any], *fragments: str) -> PowerUnavailable:
        error = self.failureResultOf(d, PowerUnavailable).value
        self.assertEqual(error.api_status, 503)
        self.assertEqual(error.status, 503)
        for fragment in fragments:
            self.assertIn(fragment, error.message)
        return error

    def test_no_connected_cluster_is_a_503_at_once(self) -> None:
        """A node whose cluster is not connected: 503 at once, saying what to check."""
        error = self.assertUnavailable(
            self.drive(self.power.power_on(make_node(nodegroup_uuid="elsewhere"))),
            "node-1", "cluster elsewhere is not connected", "maas-cluster")
        self.assertEqual(error.headers.get("Retry-After"), "10")

    def test_pending_and_rejected_clusters_are_named_as_such(self) -> None:
        """The 503 says when the cluster is waiting for acceptance, or was rejected."""
        self.accept(ClusterStatus.PENDING)
        self.assertUnavailable(self.drive(self.power.power_on(make_node())),
                               "has not been accepted yet", "op=accept")
        self.region.clusters.set_status("c-1", ClusterStatus.REJECTED)
        self.assertUnavailable(self.drive(self.power.power_off(make_node())), "rejected")
        self.assertEqual(self.cluster.calls, [])

    def test_action_in_progress_is_a_503(self) -> None:
        """PowerActionAlreadyInProgress from the cluster becomes a 503."""
        self.accept()
        self.cluster.answers["node-1"] = PowerActionAlreadyInProgress("powering on")
        self.assertUnavailable(self.drive(self.power.power_off(make_node())),
                               "another power action is in progress")

    def test_unknown_power_type_is_a_503(self) -> None:
        """A cluster without a driver for the power type: 503 naming the type."""
        self.accept()
        self.cluster.answers["node-1"] = UnknownPowerType("no driver")
        self.assertUnavailable(self.drive(self.power.power_on(make_node())), "'ipmi'")

    def test_a_cluster_that_does_not_answer_times_out(self) -> None:
        """A silent cluster: the call gives up after PowerOn's timeout, with a 503."""
        self.accept()
        self.cluster.answers["node-1"] = "silent"
        d = self.drive(self.power.power_on(make_node()))
        self.clock.advance(59)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.assertUnavailable(d, "did not answer in time")

    def test_a_bug_on_the_cluster_is_a_503(self) -> None:
        """An undeclared failure on the cluster becomes a 503, and is logged here."""
        self.accept()
        self.cluster.answers["node-1"] = ZeroDivisionError("bug")
        self.assertUnavailable(self.drive(self.power.power_on(make_node())), "failed")
        self.flushLoggedErrors(ZeroDivisionError)

    def test_query_of_a_type_that_cannot_report_is_refused(self) -> None:
        """Querying a node whose power type cannot report its state: 503, nothing sent."""
        self.accept()
        self.assertUnavailable(self.drive(self.power.query_power_state(
            make_node(power_type="ether_wake"))), "cannot report it")
        self.assertUnavailable(self.drive(self.power.query_power_state(
            make_node(power_type="", power_parameters=None))), "no power type")
        self.assertEqual(self.cluster.calls, [])

    def test_query_is_bounded_by_its_deadline(self) -> None:
        """A PowerQuery that never comes back fails after the query timeout (45 s)."""
        self.accept()
        self.cluster.answers["node-1"] = "silent"
        d = self.drive(self.power.query_power_state(make_node()))
        self.clock.advance(44)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.assertUnavailable(d, "did not answer in time")


def test_node_factory_matches_the_record() -> None:
    """The factory above builds every field of the Node record."""
    assert {field.name for field in attrs.fields(Node)} == set(attrs.asdict(make_node()))
