"""
What the power service and monitor tell the region: states, events, failures.

:class:`RegionReports` wraps the region client (:class:`RegionClient`, which
``cluster.rpc.connections.RegionConnections`` implements) and never raises:
a report that cannot be delivered is logged and dropped, because the power
work it describes has already happened and the monitor will report the state
again.  An event type the region does not know is registered
(``RegisterEventType``) and the event sent once more, as 1.8's clusters did.

:class:`StateBatches` carries the power monitor's observations: every state
it reads, changed or not, because the region dates each node's state from
the report (``power_state_updated``) and decides from that date when to hand
the node out again.  One ``UpdateNodePowerStates`` call carries up to
``batch_size`` states; a changed state is sent within ``urgent_delay``
(0.25 s: a burst of changes shares one call), an unchanged one within
``routine_delay`` (2 s), and a full batch at once.  Each entry says how long
ago it was observed, so the region records when the BMC answered, not when
the batch arrived.  At 5,000 nodes re-read every minute that is about one
call a second instead of 1.8's one call per node.  A region without the
command (MAAS 1.8, ``UNHANDLED``) gets one ``UpdateNodePowerState`` per node,
a few at a time, and is asked again every ``batch_retry`` seconds in case it
was upgraded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs
from twisted.internet.defer import CancelledError, Deferred, DeferredSemaphore, gatherResults
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.protocols import amp

from rpc.commands.region import (
    MarkNodeFailed,
    RegisterEventType,
    SendEvent,
    UpdateNodePowerState,
    UpdateNodePowerStates,
)
from rpc.errors import NoSuchEventType

log = Logger(namespace="cluster.power.reports")

#: The power event types of MAAS 1.8 (reference §4.3): name -> (description, level).
EVENT_TYPES: dict[str, tuple[str, int]] = {
    "NODE_POWER_ON_STARTING": ("Powering node on", 20),
    "NODE_POWER_OFF_STARTING": ("Powering node off", 20),
    "NODE_POWERED_ON": ("Node powered on", 20),
    "NODE_POWERED_OFF": ("Node powered off", 20),
    "NODE_POWER_ON_FAILED": ("Failed to power on node", 40),
    "NODE_POWER_OFF_FAILED": ("Failed to power off node", 40),
    "NODE_POWER_QUERY_FAILED": ("Failed to query node's BMC", 30),
}


class RegionClient(Protocol):
    """Calls a command on the region over some accepted connection."""

    async def call(self, command: type[amp.Command], *,
                   timeout: float | None = None,  # noqa: ASYNC109 - a Deferred deadline
                   **kwargs: Any) -> dict[str, Any]:
        """Raise NoConnectionsAvailable if there is none (after a short wait)."""
        ...


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RegionReports:
    """Best-effort reports to the region about nodes."""

    def __init__(self, region: RegionClient) -> None:
        self.region = region

    async def power_state(self, system_id: str, state: str) -> bool:
        """Send UpdateNodePowerState; True if the region recorded it."""
        try:
            await self.region.call(UpdateNodePowerState, system_id=system_id, power_state=state)
        except CancelledError:
            raise  # the daemon is stopping: say nothing
        except Exception as error:
            log.warn("Could not report power state {state} of {system_id} to the region: "
                     "{error}", state=state, system_id=system_id, error=_describe(error))
            return False
        return True

    async def mark_failed(self, system_id: str, description: str) -> bool:
        """Send MarkNodeFailed; True if the region accepted it."""
        try:
            await self.region.call(MarkNodeFailed, system_id=system_id,
                                   error_description=description)
        except CancelledError:
            raise  # the daemon is stopping: say nothing
        except Exception as error:
            log.warn("Could not mark {system_id} failed on the region: {error}",
                     system_id=system_id, error=_describe(error))
            return False
        return True

    async def event(self, system_id: str, type_name: str, description: str = "") -> bool:
        """Send an event about a node (registering its type first if need be)."""
        try:
            try:
                await self._send(system_id, type_name, description)
            except NoSuchEventType:
                name_description, level = EVENT_TYPES[type_name]
                await self.region.call(RegisterEventType, name=type_name,
                                       description=name_description, level=level)
                await self._send(system_id, type_name, description)
        except CancelledError:
            raise  # the daemon is stopping: say nothing
        except Exception as error:
            log.warn("Could not send event {type_name} about {system_id} to the region: "
                     "{error}", type_name=type_name, system_id=system_id,
                     error=_describe(error))
            return False
        return True

    async def _send(self, system_id: str, type_name: str, description: str) -> None:
        await self.region.call(SendEvent, system_id=system_id, type_name=type_name,
                               description=description)


#: Power states in one UpdateNodePowerStates call at most (a worst case of 1,000
#: fits one AMP value: tests/unit/rpc/test_payloads.py).
BATCH_SIZE = 500
#: Seconds a changed state waits for others to share its call.
URGENT_DELAY = 0.25
#: Seconds an unchanged state waits at most.
ROUTINE_DELAY = 2.0
#: Seconds before a region that lacked UpdateNodePowerStates is asked again.
BATCH_RETRY = 600.0
#: UpdateNodePowerState calls in flight at once for a region without batches.
FALLBACK_CONCURRENCY = 4
#: Seconds one report call may take.
REPORT_TIMEOUT = 30.0


@attrs.define
class BatchStats:
    """What :class:`StateBatches` has done since it started (cumulative)."""

    #: States handed to it.
    states: int = 0
    #: UpdateNodePowerStates calls, and UpdateNodePowerState calls (fallback).
    batches: int = 0
    singles: int = 0
    #: States the region did not know (deleted or moved nodes).
    unknown: int = 0
    #: States lost because the region could not be told.
    dropped: int = 0


class StateBatches:
    """
    Observed power states on their way to the region, in batches (see the
    module docstring).

    :param clock: runs the flush timers and dates the observations.
    :param region: the region client.
    :param uuid: this cluster's uuid (the region records only its nodes).
    """

    def __init__(self, clock: IReactorTime, region: RegionClient, uuid: str, *,
                 batch_size: int = BATCH_SIZE, urgent_delay: float = URGENT_DELAY,
                 routine_delay: float = ROUTINE_DELAY, batch_retry: float = BATCH_RETRY,
                 fallback_concurrency: int = FALLBACK_CONCURRENCY,
                 timeout: float = REPORT_TIMEOUT) -> None:
        self.clock = clock
        self.region = region
        self.uuid = uuid
        self.batch_size = batch_size
        self.urgent_delay = urgent_delay
        self.routine_delay = routine_delay
        self.batch_retry = batch_retry
        self.timeout = timeout
        self.stats = BatchStats()
        #: system_id -> (state, clock time it was observed); the latest wins.
        self.pending: dict[str, tuple[str, float]] = {}
        self._singles = RegionReports(region)
        self._fallback = DeferredSemaphore(fallback_concurrency)
        #: Until when (clock time) the region is taken to lack the batch command.
        self._singly_until = float("-inf")
        self._timer: IDelayedCall | None = None
        self._due = float("inf")
        self._sending: Deferred[None] | None = None
        self._again = False
        self._idle: list[Deferred[None]] = []

    def add(self, system_id: str, state: str, *, urgent: bool = False) -> None:
        """Queue a state just observed; urgent (it changed) goes out sooner."""
        now = self.clock.seconds()
        self.pending[system_id] = (state, now)
        self.stats.states += 1
        if len(self.pending) >= self.batch_size:
            self._schedule(now)
        else:
            self._schedule(now + (self.urgent_delay if urgent else self.routine_delay))

    async def flush(self) -> None:
        """Send everything queued now, and return when it is delivered (or dropped)."""
        while self._sending is not None:
            await self._wait_idle()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer, self._due = None, float("inf")
        if self.pending:
            self._start()
            await self._wait_idle()

    def stop(self) -> None:
        """Forget the timer and abandon a call in flight (the daemon is stopping)."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer, self._due = None, float("inf")
        if self._sending is not None:
            self._sending.cancel()

    # -- Internals -------------------------------------------------------------------

    def _schedule(self, when: float) -> None:
        if self._timer is not None and self._timer.active() and self._due <= when:
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._due = when
        self._timer = self.clock.callLater(max(0.0, when - self.clock.seconds()), self._fire)

    def _fire(self) -> None:
        self._timer, self._due = None, float("inf")
        self._start()

    def _wait_idle(self) -> Deferred[None]:
        waiter: Deferred[None] = Deferred()
        if self._sending is None:
            waiter.callback(None)
        else:
            self._idle.append(waiter)
        return waiter

    def _start(self) -> None:
        if self._sending is not None:
            self._again = True  # the call in flight is followed by another
            return
        sending = Deferred.fromCoroutine(self._send_pending())
        self._sending = sending

        def sent(result: object) -> None:
            self._sending = None
            if self._again and self.pending:
                self._again = False
                self._start()
                return
            self._again = False
            idle, self._idle = self._idle, []
            for waiter in idle:
                waiter.callback(None)

        sending.addBoth(sent)

    async def _send_pending(self) -> None:
        taken, self.pending = self.pending, {}
        entries = list(taken.items())
        for start in range(0, len(entries), self.batch_size):
            await self._send(entries[start:start + self.batch_size])

    async def _send(self, entries: Sequence[tuple[str, tuple[str, float]]]) -> None:
        now = self.clock.seconds()
        if now < self._singly_until:
            await self._send_singly(entries)
            return
        states = [{"system_id": system_id, "power_state": state,
                   "age": max(0, round((now - observed) * 1000))}
                  for system_id, (state, observed) in entries]
        try:
            self.stats.batches += 1
            answer = await self.region.call(UpdateNodePowerStates, uuid=self.uuid,
                                            states=states, timeout=self.timeout)
        except CancelledError:
            raise  # the daemon is stopping: say nothing
        except amp.UnhandledCommand:
            self.stats.batches -= 1
            log.info("The region does not know UpdateNodePowerStates (MAAS 1.8?); reporting "
                     "power states one node at a time, and asking again in {retry:g} s",
                     retry=self.batch_retry)
            self._singly_until = now + self.batch_retry
            await self._send_singly(entries)
            return
        except Exception as error:
            self.stats.dropped += len(states)
            log.warn("Could not report {count} power state(s) to the region: {error}; it "
                     "will hand those nodes out again", count=len(states),
                     error=_describe(error))
            return
        unknown = [item["system_id"] for item in answer.get("unknown") or []]
        if unknown:
            self.stats.unknown += len(unknown)
            log.info("The region does not know {count} node(s) whose power state this cluster "
                     "reported (deleted?), e.g. {example}", count=len(unknown),
                     example=unknown[0])

    async def _send_singly(self, entries: Sequence[tuple[str, tuple[str, float]]]) -> None:
        async def one(system_id: str, state: str) -> None:
            self.stats.singles += 1
            if not await self._singles.power_state(system_id, state):
                self.stats.dropped += 1

        await gatherResults(
            [self._fallback.run(lambda s=system_id, st=state: Deferred.fromCoroutine(one(s, st)))
             for system_id, (state, _) in entries], consumeErrors=True)
