"""PowerMonitor: paging, bounded concurrency, one request per BMC, failures never fatal."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from cluster.power.monitor import PowerMonitor, RoundSummary
from cluster.power.service import PowerService
from power.errors import PowerAuthError, PowerConnError
from tests.fakes.power_driver import FakePowerDriver
from tests.unit.cluster.helpers import UUID, FakeRegionClient
from tests.unit.cluster.test_power_service import PASSWORD, Drivers


def node(system_id: str, address: str = "", *, power_state: str = "unknown",
         power_type: str = "ipmi") -> dict[str, Any]:
    """An entry of ListNodePowerParameters; each node its own BMC unless address."""
    number = int(system_id.split("-")[1])
    return {"system_id": system_id, "hostname": f"host-{system_id}", "power_state": power_state,
            "power_type": power_type,
            "context": {"system_id": system_id, "power_user": "admin", "power_pass": PASSWORD,
                        "power_address": address or f"10.1.0.{number % 250 + 1}"}}


class MonitorTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.region = FakeRegionClient()
        self.drivers = Drivers(self.clock)
        self.driver: FakePowerDriver = self.drivers.driver_for("ipmi")
        self.power = PowerService(self.clock, self.region, self.drivers)
        self.monitor = PowerMonitor(self.clock, self.region, UUID, self.power)
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def run_round(self) -> Deferred[RoundSummary]:
        return Deferred.fromCoroutine(self.monitor.run_once())

    def tearDown(self) -> None:
        """Every test leaves the clock with nothing scheduled (no work left behind)."""
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def rendered(self) -> str:
        return "\n".join(formatEvent(event) for event in self.events)


class TestRounds(MonitorTestCase):
    def test_a_round_pages_until_the_region_has_nothing_left(self) -> None:
        """ListNodePowerParameters is asked until it answers an empty list; every node
        is queried and its state reported."""
        self.driver.states.update({"node-1": "on", "node-3": "on"})
        self.region.pages.extend([[node("node-1"), node("node-2")], [node("node-3")]])
        summary = self.successResultOf(self.run_round())
        self.assertEqual(summary, RoundSummary(pages=2, queried=3, failed=0, skipped=0))
        self.assertEqual(self.region.named("ListNodePowerParameters"), [{"uuid": UUID}] * 3)
        self.assertEqual(sorted((k["system_id"], k["power_state"])
                                for k in self.region.named("UpdateNodePowerState")),
                         [("node-1", "on"), ("node-2", "off"), ("node-3", "on")])

    def test_no_round_without_an_accepted_connection(self) -> None:
        """A pending (or disconnected) cluster does not ask for nodes."""
        self.region.accepted = False
        self.assertEqual(self.successResultOf(self.run_round()), RoundSummary())
        self.assertEqual(self.region.calls, [])

    def test_rounds_run_every_interval(self) -> None:
        """The service runs a round at start, then every 15 s."""
        self.monitor.startService()
        self.assertEqual(len(self.region.named("ListNodePowerParameters")), 1)
        self.clock.advance(14)
        self.assertEqual(len(self.region.named("ListNodePowerParameters")), 1)
        self.clock.advance(1)
        self.assertEqual(len(self.region.named("ListNodePowerParameters")), 2)
        self.monitor.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_nodes_with_a_change_in_progress_are_skipped(self) -> None:
        """A node being powered on is not queried by the monitor."""
        self.driver.hang("on")
        self.power.change_power_state("node-1", "h", "ipmi", node("node-1")["context"], "on")
        self.region.pages.append([node("node-1"), node("node-2")])
        summary = self.successResultOf(self.run_round())
        self.assertEqual((summary.queried, summary.skipped), (1, 1))
        self.assertEqual(self.driver.actions("query"), [("query", "node-2")])
        self.power.stopService()


class TestConcurrency(MonitorTestCase):
    def test_concurrency_is_bounded(self) -> None:
        """20 nodes on 20 BMCs answering in 2 s: at most 5 queries in flight."""
        self.driver.delays["query"] = 2.0
        self.region.pages.append([node(f"node-{i}") for i in range(20)])
        result = self.run_round()
        self.assertEqual(self.driver.in_flight, 5)
        for _ in range(8):
            self.clock.advance(2)
        summary = self.successResultOf(result)
        self.assertEqual(summary.queried, 20)
        self.assertEqual(self.driver.max_in_flight, 5)

    def test_one_request_at_a_time_per_bmc(self) -> None:
        """Six nodes behind one chassis are queried one after another, while nodes on
        other BMCs use the remaining slots."""
        self.driver.delays["query"] = 2.0
        chassis = [node(f"node-{i}", "10.9.9.9:623") for i in range(6)]
        others = [node(f"node-{i}") for i in range(10, 14)]
        self.region.pages.append(chassis + others)
        result = self.run_round()
        self.assertEqual(self.driver.in_flight_by_bmc["10.9.9.9:623"], 1)
        self.assertEqual(self.driver.in_flight, 5)  # the chassis takes one slot only
        for _ in range(6):
            self.clock.advance(2)
        self.assertEqual(self.successResultOf(result).queried, 10)
        self.assertEqual(self.driver.max_in_flight_by_bmc["10.9.9.9:623"], 1)

    def test_power_changes_go_before_queued_monitor_queries(self) -> None:
        """A power change to a busy BMC waits for the query in flight, not for the queue."""
        self.driver.delays["query"] = 2.0
        self.region.pages.append([node(f"node-{i}", "10.9.9.9") for i in range(1, 5)])
        result = self.run_round()
        self.power.change_power_state("node-9", "h", "ipmi",
                                      node("node-9", "10.9.9.9")["context"], "on")
        self.assertEqual(self.driver.actions("on"), [])
        self.clock.advance(2)  # the query in flight ends; the change goes next
        self.assertEqual(self.driver.actions()[:3],
                         [("query", "node-1"), ("on", "node-9"), ("query", "node-2")])
        for _ in range(5):
            self.clock.advance(2)
        self.assertEqual(self.successResultOf(result).queried, 4)
        self.assertEqual(self.region.states("node-9"), ["on"])
        self.assertEqual(self.driver.max_in_flight_by_bmc["10.9.9.9"], 1)


class TestFailures(MonitorTestCase):
    def test_a_failed_query_reports_error_and_an_event(self) -> None:
        """A query that fails reports state "error" and NODE_POWER_QUERY_FAILED."""
        self.driver.fail("query", PowerConnError("no answer"))
        self.region.pages.append([node("node-1"), node("node-2")])
        summary = self.successResultOf(self.run_round())
        self.assertEqual((summary.queried, summary.failed), (2, 1))
        self.assertEqual(sorted(self.region.states()), ["error", "off"])
        self.assertEqual(self.region.events(), ["NODE_POWER_QUERY_FAILED"])

    def test_no_event_for_a_node_already_in_error(self) -> None:
        """A BMC that keeps failing does not add an event every round."""
        self.driver.fail("query", PowerAuthError("bad password"))
        self.region.pages.append([node("node-1", power_state="error")])
        self.successResultOf(self.run_round())
        self.assertEqual(self.region.states(), ["error"])
        self.assertEqual(self.region.events(), [])

    def test_a_power_type_without_driver_is_an_error_not_a_crash(self) -> None:
        """A node whose power type has no driver is reported in error; the round goes on."""
        self.region.pages.append([node("node-1", power_type="dli"), node("node-2")])
        summary = self.successResultOf(self.run_round())
        self.assertEqual((summary.queried, summary.failed), (2, 1))
        self.assertIn("no driver for power type 'dli'", self.rendered())

    def test_listing_failure_ends_the_round_not_the_loop(self) -> None:
        """ListNodePowerParameters failing is logged; the next round runs as usual."""
        self.region.errors["ListNodePowerParameters"].append(ConnectionError("lost"))
        self.monitor.startService()
        self.assertIn("could not list the nodes to check", self.rendered())
        self.region.pages.append([node("node-1")])
        self.clock.advance(15)
        self.assertEqual(self.region.states(), ["off"])
        self.monitor.stopService()

    def test_an_unexpected_error_does_not_stop_the_loop(self) -> None:
        """A bug in a round is logged with its traceback; the LoopingCall keeps running."""
        self.region.pages.append([{"system_id": "node-1"}])  # malformed: no power_type
        self.monitor.startService()
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)
        self.region.pages.append([node("node-2")])
        self.clock.advance(15)
        self.assertEqual(self.region.states(), ["off"])
        self.monitor.stopService()

    def test_stopping_cancels_the_round(self) -> None:
        """stopService cancels the queries in flight; no delayed call is left behind."""
        self.driver.hang("query")
        self.region.pages.append([node("node-1")])
        self.monitor.startService()
        self.monitor.stopService()
        self.assertEqual(self.driver.cancelled, [("query", "node-1")])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_the_password_never_reaches_the_logs(self) -> None:
        """Monitor failures are logged with the password scrubbed."""
        self.driver.fail("query", PowerConnError(f"{PASSWORD} rejected"))
        self.region.pages.append([node("node-1")])
        self.successResultOf(self.run_round())
        self.assertIn("could not query node-1", self.rendered())
        self.assertNotIn(PASSWORD, self.rendered())
        self.assertNotIn(PASSWORD, repr(self.region.named("SendEvent")))
