"""
How many power queries run at once: :class:`AdaptiveLimit`.

1.8 ran a fixed 5.  At 5,000 nodes whose BMCs take 2 s, keeping every state
under two minutes old needs 40-90 queries in flight, but a fixed 90 would
pile onto a struggling network or a cluster short of CPU.  So the limit
adapts, in the manner of TCP's congestion window:

- it **grows** only while queries queue for a slot (there is demand) and
  answers come back promptly: by one per prompt answer at first (doubling
  every round trip, "slow start"), then, after its first cut, by one per
  round trip;
- a **congestion signal** is a query that timed out or could not connect,
  or an answer that took more than ``tolerance`` times the usual latency
  (the usual latency is a floor that follows the fastest answers and creeps
  up by about a tenth of the gap per round trip, so a fleet of slow BMCs
  becomes the new normal after a few cuts);
- it is **cut** by ``decrease`` when the recent share of signals (an
  exponentially weighted average over answers) passes ``threshold``, at most
  once per round trip.  One dead BMC among many healthy ones does not cut it
  (its timeouts are a small share, and per-BMC backoff soon stops them);
  many at once do;
- it stays between ``minimum`` and ``maximum``.

A device's own refusals (bad credentials, a bad setting, an error answer)
are not congestion: they say nothing about how busy the path is.

Everything runs on the injected clock; slots are granted first come, first
served, except that urgent waiters (the monitor's re-reads of transitional
nodes) go before the others; a waiter can be cancelled.
"""

from __future__ import annotations

import math
from collections import deque

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

#: Defaults: queries in flight at first, at least and at most.  The region hands
#: out each node once a minute, so 5,000 nodes behind 2 s BMCs keep ~170 in
#: flight; 4 s BMCs ~340 (bench/power_monitor.py: at a cap of 256 the oldest
#: state reached 108 s there, at 512 71 s, for little more CPU).
INITIAL = 16
MINIMUM = 4
MAXIMUM = 512
#: An answer slower than this many times the usual latency is a congestion signal...
TOLERANCE = 2.0
#: ... if it is also this many seconds slower (quick LAN answers vary a lot in ratio).
SLACK = 0.5
#: The limit is multiplied by this on congestion.
DECREASE = 0.75
#: Share of recent answers that were congestion signals above which the limit is cut.
THRESHOLD = 0.1
#: Weight of each answer in the moving share of signals.
ALPHA = 0.05
#: Share of the gap between the usual latency and a slower answer that the usual
#: latency moves per round trip of answers (each answer moves it CREEP / limit):
#: a fleet that became four times slower is the new normal after ~4 round trips,
#: whatever the limit (a per-answer weight would make it so within one round
#: trip at a high limit, and slowness would never cut anything).
CREEP = 0.1


class AdaptiveLimit:
    """
    A semaphore whose size adapts to latency and errors (see the module docstring).

    Use :meth:`acquire` (a Deferred firing when a slot is free) and, once
    the work is over, :meth:`release` with how it went.
    """

    def __init__(self, clock: IReactorTime, *, initial: int = INITIAL, minimum: int = MINIMUM,
                 maximum: int = MAXIMUM, tolerance: float = TOLERANCE, slack: float = SLACK,
                 decrease: float = DECREASE, threshold: float = THRESHOLD,
                 alpha: float = ALPHA) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum ({minimum}) <= maximum ({maximum})")
        self.clock = clock
        self.minimum = minimum
        self.maximum = maximum
        self.tolerance = tolerance
        self.slack = slack
        self.decrease = decrease
        self.threshold = threshold
        self.alpha = alpha
        self.limit = float(min(max(initial, minimum), maximum))
        self.in_flight = 0
        #: The usual latency (None until the first answer).
        self.floor: float | None = None
        #: Moving share of congestion signals among recent answers.
        self.signal_share = 0.0
        self.slow_start = True
        self.peak = 0
        self.cuts = 0
        self._last_cut = -math.inf
        self._waiters: deque[Deferred[None]] = deque()
        self._urgent: deque[Deferred[None]] = deque()

    @property
    def slots(self) -> int:
        """Queries allowed in flight now."""
        return int(self.limit)

    @property
    def waiting(self) -> int:
        """Queries waiting for a slot."""
        return len(self._waiters) + len(self._urgent)

    def acquire(self, *, urgent: bool = False) -> Deferred[None]:
        """
        A Deferred that fires when a slot is this caller's.

        :param urgent: served before every waiter that is not (first come,
            first served among the urgent ones).
        """
        if self.in_flight < self.slots and not self.waiting:
            self._take()
            done: Deferred[None] = Deferred()
            done.callback(None)
            return done
        queue = self._urgent if urgent else self._waiters

        def cancel(waiter: Deferred[None]) -> None:
            if waiter in queue:
                queue.remove(waiter)

        waiter: Deferred[None] = Deferred(cancel)
        queue.append(waiter)
        return waiter

    def release(self, *, latency: float | None, congested: bool = False) -> None:
        """
        Give a slot back.

        :param latency: seconds the work took, or None when it says nothing
            (cancelled; refused before reaching the device).
        :param congested: it timed out or could not connect.
        """
        self.in_flight -= 1
        if latency is not None:
            self._learn(latency, congested)
        self._wake()

    # -- Internals -------------------------------------------------------------------

    def _take(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def _wake(self) -> None:
        while self.waiting and self.in_flight < self.slots:
            self._take()
            (self._urgent or self._waiters).popleft().callback(None)

    def _learn(self, latency: float, congested: bool) -> None:
        floor = self.floor
        if not congested:
            if floor is None or latency < floor:
                self.floor = latency
            else:  # creep up towards the latencies seen: ~10 % of the gap per round trip
                self.floor = floor + (latency - floor) * CREEP / max(1.0, self.limit)
        slow = floor is not None and latency > max(floor * self.tolerance, floor + self.slack)
        signal = congested or slow
        self.signal_share += self.alpha * ((1.0 if signal else 0.0) - self.signal_share)
        now = self.clock.seconds()
        if signal:
            round_trip = max(1.0, self.floor or 1.0)
            if self.signal_share >= self.threshold and now - self._last_cut >= round_trip:
                self.limit = max(float(self.minimum), self.limit * self.decrease)
                self._last_cut = now
                self.slow_start = False
                self.cuts += 1
            return
        if self.waiting:  # demand beyond the limit, and this answer was prompt: grow
            step = 1.0 if self.slow_start else 1.0 / max(1.0, self.limit)
            self.limit = min(float(self.maximum), self.limit + step)
