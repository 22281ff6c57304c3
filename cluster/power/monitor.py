"""
Keeping the region's ``power_state`` fresh: :class:`PowerMonitor`.

The region decides who is due a check (``ListNodePowerParameters``: nodes in
a transitional status first, then those never queried, then the stalest; a
node handed out is not handed out again until it is reported or its lease
passes), so the cluster keeps no schedule of its own.  1.8 asked every 15 s
and queried each page, 5 at a time, before asking for the next; it fell
over above ~600 nodes.  This monitor is built for 5,000 nodes per cluster
with BMCs that take 2 s (every state at most 120 s old, transitional ones
about 10 s):

- **A pipeline, not rounds.**  Listing runs beside the queries: the next
  page is asked for as soon as fewer than ``backlog`` queries wait for a
  slot, so the queries never starve while the region is asked, and the
  backlog stays short (about one BMC round trip), which keeps a
  transitional node from waiting behind thousands of routine ones; and a
  node read again within ``transitional_window`` (a transitional one) takes
  the next free slot before the routine ones waiting, so that it does not
  wait that round trip too while the queries are at their cap (measured by
  bench/power_monitor.py).  A short
  page means little is due: the next listing waits ``listing_gap`` seconds;
  an empty one, ``interval`` seconds (1.8: 15).
- **Adaptive concurrency** (:class:`~cluster.power.concurrency.AdaptiveLimit`):
  starts at 16, grows while queries queue and answers are prompt, is cut
  on timeouts and slow answers, between ``min_concurrency`` and
  ``concurrency`` (1.8: a fixed 5).
- **One request per BMC**: a node first waits for its BMC
  (:class:`~cluster.power.bmc.BMCGate`, shared with the power service,
  whose changes go first), then for a slot, so a chassis of 45 cartridges
  takes one slot, not 45.
- **Backoff for failing BMCs** (:class:`~cluster.power.bmc.BMCBackoff`):
  while a BMC rests, its nodes are reported ``error`` without a query (they
  stay fresh, and the region keeps showing the failure); the first failure
  in a row sends ``NODE_POWER_QUERY_FAILED`` with the reason, not every
  retry.  A query may take ``query_timeout`` seconds (20), less than the
  driver's own 60: a dead BMC must not hold a slot for a minute.
- **Batched reports** (:class:`~cluster.power.reports.StateBatches`): every
  state read goes to the region in ``UpdateNodePowerStates`` calls (a
  changed one within 0.25 s, an unchanged one within 2 s); a node read
  again within ``transitional_window`` seconds of its last read is
  transitional, and its report goes out at once too.
- Nodes with a power change in progress are skipped: the change reports.
- Nothing stops the loop: each step catches and logs its own failures;
  listing runs only while some connection to the region is ACCEPTED.
- Every ``summary_interval`` seconds one line says what was done (totals
  since start: queries, failures, listings, region calls, the limit).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

import attrs
from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    TimeoutError,
)
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from cluster.power.bmc import BMCBackoff, bmc_key
from cluster.power.concurrency import INITIAL, MAXIMUM, MINIMUM, AdaptiveLimit
from cluster.power.reports import ROUTINE_DELAY, RegionClient, StateBatches
from cluster.power.service import PowerService
from power.errors import PowerConnError, PowerError
from rpc.commands.region import ListNodePowerParameters
from rpc.errors import UnknownPowerType

log = Logger(namespace="cluster.power.monitor")

#: Seconds between two listings while nothing is due (1.8: 15 between rounds).
INTERVAL = 2.0
#: Seconds between two listings after a short page (little was due).
LISTING_GAP = 1.0
#: A page with at least this many nodes is "full": more may be due, ask again now.
FULL_PAGE = 100
#: Seconds one monitor query may take (the driver's own limit is 60 s).
QUERY_TIMEOUT = 20.0
#: Seconds one listing may take.
LISTING_TIMEOUT = 30.0
#: A node read again within this many seconds of its last read is transitional.
TRANSITIONAL_WINDOW = 30.0
#: Seconds between two summary lines in the log.
SUMMARY_INTERVAL = 60.0
#: Pages one run_once() asks for at most (a guard against a region that never
#: answers an empty list).
MAX_PAGES = 100


class MonitorRegion(RegionClient, Protocol):
    """The region client, plus whether any connection may be given work."""

    def has_accepted_connection(self) -> bool: ...


@attrs.define
class RoundSummary:
    """What one :meth:`PowerMonitor.run_once` did."""

    pages: int = 0
    queried: int = 0
    failed: int = 0
    skipped: int = 0


@attrs.define
class MonitorStats:
    """What the monitor has done since it started (cumulative)."""

    #: ListNodePowerParameters calls, and those that handed out nodes.
    listings: int = 0
    pages: int = 0
    #: Nodes handed out.
    nodes: int = 0
    #: Queries sent to BMCs, and those that failed.
    queried: int = 0
    failed: int = 0
    #: Nodes reported in error without a query (their BMC was resting).
    rested: int = 0
    #: Nodes skipped because a power change was in progress.
    skipped: int = 0
    #: SendEvent calls (NODE_POWER_QUERY_FAILED).
    events: int = 0


class _Resting(Exception):
    """The node's BMC rests after failures; the message says why."""


class PowerMonitor(Service):
    """
    Keeps every node's power state fresh (see the module docstring).

    :param clock: runs the loop and the timers.
    :param region: the region client.
    :param uuid: this cluster's uuid.
    :param power: drivers, the BMC gate, single-node reports, which nodes are busy.
    :param interval: seconds between listings while nothing is due.
    :param concurrency: queries in flight at most (the adaptive limit's cap).
    :param min_concurrency: the adaptive limit's floor.
    """

    def __init__(self, clock: IReactorTime, region: MonitorRegion, uuid: str,
                 power: PowerService, *, interval: float = INTERVAL,
                 concurrency: int = MAXIMUM, min_concurrency: int = MINIMUM,
                 initial_concurrency: int = INITIAL, query_timeout: float = QUERY_TIMEOUT,
                 listing_gap: float = LISTING_GAP, full_page: int = FULL_PAGE,
                 report_delay: float = ROUTINE_DELAY,
                 transitional_window: float = TRANSITIONAL_WINDOW,
                 summary_interval: float = SUMMARY_INTERVAL, max_pages: int = MAX_PAGES,
                 backoff: BMCBackoff | None = None, reports: StateBatches | None = None,
                 limit: AdaptiveLimit | None = None) -> None:
        self.clock = clock
        self.region = region
        self.uuid = uuid
        self.power = power
        self.interval = interval
        self.listing_gap = min(listing_gap, interval)
        self.full_page = full_page
        self.query_timeout = query_timeout
        self.transitional_window = transitional_window
        self.summary_interval = summary_interval
        self.max_pages = max_pages
        minimum = min(min_concurrency, concurrency)
        self.limit = limit if limit is not None else AdaptiveLimit(
            clock, initial=initial_concurrency, minimum=minimum, maximum=concurrency)
        self.backoff = backoff if backoff is not None else BMCBackoff(clock)
        self.reports = reports if reports is not None else StateBatches(
            clock, region, uuid, routine_delay=report_delay)
        self.stats = MonitorStats()
        #: Checks started and not finished (waiting for a BMC, a slot, or running).
        self._checks: set[Deferred[None]] = set()
        #: system_id -> clock time of its last read (to spot transitional nodes).
        self._last_read: dict[str, float] = {}
        self._loop: Deferred[None] | None = None
        self._room: list[Deferred[None]] = []
        self._summary: LoopingCall | None = None

    # -- Service -------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._loop = Deferred.fromCoroutine(self._run())
        self._loop.addErrback(self._crashed)
        if self.summary_interval > 0:
            summary = LoopingCall(self.log_summary)
            summary.clock = self.clock
            self._summary = summary
            summary.start(self.summary_interval, now=False)

    def stopService(self) -> Deferred[None] | None:
        """Stop listing, abandon the queries in flight, and send what was read."""
        super().stopService()
        if self._summary is not None and self._summary.running:
            self._summary.stop()
        self._summary = None
        if self._loop is not None:
            self._loop.cancel()
            self._loop = None
        for check in list(self._checks):
            check.cancel()
        if not self.reports.pending:
            self.reports.stop()
            return None
        last: Deferred[None] = Deferred.fromCoroutine(self.reports.flush())
        last.addTimeout(5.0, self.clock)
        last.addErrback(lambda _: None)
        last.addBoth(lambda _: self.reports.stop())
        return last

    def _crashed(self, failure: Failure) -> None:
        if not failure.check(CancelledError):
            log.failure("The power monitor stopped unexpectedly", failure)

    # -- The loop ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                delay = await self._step()
            except CancelledError:
                raise
            except Exception:
                log.failure("A power monitor step failed; carrying on in {interval:g} s",
                            interval=self.interval)
                delay = self.interval
            if delay > 0:
                await deferLater(self.clock, delay)

    async def _step(self) -> float:
        """List once if there is room; return seconds to wait before the next step."""
        if not self.region.has_accepted_connection():
            return self.interval
        listed = await self._next_page()
        if not listed:
            return self.interval
        return 0.0 if listed >= self.full_page else self.listing_gap

    async def _next_page(self) -> int:
        """Wait for room in the backlog, list once, start checking every node
        handed out; return how many were (0 also when the region could not be asked)."""
        await self._wait_for_room()
        nodes = await self._list() or []
        for node in nodes:
            self._start(node)
        return len(nodes)

    def backlog_full(self) -> bool:
        """True while enough queries wait for a slot (about one round trip of work)."""
        return self.limit.waiting >= max(self.limit.slots, 1)

    def _wait_for_room(self) -> Deferred[None]:
        def cancel(room: Deferred[None]) -> None:
            if room in self._room:
                self._room.remove(room)

        room: Deferred[None] = Deferred(cancel)
        if not self.backlog_full():
            room.callback(None)
        else:
            self._room.append(room)
        return room

    def _check_room(self) -> None:
        if self._room and not self.backlog_full():
            waiting, self._room = self._room, []
            for room in waiting:
                room.callback(None)

    async def _list(self) -> list[dict[str, Any]] | None:
        """The next page of due nodes; None if the region could not be asked."""
        self.stats.listings += 1
        try:
            answer = await self.region.call(ListNodePowerParameters, uuid=self.uuid,
                                            timeout=LISTING_TIMEOUT)
        except CancelledError:
            raise
        except Exception as error:
            log.warn("Power monitor: could not list the nodes to check: {error}",
                     error=f"{type(error).__name__}: {error}")
            return None
        nodes: list[dict[str, Any]] = answer["nodes"]
        if nodes:
            self.stats.pages += 1
            self.stats.nodes += len(nodes)
        return nodes

    def _start(self, node: Mapping[str, Any]) -> Deferred[None]:
        check = Deferred.fromCoroutine(self._check(node))
        if not check.called:
            self._checks.add(check)
            check.addBoth(self._finished, check)
        return check

    def _finished(self, result: object, check: Deferred[None]) -> None:
        self._checks.discard(check)
        self._check_room()

    # -- One run, for tests and tools ------------------------------------------------

    async def run_once(self) -> RoundSummary:
        """
        List and check until the region has nothing left, wait for every
        check and send the reports.  The pipeline is the same as the
        service's (the next page is asked for while the last one is queried).
        """
        before = attrs.evolve(self.stats)
        if not self.region.has_accepted_connection():
            log.debug("Power monitor: no accepted connection to the region; not listing")
            return RoundSummary()
        for _ in range(self.max_pages):
            if not await self._next_page():
                break
        else:
            log.warn("Power monitor: stopped after {pages} pages in one run; the rest "
                     "waits for the next", pages=self.max_pages)
        while self._checks:
            await DeferredList(list(self._checks), consumeErrors=True)
        await self.reports.flush()
        return RoundSummary(pages=self.stats.pages - before.pages,
                            queried=self.stats.queried - before.queried,
                            failed=self.stats.failed - before.failed,
                            skipped=self.stats.skipped - before.skipped)

    # -- One node --------------------------------------------------------------------

    async def _check(self, node: Mapping[str, Any]) -> None:
        """Check one node; whatever goes wrong stays with this node."""
        try:
            await self._query_node(node)
        except CancelledError:
            raise
        except Exception:
            self.stats.failed += 1
            log.failure("Power monitor: checking {system_id} failed unexpectedly",
                        system_id=str(node.get("system_id", "?")))

    async def _query_node(self, node: Mapping[str, Any]) -> None:
        system_id = str(node["system_id"])
        power_type = str(node["power_type"])
        context: dict[str, Any] = dict(node.get("context") or {})
        previous = node.get("power_state")
        if self.power.in_progress(system_id):
            self.stats.skipped += 1
            return
        try:
            driver = self.power.driver_for(power_type)
        except (UnknownPowerType, NotImplementedError) as error:
            self.stats.queried += 1
            await self._failed(system_id, node, str(error) or type(error).__name__)
            return
        key = bmc_key(power_type, context)
        urgent = self._recently_read(system_id)
        rest = 0.0

        async def query() -> str:
            nonlocal rest
            # Checked again once the BMC is ours: the node before may have failed.
            resting = self.backoff.resting(key)
            if resting > 0:
                assert key is not None
                raise _Resting(f"its BMC failed {self.backoff.failures(key)} time(s) in a row "
                               f"and rests {resting:.0f} s more (last: "
                               f"{self.backoff.reason(key)})")
            try:
                return await self._timed_query(
                    lambda: driver.query(context, system_id=system_id), urgent=urgent)
            except PowerError as error:
                # Noted while the BMC is still ours: the nodes waiting for it must
                # see it resting, not send the same doomed query.
                rest = self.backoff.failed(key, str(error) or type(error).__name__)
                raise

        try:
            state = await self.power.gate.run(key, query)
        except _Resting as resting:
            self.stats.rested += 1
            await self._failed(system_id, node, str(resting), queried=False)
            return
        except PowerError as error:
            reason = str(error) or type(error).__name__
            self.stats.queried += 1
            log.warn("Power monitor: could not query {system_id} ({hostname}): {reason}"
                     "{rest}", system_id=system_id, hostname=node.get("hostname", ""),
                     reason=reason, rest=f"; its BMC rests {rest:g} s" if rest else "")
            await self._failed(system_id, node, reason)
            return
        self.stats.queried += 1
        self.backoff.succeeded(key)
        if self.power.in_progress(system_id):
            return  # a change started meanwhile; it reports the outcome
        log.debug("Power monitor: {system_id} is {state}", system_id=system_id, state=state)
        self._note_read(system_id)
        self.reports.add(system_id, state, urgent=state != previous or urgent)

    async def _timed_query(self, query: Callable[[], Coroutine[Any, Any, str]], *,
                           urgent: bool = False) -> str:
        """Run a driver query in a concurrency slot (urgent: before the routine
        queries waiting), within query_timeout."""
        await self.limit.acquire(urgent=urgent)
        started = self.clock.seconds()
        latency: float | None = None
        congested = False
        try:
            running: Deferred[str] = Deferred.fromCoroutine(query())
            running.addTimeout(self.query_timeout, self.clock)
            try:
                state = await running
            except TimeoutError:
                congested = True
                raise PowerConnError(
                    f"No answer within {self.query_timeout:g} seconds.") from None
            except PowerConnError:
                congested = True
                raise
            finally:
                latency = self.clock.seconds() - started
            return state
        except CancelledError:
            latency = None
            raise
        finally:
            self.limit.release(latency=latency, congested=congested)

    def _recently_read(self, system_id: str) -> bool:
        """Was this node read within transitional_window (it is transitional)?"""
        last = self._last_read.get(system_id)
        return last is not None and self.clock.seconds() - last < self.transitional_window

    def _note_read(self, system_id: str) -> None:
        """This node was just read (or found in error)."""
        self._last_read[system_id] = self.clock.seconds()

    async def _failed(self, system_id: str, node: Mapping[str, Any], reason: str, *,
                      queried: bool = True) -> None:
        """Report the node in error; tell why only when it was not in error already."""
        if queried:
            self.stats.failed += 1
        previous = node.get("power_state")
        self._note_read(system_id)
        self.reports.add(system_id, "error", urgent=previous != "error")
        if previous != "error":
            self.stats.events += 1
            await self.power.reports.event(system_id, "NODE_POWER_QUERY_FAILED",
                                           f"Power state could not be queried: {reason}")

    # -- Reporting ---------------------------------------------------------------------

    def region_calls(self) -> int:
        """Calls made to the region since start (listings, reports, events)."""
        batches = self.reports.stats
        return self.stats.listings + batches.batches + batches.singles + self.stats.events

    def log_summary(self) -> None:
        """One line of totals since start (the benchmark reads it)."""
        stats, batches = self.stats, self.reports.stats
        log.info(
            "Power monitor totals: {queried} queries, {failed} failed, {rested} skipped "
            "(BMC resting), {skipped} skipped (power change); {listings} listings, "
            "{nodes} nodes handed out; {states} states reported in {batches} batch(es) "
            "+ {singles} single call(s), {dropped} dropped; {events} events; "
            "{calls} region calls; concurrency limit {limit} (peak {peak} in flight, "
            "{cuts} cuts); {resting} BMCs resting",
            queried=stats.queried, failed=stats.failed, rested=stats.rested,
            skipped=stats.skipped, listings=stats.listings, nodes=stats.nodes,
            states=batches.states, batches=batches.batches, singles=batches.singles,
            dropped=batches.dropped, events=stats.events, calls=self.region_calls(),
            limit=self.limit.slots, peak=self.limit.peak, cuts=self.limit.cuts,
            resting=self.backoff.resting_count())
