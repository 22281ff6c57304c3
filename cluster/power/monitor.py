"""
Keeping the region's ``power_state`` fresh: :class:`PowerMonitor`.

Every ``interval`` seconds (1.8: 15) the monitor asks the region
``ListNodePowerParameters(uuid)`` for the nodes due a check, queries each
one's device, reports what it saw (``UpdateNodePowerState``), and asks again
until the region answers an empty list.  The region decides who is due (and
hands a node out only once until it is reported or its lease passes), so the
cluster keeps no schedule of its own.

- Queries run at most ``concurrency`` at a time (a ``DeferredSemaphore``;
  1.8: 5) and at most one at a time per BMC address, through the
  :class:`~cluster.power.bmc.BMCGate` shared with the power service (which
  goes first).  A node waits for its BMC *before* taking a concurrency slot,
  so a chassis of 45 cartridges cannot tie up every slot.
- Nodes with a power change in progress are skipped: the change reports.
- One attempt per node and round; the next round is the retry.  A failure
  reports the state ``error``, with a ``NODE_POWER_QUERY_FAILED`` event only
  when the node was not already in error (no event every minute for a dead BMC).
- Nothing that goes wrong stops the loop: each round catches and logs its
  failures (a ``LoopingCall`` whose call fails stops for good).
- Rounds run only while some connection to the region is ACCEPTED.

Where the next issue scales this (5,000 nodes, 2 s BMCs, every state at
most 120 s old; reference issue 5 item 4) — the seams are marked ``SCALE:``:
adaptive concurrency instead of a fixed semaphore; per-BMC backoff for
devices that keep failing; fetching the next page while the current one is
queried; and reporting states in batches instead of one RPC per node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs
from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredSemaphore,
    FirstError,
    gatherResults,
)
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from cluster.power.bmc import bmc_key
from cluster.power.reports import RegionClient
from cluster.power.service import PowerService
from power.errors import PowerError
from rpc.commands.region import ListNodePowerParameters
from rpc.errors import UnknownPowerType

log = Logger(namespace="cluster.power.monitor")

#: Seconds between two rounds (1.8's NodePowerMonitorService).
INTERVAL = 15.0
#: Power queries in flight at once (1.8's DeferredSemaphore(tokens=5)).
CONCURRENCY = 5
#: Pages asked for in one round at most (a guard against a region that never
#: answers an empty list; the next round carries on).
MAX_PAGES = 100


class MonitorRegion(RegionClient, Protocol):
    """The region client, plus whether any connection may be given work."""

    def has_accepted_connection(self) -> bool: ...


@attrs.define
class RoundSummary:
    """What one round did."""

    pages: int = 0
    queried: int = 0
    failed: int = 0
    skipped: int = 0


class PowerMonitor(Service):
    """
    Polls the region for nodes due a power check and checks them.

    :param clock: runs the rounds.
    :param region: the region client.
    :param uuid: this cluster's uuid.
    :param power: drivers, the BMC gate, reports, and which nodes are busy.
    """

    def __init__(self, clock: IReactorTime, region: MonitorRegion, uuid: str,
                 power: PowerService, *, interval: float = INTERVAL,
                 concurrency: int = CONCURRENCY, max_pages: int = MAX_PAGES) -> None:
        self.clock = clock
        self.region = region
        self.uuid = uuid
        self.power = power
        self.interval = interval
        self.max_pages = max_pages
        # SCALE: a fixed bound, as 1.8; the next issue adapts it to the BMCs'
        # latency and error rate (grow while answers are quick, halve on trouble).
        self.semaphore = DeferredSemaphore(concurrency)
        self._loop: LoopingCall | None = None
        self._round: Deferred[Any] | None = None

    # -- Service -------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        loop = LoopingCall(self._tick)
        loop.clock = self.clock
        self._loop = loop
        loop.start(self.interval, now=True)

    def stopService(self) -> None:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._round is not None:
            self._round.cancel()

    def _tick(self) -> Deferred[None]:
        self._round = Deferred.fromCoroutine(self.run_once())

        def settled(result: Any) -> None:
            self._round = None
            if isinstance(result, Failure) and not result.check(CancelledError):
                log.failure("A power monitor round failed; the next one runs as usual", result)

        return self._round.addBoth(settled)

    # -- One round -------------------------------------------------------------------

    async def run_once(self) -> RoundSummary:
        """Ask for due nodes and check them until the region has none left."""
        summary = RoundSummary()
        if not self.region.has_accepted_connection():
            log.debug("Power monitor: no accepted connection to the region; skipping a round")
            return summary
        while summary.pages < self.max_pages:
            try:
                answer = await self.region.call(ListNodePowerParameters, uuid=self.uuid)
            except CancelledError:
                raise
            except Exception as error:
                log.warn("Power monitor: could not list the nodes to check: {error}",
                         error=f"{type(error).__name__}: {error}")
                break
            nodes: list[dict[str, Any]] = answer["nodes"]
            if not nodes:
                break
            summary.pages += 1
            # SCALE: the next issue fetches the next page while this one runs.
            checks = [Deferred.fromCoroutine(self._check(node, summary)) for node in nodes]
            try:
                await gatherResults(checks, consumeErrors=True)
            except FirstError as error:  # only a cancellation gets here
                error.subFailure.raiseException()
        else:
            log.warn("Power monitor: stopped after {pages} pages in one round; the rest "
                     "waits for the next round", pages=summary.pages)
        if summary.queried or summary.skipped:
            log.info("Power monitor: {queried} node(s) checked, {failed} failed, {skipped} "
                     "skipped (power change in progress)", queried=summary.queried,
                     failed=summary.failed, skipped=summary.skipped)
        return summary

    async def _check(self, node: Mapping[str, Any], summary: RoundSummary) -> None:
        """Check one node; whatever goes wrong stays with this node."""
        try:
            await self._query_node(node, summary)
        except CancelledError:
            raise
        except Exception:
            summary.failed += 1
            log.failure("Power monitor: checking {system_id} failed unexpectedly",
                        system_id=str(node.get("system_id", "?")))

    async def _query_node(self, node: Mapping[str, Any], summary: RoundSummary) -> None:
        system_id = str(node["system_id"])
        power_type = str(node["power_type"])
        context: dict[str, Any] = dict(node.get("context") or {})
        if self.power.in_progress(system_id):
            summary.skipped += 1
            return
        summary.queried += 1
        try:
            driver = self.power.driver_for(power_type)
            # SCALE: per-BMC backoff goes here — a BMC that failed recently is
            # skipped (reported as still in error) until its backoff expires.
            state = await self.power.gate.run(
                bmc_key(power_type, context),
                lambda: self.semaphore.run(
                    lambda: Deferred.fromCoroutine(driver.query(context, system_id=system_id))))
        except (PowerError, UnknownPowerType, NotImplementedError) as error:
            summary.failed += 1
            reason = str(error) or type(error).__name__
            log.warn("Power monitor: could not query {system_id} ({hostname}): {reason}",
                     system_id=system_id, hostname=node.get("hostname", ""), reason=reason)
            await self.power.report_query_failure(
                system_id, reason, event=node.get("power_state") != "error")
            return
        if self.power.in_progress(system_id):
            return  # a change started meanwhile; it reports the outcome
        log.debug("Power monitor: {system_id} is {state}", system_id=system_id, state=state)
        # SCALE: batched reports (one RPC for many nodes) replace this in the next issue.
        await self.power.reports.power_state(system_id, state)
