"""BMCGate and bmc_key: one request per BMC, urgent work first."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from cluster.power.bmc import BMCGate, bmc_key


class TestKey(SynchronousTestCase):
    def test_addresses_are_normalised(self) -> None:
        """The same BMC written differently is the same key; no address, no key."""
        self.assertEqual(bmc_key("ipmi", {"power_address": " 10.0.0.5 "}), "10.0.0.5")
        self.assertEqual(bmc_key("ipmi", {"power_address": "10.0.0.5:623"}), "10.0.0.5:623")
        self.assertEqual(bmc_key("ipmi", {"power_address": "[FE80::1]"}), "[fe80::1]")
        self.assertEqual(bmc_key("ipmi", {"power_address": "BMC.example.com"}),
                         "bmc.example.com")
        self.assertEqual(bmc_key("virsh", {"power_address": "qemu+ssh://Host/system"}),
                         "qemu+ssh://host/system")
        self.assertIsNone(bmc_key("ether_wake", {"mac_address": "52:54:00:00:00:01"}))
        self.assertIsNone(bmc_key("ipmi", {"power_address": ""}))


class TestGate(SynchronousTestCase):
    def setUp(self) -> None:
        self.gate = BMCGate()
        self.order: list[str] = []
        self.pending: dict[str, Deferred[None]] = {}

    def start(self, name: str, key: str | None, *, urgent: bool = False) -> Deferred[str]:
        async def work() -> str:
            self.order.append(name)
            self.pending[name] = Deferred()
            await self.pending[name]
            return name

        return Deferred.fromCoroutine(self.gate.run(key, work, urgent=urgent))

    def test_one_at_a_time_per_key(self) -> None:
        """Work for a busy key waits; other keys run at once."""
        first = self.start("a1", "bmc-a")
        self.start("a2", "bmc-a")
        self.start("b1", "bmc-b")
        self.assertEqual(self.order, ["a1", "b1"])
        self.assertTrue(self.gate.in_flight("bmc-a"))
        self.assertEqual(self.gate.waiting("bmc-a"), 1)
        self.pending["a1"].callback(None)
        self.assertEqual(self.successResultOf(first), "a1")
        self.assertEqual(self.order, ["a1", "b1", "a2"])
        self.pending["a2"].callback(None)
        self.assertFalse(self.gate.in_flight("bmc-a"))
        self.assertEqual(self.gate._waiting, {})

    def test_urgent_work_goes_first(self) -> None:
        """Power changes (urgent) overtake queued monitor queries."""
        self.start("q1", "bmc")
        self.start("q2", "bmc")
        self.start("change", "bmc", urgent=True)
        self.pending["q1"].callback(None)
        self.assertEqual(self.order, ["q1", "change"])

    def test_no_key_runs_at_once(self) -> None:
        """Work without a BMC (Wake-on-LAN) is never held."""
        self.start("x", None)
        self.start("y", None)
        self.assertEqual(self.order, ["x", "y"])

    def test_cancelled_waiter_leaves_the_queue(self) -> None:
        """Cancelling queued work removes it; the key is free after the holder ends."""
        self.start("a1", "bmc")
        waiting = self.start("a2", "bmc")
        waiting.cancel()
        self.failureResultOf(waiting)
        self.assertEqual(self.gate.waiting("bmc"), 0)
        self.pending["a1"].callback(None)
        self.assertFalse(self.gate.in_flight("bmc"))
        self.assertEqual(self.order, ["a1"])

    def test_failure_releases_the_key(self) -> None:
        """Work that fails frees its BMC for the next."""
        failing = self.start("a1", "bmc")
        self.start("a2", "bmc")
        self.pending["a1"].errback(ValueError("boom"))
        self.failureResultOf(failing, ValueError)
        self.assertEqual(self.order, ["a1", "a2"])
