"""PowerService: one change per node, 1.8's retry schedule, deadlines, reports."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from cluster.power.service import PowerService
from power.base import RETRY_WAITS
from power.errors import PowerActionError, PowerAuthError, PowerConnError
from rpc.errors import (
    NoSuchEventType,
    PowerActionAlreadyInProgress,
    PowerActionFail,
    UnknownPowerType,
)
from tests.fakes.power_driver import FakePowerDriver
from tests.unit.cluster.helpers import FakeRegionClient

PASSWORD = "Very-S3cret-Pass"


def context(system_id: str = "node-1", address: str = "10.0.0.1") -> dict[str, Any]:
    return {"system_id": system_id, "power_address": address, "power_user": "admin",
            "power_pass": PASSWORD}


class Drivers:
    """A DriverSource giving fake drivers (one per power type)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.drivers: dict[str, FakePowerDriver] = {}

    def driver_for(self, power_type: str) -> FakePowerDriver:
        if power_type == "nonsense":
            raise UnknownPowerType("Unknown power type 'nonsense'.")
        if power_type == "dli":
            raise NotImplementedError("There is no driver for power type 'dli' yet.")
        if power_type not in self.drivers:
            self.drivers[power_type] = FakePowerDriver(self.clock, power_type=power_type)
        return self.drivers[power_type]


class PowerServiceTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.region = FakeRegionClient()
        self.drivers = Drivers(self.clock)
        self.power = PowerService(self.clock, self.region, self.drivers)
        self.driver = self.drivers.driver_for("ipmi")
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def on(self, system_id: str = "node-1", **kwargs: Any) -> None:
        self.power.change_power_state(system_id, f"host-{system_id}", kwargs.get("type", "ipmi"),
                                      kwargs.get("context", context(system_id)), "on")

    def off(self, system_id: str = "node-1") -> None:
        self.power.change_power_state(system_id, f"host-{system_id}", "ipmi",
                                      context(system_id), "off")

    def advance(self, seconds: float) -> None:
        """Advance the clock one second at a time (Clock.advance(n) in one jump would
        schedule waits started during the jump from its end)."""
        while seconds >= 1:
            self.clock.advance(1)
            seconds -= 1
        if seconds:
            self.clock.advance(seconds)

    def tearDown(self) -> None:
        """Every test leaves the clock with nothing scheduled (no work left behind)."""
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def rendered(self) -> str:
        return "\n".join(formatEvent(event) for event in self.events)


class TestChanges(PowerServiceTestCase):
    def test_power_on_returns_at_once_and_reports_when_done(self) -> None:
        """PowerOn schedules the work: STARTING at once, then on, query after 1 s, reports."""
        self.on()
        self.assertEqual(self.region.events(), ["NODE_POWER_ON_STARTING"])
        self.assertEqual(self.driver.actions(), [("on", "node-1")])
        self.assertEqual(self.power.in_progress("node-1"), "on")
        self.advance(1)
        self.assertEqual(self.driver.actions(), [("on", "node-1"), ("query", "node-1")])
        self.assertEqual(self.region.states("node-1"), ["on"])
        self.assertEqual(self.region.events(), ["NODE_POWER_ON_STARTING", "NODE_POWERED_ON"])
        self.assertIsNone(self.power.in_progress("node-1"))
        self.assertEqual(self.region.named("MarkNodeFailed"), [])

    def test_power_off_reports_off(self) -> None:
        """PowerOff ends with UpdateNodePowerState off and NODE_POWERED_OFF."""
        self.driver.states["node-1"] = "on"
        self.off()
        self.advance(1)
        self.assertEqual(self.region.states("node-1"), ["off"])
        self.assertEqual(self.region.events(), ["NODE_POWER_OFF_STARTING", "NODE_POWERED_OFF"])

    def test_same_direction_again_is_accepted_silently(self) -> None:
        """A second PowerOn while one runs is accepted and does nothing more."""
        self.on()
        self.on()
        self.assertEqual(self.driver.actions("on"), [("on", "node-1")])
        self.advance(1)
        self.assertEqual(self.region.events().count("NODE_POWERED_ON"), 1)

    def test_opposite_direction_is_refused_while_one_runs(self) -> None:
        """PowerOff during a PowerOn raises PowerActionAlreadyInProgress; later it is fine."""
        self.on()
        error = self.assertRaises(PowerActionAlreadyInProgress, self.off)
        self.assertIn("host-node-1", str(error))
        self.assertIn("already in progress", str(error))
        self.advance(1)
        self.off()
        self.assertEqual(self.power.in_progress("node-1"), "off")
        self.advance(1)

    def test_other_nodes_are_independent(self) -> None:
        """One change per node, not per cluster."""
        self.on("node-1")
        self.power.change_power_state("node-2", "h2", "ipmi", context("node-2", "10.0.0.2"),
                                      "off")
        self.assertEqual(self.power.in_progress("node-1"), "on")
        self.assertEqual(self.power.in_progress("node-2"), "off")
        self.advance(1)
        self.assertEqual(self.power.changes, {})

    def test_queries_follow_the_retry_schedule_then_fail(self) -> None:
        """A device that never reports the new state is queried at 1,2,2,4,6,8,12 s, then the
        node is marked failed with 1.8's message."""
        self.driver.lag = 100
        self.on()
        query_times = []
        elapsed = 0.0
        for _ in range(sum(RETRY_WAITS)):
            self.advance(1)
            elapsed += 1
            if len(self.driver.actions("query")) > len(query_times):
                query_times.append(elapsed)
        self.assertEqual(query_times, [1, 3, 5, 9, 15, 23, 35])
        self.assertEqual(self.driver.actions("on"), [("on", "node-1")])  # never re-sent
        [failed] = self.region.named("MarkNodeFailed")
        self.assertEqual(failed["system_id"], "node-1")
        self.assertTrue(failed["error_description"].startswith(
            "Node could not be powered on: Timeout after 7 tries"), failed)
        self.assertIn("still off", failed["error_description"])
        self.assertEqual(self.region.events()[-1], "NODE_POWER_ON_FAILED")
        self.assertIsNone(self.power.in_progress("node-1"))

    def test_a_lagging_device_is_polled_until_it_agrees(self) -> None:
        """A device that reports the old state twice succeeds at the third query (t=5)."""
        self.driver.lag = 2
        self.on()
        self.advance(4)
        self.assertEqual(self.region.states(), [])
        self.advance(1)
        self.assertEqual(self.region.states(), ["on"])
        self.assertEqual(len(self.driver.actions("query")), 3)

    def test_unknown_state_counts_as_done(self) -> None:
        """A query answering "unknown" ends the change successfully (as 1.8)."""
        self.driver.fail("query")
        self.driver.states["node-1"] = "off"
        self.on()
        self.driver.states["node-1"] = "unknown"
        self.advance(1)
        self.assertEqual(self.region.states(), ["on"])

    def test_retryable_action_errors_are_retried_on_the_schedule(self) -> None:
        """A retryable failure of the action is tried again after the next wait."""
        self.driver.fail("on", PowerConnError("BMC did not answer"),
                         PowerConnError("BMC did not answer"))
        self.on()
        self.assertEqual(len(self.driver.actions("on")), 1)
        self.advance(1)
        self.assertEqual(len(self.driver.actions("on")), 2)
        self.advance(2)
        self.assertEqual(len(self.driver.actions("on")), 3)
        self.advance(2)  # the query after the successful action
        self.assertEqual(self.region.states(), ["on"])
        self.assertIn("trying again in", self.rendered())

    def test_fatal_errors_stop_at_once(self) -> None:
        """A fatal driver error ends the change with no retry: node marked failed."""
        self.driver.fail("on", PowerAuthError("The BMC refused the password."))
        self.on()
        self.assertEqual(self.driver.actions(), [("on", "node-1")])
        [failed] = self.region.named("MarkNodeFailed")
        self.assertEqual(failed["error_description"],
                         "Node could not be powered on: The BMC refused the password.")
        self.assertEqual(self.region.events(), ["NODE_POWER_ON_STARTING",
                                                "NODE_POWER_ON_FAILED"])
        [event] = [k for k in self.region.named("SendEvent")
                   if k["type_name"] == "NODE_POWER_ON_FAILED"]
        self.assertEqual(event["description"], "The BMC refused the password.")
        self.advance(100)
        self.assertEqual(len(self.driver.calls), 1)

    def test_fatal_query_error_stops_at_once(self) -> None:
        """A fatal error from the follow-up query fails the change too."""
        self.driver.fail("query", PowerAuthError("bad credentials"))
        self.on()
        self.advance(1)
        self.assertEqual(len(self.driver.calls), 2)
        self.assertEqual(len(self.region.named("MarkNodeFailed")), 1)

    def test_retries_exhausted_reports_the_last_error(self) -> None:
        """Seven retryable failures: "Timeout after 7 tries" with the last reason."""
        self.driver.fail("on", *[PowerActionError("no luck")] * 7)
        self.on()
        self.advance(sum(RETRY_WAITS))
        self.assertEqual(len(self.driver.actions("on")), 7)
        [failed] = self.region.named("MarkNodeFailed")
        self.assertEqual(failed["error_description"],
                         "Node could not be powered on: Timeout after 7 tries (no luck).")

    def test_not_queryable_types_are_done_after_the_action(self) -> None:
        """Wake-on-LAN cannot be queried: success right after the action, no query."""
        self.on("node-9", type="ether_wake",
                context={"system_id": "node-9", "mac_address": "52:54:00:00:00:09"})
        wol = self.drivers.drivers["ether_wake"]
        self.assertEqual(wol.actions(), [("on", "node-9")])
        self.assertEqual(self.region.states("node-9"), ["on"])

    def test_the_whole_change_has_a_deadline(self) -> None:
        """A change still running after the deadline is cancelled and reported failed."""
        power = PowerService(self.clock, self.region, self.drivers, change_deadline=30.0)
        driver = FakePowerDriver(self.clock, timeout=1000.0)
        driver.hang("on")
        self.drivers.drivers["ipmi"] = driver
        power.change_power_state("node-1", "h", "ipmi", context(), "on")
        self.advance(29)
        self.assertEqual(self.region.named("MarkNodeFailed"), [])
        self.advance(1)
        self.assertEqual(driver.cancelled, [("on", "node-1")])
        [failed] = self.region.named("MarkNodeFailed")
        self.assertEqual(failed["error_description"],
                         "Node could not be powered on: Timed out after 30 seconds.")
        self.assertIsNone(power.in_progress("node-1"))

    def test_unknown_power_type_is_refused_at_once(self) -> None:
        """An unknown power type raises UnknownPowerType and starts nothing."""
        self.assertRaises(UnknownPowerType, self.power.change_power_state,
                          "node-1", "h", "nonsense", {}, "on")
        self.assertRaises(NotImplementedError, self.power.change_power_state,
                          "node-1", "h", "dli", {}, "on")
        self.assertEqual(self.region.calls, [])
        self.assertIsNone(self.power.in_progress("node-1"))

    def test_unknown_event_type_is_registered_then_sent(self) -> None:
        """NoSuchEventType makes the cluster RegisterEventType, then send the event again."""
        self.region.errors["SendEvent"].append(NoSuchEventType("no"))
        self.on()
        [registered] = self.region.named("RegisterEventType")
        self.assertEqual(registered, {"name": "NODE_POWER_ON_STARTING",
                                      "description": "Powering node on", "level": 20})
        self.assertEqual(self.region.events().count("NODE_POWER_ON_STARTING"), 2)
        self.advance(1)

    def test_region_trouble_does_not_stop_the_change(self) -> None:
        """Reports that fail are logged; the change carries on and ends."""
        self.region.errors["SendEvent"].extend([ConnectionError("gone")] * 5)
        self.region.errors["UpdateNodePowerState"].append(ConnectionError("gone"))
        self.on()
        self.advance(1)
        self.assertIsNone(self.power.in_progress("node-1"))
        self.assertIn("Could not report power state on of node-1", self.rendered())

    def test_a_change_waits_for_its_reports_before_ending(self) -> None:
        """The node stays busy until its final report is delivered."""
        hold: Deferred[None] = Deferred()
        self.region.holds["UpdateNodePowerState"] = hold
        self.on()
        self.advance(1)
        self.assertEqual(self.power.in_progress("node-1"), "on")
        hold.callback(None)
        self.assertIsNone(self.power.in_progress("node-1"))

    def test_stopping_abandons_changes_quietly(self) -> None:
        """stopService cancels changes in flight without marking nodes failed."""
        self.driver.hang("on")
        self.power.startService()
        self.on()
        self.power.stopService()
        self.assertEqual(self.driver.cancelled, [("on", "node-1")])
        self.assertEqual(self.region.named("MarkNodeFailed"), [])
        self.assertIsNone(self.power.in_progress("node-1"))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_the_password_never_reaches_the_logs(self) -> None:
        """Errors that quote the password are scrubbed before anything is logged or sent."""
        self.driver.fail("on", PowerConnError(f"login admin/{PASSWORD} refused"),
                         PowerAuthError(f"password {PASSWORD} is wrong"))
        self.on()
        self.advance(1)
        self.assertIn("Could not power node-1", self.rendered())
        self.assertNotIn(PASSWORD, self.rendered())
        self.assertNotIn(PASSWORD, repr(self.region.calls))


class TestQueries(PowerServiceTestCase):
    def query(self, system_id: str = "node-1", power_type: str = "ipmi") -> Deferred[str]:
        return Deferred.fromCoroutine(self.power.query_power_state(
            system_id, "h", power_type, context(system_id)))

    def test_query_answers_and_reports_the_state(self) -> None:
        """PowerQuery answers the device's state and reports it with UpdateNodePowerState."""
        self.driver.states["node-1"] = "on"
        self.assertEqual(self.successResultOf(self.query()), "on")
        self.assertEqual(self.region.states(), ["on"])

    def test_retryable_query_errors_are_retried(self) -> None:
        """Two timeouts then an answer: answered after 1 + 2 s."""
        self.driver.fail("query", PowerConnError("timeout"), PowerConnError("timeout"))
        result = self.query()
        self.advance(2)
        self.assertNoResult(result)
        self.advance(1)
        self.assertEqual(self.successResultOf(result), "off")

    def test_fatal_query_error_reports_error(self) -> None:
        """A fatal error: PowerActionFail, state "error" and NODE_POWER_QUERY_FAILED."""
        self.driver.fail("query", PowerAuthError("bad password"))
        failure = self.failureResultOf(self.query(), PowerActionFail)
        self.assertEqual(str(failure.value), "Power state could not be queried: bad password")
        self.assertEqual(self.region.states(), ["error"])
        [event] = self.region.named("SendEvent")
        self.assertEqual(event["type_name"], "NODE_POWER_QUERY_FAILED")
        self.assertEqual(event["description"], "Power state could not be queried: bad password")

    def test_query_has_a_deadline(self) -> None:
        """A device that never answers: PowerActionFail after query_deadline seconds."""
        driver = FakePowerDriver(self.clock, timeout=1000.0)
        driver.hang("query")
        self.drivers.drivers["ipmi"] = driver
        result = self.query()
        self.advance(self.power.query_deadline)
        failure = self.failureResultOf(result, PowerActionFail)
        self.assertIn("Timed out after 40 seconds", str(failure.value))
        self.assertEqual(driver.cancelled, [("query", "node-1")])

    def test_not_queryable_answers_unknown(self) -> None:
        """A power type that cannot be queried answers "unknown" (as 1.8)."""
        result = Deferred.fromCoroutine(self.power.query_power_state(
            "node-9", "h", "ether_wake", {"mac_address": "52:54:00:00:00:09"}))
        self.assertEqual(self.successResultOf(result), "unknown")

    def test_queries_run_while_a_change_does(self) -> None:
        """A query is answered even while a change for the node runs (1.8 did too)."""
        self.driver.lag = 5
        self.on()
        result = self.query()
        self.assertEqual(self.successResultOf(result), "off")
        self.advance(sum(RETRY_WAITS))
        self.assertEqual(self.region.states("node-1")[-1], "on")
