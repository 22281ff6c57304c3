"""PowerMonitor: the pipeline, adaptive concurrency, one request per BMC, backoff, failures."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from cluster.power.monitor import PowerMonitor, RoundSummary
from cluster.power.service import PowerService
from power.errors import PowerActionError, PowerAuthError, PowerConnError
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
                        "power_address": address or
                        f"10.{number // 62500}.{number // 250 % 250}.{number % 250 + 1}"}}


def batched(region: FakeRegionClient, system_id: str | None = None) -> list[tuple[str, str]]:
    """(system_id, state) of every state reported with UpdateNodePowerStates, in order."""
    return [(entry["system_id"], entry["power_state"])
            for call in region.named("UpdateNodePowerStates") for entry in call["states"]
            if system_id in (None, entry["system_id"])]


class MonitorTestCase(SynchronousTestCase):
    #: Keyword arguments of the PowerMonitor under test.
    options: dict[str, Any] = {}

    def setUp(self) -> None:
        self.clock = Clock()
        self.region = FakeRegionClient()
        self.drivers = Drivers(self.clock)
        self.driver: FakePowerDriver = self.drivers.driver_for("ipmi")
        self.power = PowerService(self.clock, self.region, self.drivers)
        self.monitor = PowerMonitor(self.clock, self.region, UUID, self.power,
                                    **{"summary_interval": 0, **self.options})
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def run_round(self) -> Deferred[RoundSummary]:
        return Deferred.fromCoroutine(self.monitor.run_once())

    def tearDown(self) -> None:
        """Every test leaves the clock with nothing scheduled (no work left behind)."""
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def rendered(self) -> str:
        return "\n".join(formatEvent(event) for event in self.events)

    def listings(self) -> int:
        return len(self.region.named("ListNodePowerParameters"))


class TestRounds(MonitorTestCase):
    def test_a_run_pages_until_the_region_has_nothing_left(self) -> None:
        """ListNodePowerParameters is asked until it answers an empty list; every node
        is queried and its state reported, in one batch."""
        self.driver.states.update({"node-1": "on", "node-3": "on"})
        self.region.pages.extend([[node("node-1"), node("node-2")], [node("node-3")]])
        summary = self.successResultOf(self.run_round())
        self.assertEqual(summary, RoundSummary(pages=2, queried=3, failed=0, skipped=0))
        self.assertEqual([call["uuid"] for call in self.region.named("ListNodePowerParameters")],
                         [UUID] * 3)
        self.assertEqual(sorted(batched(self.region)),
                         [("node-1", "on"), ("node-2", "off"), ("node-3", "on")])
        self.assertEqual(len(self.region.named("UpdateNodePowerStates")), 1)
        self.assertEqual(self.region.named("UpdateNodePowerStates")[0]["uuid"], UUID)
        self.assertEqual(self.region.named("UpdateNodePowerState"), [])

    def test_no_listing_without_an_accepted_connection(self) -> None:
        """A pending (or disconnected) cluster does not ask for nodes."""
        self.region.accepted = False
        self.assertEqual(self.successResultOf(self.run_round()), RoundSummary())
        self.assertEqual(self.region.calls, [])

    def test_the_service_lists_every_interval_while_nothing_is_due(self) -> None:
        """The service lists at start, then every 2 s while the region has nothing."""
        self.monitor.startService()
        self.assertEqual(self.listings(), 1)
        self.clock.advance(1.9)
        self.assertEqual(self.listings(), 1)
        self.clock.advance(0.1)
        self.assertEqual(self.listings(), 2)
        self.assertIsNone(self.monitor.stopService())  # nothing read: nothing to send

    def test_a_short_page_is_followed_by_a_short_gap_a_full_one_by_none(self) -> None:
        """After a page of a few nodes the next listing comes 1 s later; after a full page
        (100 nodes or more: more may be due) at once."""
        self.region.pages.extend([[node("node-1")], [node(f"node-{i}") for i in range(2, 102)]])
        self.monitor.startService()
        self.assertEqual(self.listings(), 1)
        self.clock.advance(1)
        self.assertEqual(self.listings(), 3)  # the full page, then at once the empty one
        self.clock.advance(2)
        self.assertEqual(self.listings(), 4)
        self.monitor.stopService()
        self.clock.advance(5)  # the last reports, sent on the way out

    def test_nodes_with_a_change_in_progress_are_skipped(self) -> None:
        """A node being powered on is not queried by the monitor."""
        self.driver.hang("on")
        self.power.change_power_state("node-1", "h", "ipmi", node("node-1")["context"], "on")
        self.region.pages.append([node("node-1"), node("node-2")])
        summary = self.successResultOf(self.run_round())
        self.assertEqual((summary.queried, summary.skipped), (1, 1))
        self.assertEqual(self.driver.actions("query"), [("query", "node-2")])
        self.power.stopService()

    def test_stopping_sends_what_was_read(self) -> None:
        """States read but not yet reported go to the region when the service stops."""
        self.region.pages.append([node("node-1", power_state="off")])
        self.monitor.startService()
        self.assertEqual(batched(self.region), [])  # unchanged: it waits up to 2 s
        self.successResultOf(self.monitor.stopService())
        self.assertEqual(batched(self.region), [("node-1", "off")])


class TestPipeline(MonitorTestCase):
    def test_the_next_page_is_fetched_while_this_one_is_queried(self) -> None:
        """With room in the backlog, the next pages are asked for at once: the queries of
        both pages run together."""
        self.driver.delays["query"] = 2.0
        self.region.pages.extend([[node(f"node-{i}") for i in range(1, 4)],
                                  [node(f"node-{i}") for i in range(4, 7)]])
        result = self.run_round()
        self.assertEqual(self.listings(), 3)
        self.assertEqual(self.driver.in_flight, 6)
        self.clock.advance(2)
        self.assertEqual(self.successResultOf(result).queried, 6)

    def test_listing_waits_while_the_backlog_is_full(self) -> None:
        """With 4 slots and 10 nodes, 6 wait: no listing until fewer than 4 wait."""
        self.monitor.limit.limit = 4.0
        self.monitor.limit.maximum = 4
        self.driver.delays["query"] = 2.0
        self.region.pages.extend([[node(f"node-{i}") for i in range(1, 11)],
                                  [node(f"node-{i}") for i in range(11, 13)]])
        result = self.run_round()
        self.assertEqual(self.listings(), 1)
        self.assertEqual((self.driver.in_flight, self.monitor.limit.waiting), (4, 6))
        self.clock.advance(2)
        # 2 wait: room again; the second page (2 nodes) fills the backlog again.
        self.assertEqual(self.listings(), 2)
        self.assertEqual((self.driver.in_flight, self.monitor.limit.waiting), (4, 4))
        self.clock.advance(2)
        self.assertEqual(self.listings(), 3)  # the empty page: the run is over once done
        for _ in range(2):
            self.clock.advance(2)
        self.assertEqual(self.successResultOf(result).queried, 12)
        self.assertEqual(self.driver.max_in_flight, 4)


class TestConcurrency(MonitorTestCase):
    options = {"concurrency": 5, "initial_concurrency": 5, "min_concurrency": 1}

    def test_concurrency_is_bounded(self) -> None:
        """20 nodes on 20 BMCs answering in 2 s, a cap of 5: at most 5 queries in flight."""
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


class TestTransitional(MonitorTestCase):
    options = {"concurrency": 2, "initial_concurrency": 2, "min_concurrency": 1}

    def test_a_re_read_takes_the_next_slot_before_routine_queries(self) -> None:
        """A node read again within 30 s is transitional (the region re-lists it
        because its status is about to change): its query goes before the routine
        ones already waiting for a slot, and its report goes out at once."""
        self.region.pages.append([node("node-1")])
        self.successResultOf(self.run_round())
        self.clock.advance(5)
        self.driver.delays["query"] = 2.0
        self.region.pages.append([node(f"node-{i}") for i in range(2, 6)]
                                 + [node("node-1", power_state="off")])
        result = self.run_round()
        self.assertEqual(self.driver.in_flight, 2)
        self.clock.advance(2)
        self.assertEqual([system_id for _, system_id in self.driver.actions("query")],
                         ["node-1", "node-2", "node-3", "node-1", "node-4"])
        self.clock.advance(2)
        self.clock.advance(0.25)
        self.assertIn(("node-1", "off"), batched(self.region)[1:])  # sent before the rest
        self.clock.advance(2)
        self.assertEqual(self.successResultOf(result).queried, 5)


class TestUnderLoad(MonitorTestCase):
    options = {"concurrency": 64, "initial_concurrency": 4, "min_concurrency": 2}

    def advance(self, seconds: float, step: float = 0.5) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def test_concurrency_grows_while_answers_are_prompt(self) -> None:
        """600 nodes on distinct BMCs answering in 2 s: from 4 slots the limit grows to
        its cap of 64 within a few round trips, and all 64 are used."""
        self.driver.delays["query"] = 2.0
        self.region.pages.extend([[node(f"node-{i}") for i in range(p * 200, p * 200 + 200)]
                                  for p in range(3)])
        result = self.run_round()
        self.assertEqual(self.driver.in_flight, 4)
        self.advance(12)
        self.assertEqual(self.monitor.limit.slots, 64)
        self.assertEqual(self.driver.in_flight, 64)
        self.advance(30)
        self.assertEqual(self.successResultOf(result).queried, 600)
        self.assertEqual(self.driver.max_in_flight, 64)
        self.assertEqual(self.monitor.limit.cuts, 0)

    def test_concurrency_shrinks_on_timeouts_and_slow_answers(self) -> None:
        """Once grown, the limit is cut when many queries time out (a congested path),
        to its floor at worst; then it grows again when answers are prompt."""
        self.driver.delays["query"] = 2.0
        self.region.pages.extend([[node(f"node-{i}") for i in range(p * 200, p * 200 + 200)]
                                  for p in range(10)])
        result = self.run_round()
        self.advance(12)
        self.assertEqual(self.monitor.limit.slots, 64)
        self.driver.delays["query"] = 30.0  # past the 20 s query timeout
        self.advance(60)
        # The queries time out in bursts, one every 20 s; each burst is one congestion
        # event (as TCP cuts once per window, not once per lost segment): 64 * 0.75 ** 2.
        self.assertEqual((self.monitor.limit.slots, self.monitor.limit.cuts), (36, 2))
        self.assertIn("No answer within 20 seconds", self.rendered())
        self.advance(240)
        self.assertEqual(self.monitor.limit.slots, 2)  # the floor
        self.driver.delays["query"] = 2.0
        self.advance(60)
        self.assertGreater(self.monitor.limit.slots, 8)
        self.advance(600)
        self.successResultOf(result)

    def test_slow_answers_alone_shrink_the_limit(self) -> None:
        """Answers four times slower than usual (no error at all) cut the limit too."""
        self.driver.delays["query"] = 2.0
        self.region.pages.extend([[node(f"node-{i}") for i in range(p * 200, p * 200 + 200)]
                                  for p in range(6)])
        result = self.run_round()
        self.advance(12)
        self.assertEqual(self.monitor.limit.slots, 64)
        self.driver.delays["query"] = 8.0
        self.advance(24)
        self.assertLess(self.monitor.limit.slots, 40)
        self.assertEqual(self.monitor.stats.failed, 0)
        self.advance(600)
        self.successResultOf(result)

    def test_one_request_per_bmc_holds_under_load(self) -> None:
        """1,000 nodes behind 50 chassis (20 each) plus 500 single nodes, with power
        changes thrown in: never two requests at once to one BMC, and every node read."""
        self.driver.delays["query"] = 2.0
        self.driver.delays["on"] = 1.0
        chassis = [node(f"node-{i}", f"10.200.0.{i % 50}") for i in range(1000)]
        singles = [node(f"node-{i}") for i in range(1000, 1500)]
        mixed = [entry for pair in zip(chassis[:500], singles, strict=True) for entry in pair]
        mixed += chassis[500:]
        self.region.pages.extend([mixed[p:p + 150] for p in range(0, len(mixed), 150)])
        result = self.run_round()
        for second in range(5):
            self.power.change_power_state(
                f"node-{2000 + second}", "h", "ipmi",
                node(f"node-{2000 + second}", f"10.200.0.{second}")["context"], "on")
            self.advance(1)
        self.advance(20 * 2 * 2 + 60)
        self.assertEqual(self.successResultOf(result).queried, 1500)
        self.assertEqual(max(self.driver.max_in_flight_by_bmc.values()), 1)
        self.assertEqual(len(set(batched(self.region))), 1500)
        self.assertEqual(len(self.driver.actions("on")), 5)


class TestBackoff(MonitorTestCase):
    def test_a_failing_bmc_rests_and_its_nodes_stay_in_error(self) -> None:
        """A BMC that failed is not asked again for 10 s, then 20 s, ...; meanwhile its
        nodes are reported "error" (fresh) without a query and without a second event;
        an answer ends the rest."""
        self.driver.fail("query", PowerConnError("no route"), PowerConnError("no route"))
        self.region.pages.append([node("node-1")])
        self.successResultOf(self.run_round())
        self.assertEqual(batched(self.region), [("node-1", "error")])
        self.assertEqual(self.region.events(), ["NODE_POWER_QUERY_FAILED"])
        self.assertIn("its BMC rests 10 s", self.rendered())

        self.clock.advance(5)
        self.region.pages.append([node("node-1", power_state="error")])
        summary = self.successResultOf(self.run_round())
        self.assertEqual((summary.queried, self.monitor.stats.rested), (0, 1))
        self.assertEqual(len(self.driver.actions("query")), 1)
        self.assertEqual(batched(self.region, "node-1"), [("node-1", "error")] * 2)
        self.assertEqual(self.region.events(), ["NODE_POWER_QUERY_FAILED"])

        self.clock.advance(5)  # 10 s: asked again, fails again: 20 s
        self.region.pages.append([node("node-1", power_state="error")])
        self.successResultOf(self.run_round())
        self.assertEqual(len(self.driver.actions("query")), 2)
        self.assertIn("its BMC rests 20 s", self.rendered())
        self.clock.advance(19)
        self.region.pages.append([node("node-1", power_state="error")])
        self.successResultOf(self.run_round())
        self.assertEqual(len(self.driver.actions("query")), 2)
        self.clock.advance(1)
        self.region.pages.append([node("node-1", power_state="error")])
        self.successResultOf(self.run_round())
        self.assertEqual(batched(self.region)[-1], ("node-1", "off"))
        self.assertEqual(self.monitor.backoff.failures("10.0.0.2"), 0)

    def test_the_nodes_of_a_dead_chassis_cost_one_query(self) -> None:
        """Five nodes behind a BMC that fails: the first query fails, the four waiting for
        the BMC are reported in error without being sent."""
        self.driver.delays["query"] = 2.0
        self.driver.fail("query", PowerAuthError("bad password"))
        self.region.pages.append([node(f"node-{i}", "10.7.7.7") for i in range(1, 6)])
        result = self.run_round()
        self.clock.advance(2)
        summary = self.successResultOf(result)
        self.assertEqual((summary.queried, summary.failed, self.monitor.stats.rested), (1, 1, 4))
        self.assertEqual(len(self.driver.actions("query")), 1)
        self.assertEqual(sorted(batched(self.region)),
                         [(f"node-{i}", "error") for i in range(1, 6)])
        self.assertEqual(len(self.region.events()), 5)
        descriptions = [event["description"] for event in self.region.named("SendEvent")]
        self.assertEqual(sum("rests 10 s more (last: bad password)" in text
                             for text in descriptions), 4)

    def test_a_silent_bmc_is_cut_off_after_the_query_timeout(self) -> None:
        """A BMC that never answers holds a slot for 20 s, not the driver's 60."""
        self.driver.hang("query")
        self.region.pages.append([node("node-1")])
        result = self.run_round()
        self.clock.advance(20)
        self.successResultOf(result)
        self.assertEqual(self.driver.cancelled, [("query", "node-1")])
        self.assertEqual(batched(self.region), [("node-1", "error")])
        self.assertIn("No answer within 20 seconds", self.rendered())
        self.assertEqual(self.monitor.limit.in_flight, 0)

    def test_changes_do_not_wait_for_the_backoff(self) -> None:
        """A power change to a resting BMC goes through (a person asked for it)."""
        self.driver.fail("query", PowerConnError("no route"))
        self.region.pages.append([node("node-1")])
        self.successResultOf(self.run_round())
        self.power.change_power_state("node-1", "h", "ipmi", node("node-1")["context"], "on")
        self.clock.advance(1)
        self.assertEqual(self.driver.actions("on"), [("on", "node-1")])
        self.clock.advance(60)


class TestFailures(MonitorTestCase):
    def test_a_failed_query_reports_error_and_an_event(self) -> None:
        """A query that fails reports state "error" and NODE_POWER_QUERY_FAILED."""
        self.driver.fail("query", PowerActionError("HTTP 503"))
        self.region.pages.append([node("node-1"), node("node-2")])
        summary = self.successResultOf(self.run_round())
        self.assertEqual((summary.queried, summary.failed), (2, 1))
        self.assertEqual(sorted(state for _, state in batched(self.region)), ["error", "off"])
        self.assertEqual(self.region.events(), ["NODE_POWER_QUERY_FAILED"])

    def test_no_event_for_a_node_already_in_error(self) -> None:
        """A BMC that keeps failing does not add an event every time."""
        self.driver.fail("query", PowerAuthError("bad password"))
        self.region.pages.append([node("node-1", power_state="error")])
        self.successResultOf(self.run_round())
        self.assertEqual(batched(self.region), [("node-1", "error")])
        self.assertEqual(self.region.events(), [])

    def test_a_power_type_without_driver_is_an_error_not_a_crash(self) -> None:
        """A node whose power type has no driver is reported in error; the run goes on."""
        self.region.pages.append([node("node-1", power_type="dli"), node("node-2")])
        summary = self.successResultOf(self.run_round())
        self.assertEqual((summary.queried, summary.failed), (2, 1))
        self.assertIn("no driver for power type 'dli'",
                      self.region.named("SendEvent")[0]["description"])

    def test_listing_failure_is_logged_and_listing_goes_on(self) -> None:
        """ListNodePowerParameters failing is logged; the next listing comes as usual."""
        self.region.errors["ListNodePowerParameters"].append(ConnectionError("lost"))
        self.monitor.startService()
        self.assertIn("could not list the nodes to check", self.rendered())
        self.region.pages.append([node("node-1")])
        self.clock.advance(2)
        self.clock.advance(2)
        self.assertEqual(batched(self.region), [("node-1", "off")])
        self.monitor.stopService()

    def test_an_unexpected_error_does_not_stop_the_loop(self) -> None:
        """A bug while checking a node is logged with its traceback; the loop runs on."""
        self.region.pages.append([{"system_id": "node-1"}])  # malformed: no power_type
        self.monitor.startService()
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)
        self.region.pages.append([node("node-2")])
        self.clock.advance(2)
        self.clock.advance(2)
        self.assertEqual(batched(self.region), [("node-2", "off")])
        self.monitor.stopService()

    def test_stopping_cancels_the_queries(self) -> None:
        """stopService cancels the queries in flight; no delayed call is left behind."""
        self.driver.hang("query")
        self.region.pages.append([node("node-1")])
        self.monitor.startService()
        self.monitor.stopService()
        self.assertEqual(self.driver.cancelled, [("query", "node-1")])
        self.assertEqual(self.monitor.limit.in_flight, 0)

    def test_the_password_never_reaches_the_logs(self) -> None:
        """Monitor failures are logged with the password scrubbed."""
        self.driver.fail("query", PowerConnError(f"{PASSWORD} rejected"))
        self.region.pages.append([node("node-1")])
        self.successResultOf(self.run_round())
        self.assertIn("could not query node-1", self.rendered())
        self.assertNotIn(PASSWORD, self.rendered())
        self.assertNotIn(PASSWORD, repr(self.region.named("SendEvent")))
        self.assertNotIn(PASSWORD, repr(self.region.named("UpdateNodePowerStates")))

    def test_a_summary_line_every_minute(self) -> None:
        """The service logs its totals every summary_interval seconds."""
        monitor = PowerMonitor(self.clock, self.region, UUID, self.power, summary_interval=60)
        self.region.pages.append([node("node-1")])
        monitor.startService()
        self.clock.advance(60)
        self.assertIn("Power monitor totals: 1 queries, 0 failed", self.rendered())
        self.assertIn("region calls; concurrency limit 16", self.rendered())
        monitor.stopService()
