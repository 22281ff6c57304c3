"""AdaptiveLimit: urgent waiters (transitional nodes' re-reads) are served first."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from cluster.power.concurrency import AdaptiveLimit


class TestUrgentWaiters(SynchronousTestCase):
    def setUp(self) -> None:
        self.limit = AdaptiveLimit(Clock(), initial=1, minimum=1, maximum=1)
        self.successResultOf(self.limit.acquire())  # the only slot is taken

    def test_urgent_waiters_go_before_the_others(self) -> None:
        """A freed slot goes to the first urgent waiter, then to the others in order."""
        order: list[str] = []
        for name, urgent in (("routine-1", False), ("routine-2", False), ("urgent-1", True),
                             ("urgent-2", True)):
            self.limit.acquire(urgent=urgent).addCallback(lambda _, n=name: order.append(n))
        self.assertEqual(self.limit.waiting, 4)
        for _ in range(4):
            self.limit.release(latency=None)
        self.assertEqual(order, ["urgent-1", "urgent-2", "routine-1", "routine-2"])
        self.assertEqual(self.limit.waiting, 0)

    def test_a_cancelled_urgent_waiter_gives_up_its_place(self) -> None:
        """Cancelling an urgent waiter removes it; the next waiter gets the slot."""
        urgent = self.limit.acquire(urgent=True)
        routine = self.limit.acquire()
        urgent.cancel()
        self.failureResultOf(urgent)
        self.assertEqual(self.limit.waiting, 1)
        self.limit.release(latency=None)
        self.successResultOf(routine)

    def test_a_free_slot_is_not_taken_over_a_waiter(self) -> None:
        """While anyone waits, even an urgent caller queues (slots go in order)."""
        routine = self.limit.acquire()
        urgent = self.limit.acquire(urgent=True)
        self.assertNoResult(routine)
        self.assertNoResult(urgent)
        self.limit.release(latency=None)
        self.successResultOf(urgent)
        self.assertNoResult(routine)
