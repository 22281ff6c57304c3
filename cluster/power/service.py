"""
Power changes and queries, as the region asks for them: :class:`PowerService`.

**Changes** (PowerOn/PowerOff) return at once; the work goes on in the
background, one change per node at a time:

- a second request in the *same* direction while one runs is accepted and
  ignored; the *opposite* direction is refused with
  ``PowerActionAlreadyInProgress`` (the region answers 503 + Retry-After);
- the change sends ``NODE_POWER_{ON,OFF}_STARTING``, runs the driver, and,
  for a queryable power type, queries the device on MAAS 1.8's schedule
  (waits of 1, 2, 2, 4, 6, 8, 12 s, ``power.base.RETRY_WAITS``) until it
  reports the requested state (or "unknown", which 1.8 also took as done);
- a *retryable* driver error (no answer, the device said no this once) is
  retried on the same schedule; a *fatal* one (bad credentials, bad
  settings, no tool) ends the change at once;
- the whole change has a deadline (5 minutes); when it passes, the driver
  call in flight is cancelled (its child process killed);
- success: ``UpdateNodePowerState`` and ``NODE_POWERED_{ON,OFF}``;
  failure: ``MarkNodeFailed("Node could not be powered on|off: <reason>")``
  and ``NODE_POWER_{ON,OFF}_FAILED`` with the reason.

One difference from 1.8, on purpose: once the driver's action has
succeeded it is not sent again when a query still shows the old state; the
device is only queried until the schedule runs out.  1.8 re-ran the action
each round, which power-cycles a machine whose BMC is slow to report (AMT,
for one, turns "on" into a reset when the machine is already on).

**Queries** (PowerQuery) are answered after at most ``query_deadline``
seconds (below the region's own 45 s wait), retrying retryable errors on
the same schedule.  The answer is also reported with UpdateNodePowerState;
a failure reports the state ``error``, sends ``NODE_POWER_QUERY_FAILED``
and answers ``PowerActionFail``.

Every driver call goes through the :class:`~cluster.power.bmc.BMCGate`
shared with the power monitor (one request per BMC at a time; changes first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, TimeoutError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from cluster.power.bmc import BMCGate, bmc_key
from cluster.power.drivers import DriverSource
from cluster.power.reports import RegionClient, RegionReports
from power.base import RETRY_WAITS, PowerDriver
from power.errors import PowerError, is_retryable
from power.registry import is_queryable
from rpc.errors import PowerActionAlreadyInProgress, PowerActionFail

log = Logger(namespace="cluster.power")

#: Seconds a whole power change may take (1.8's CHANGE_POWER_STATE_TIMEOUT).
CHANGE_DEADLINE = 300.0
#: Seconds a PowerQuery may take before the cluster answers (the region waits 45).
QUERY_DEADLINE = 40.0

_EVENTS = {
    "on": ("NODE_POWER_ON_STARTING", "NODE_POWERED_ON", "NODE_POWER_ON_FAILED"),
    "off": ("NODE_POWER_OFF_STARTING", "NODE_POWERED_OFF", "NODE_POWER_OFF_FAILED"),
}


class PowerChangeFailed(Exception):
    """A power change or query did not succeed; the message is the reason."""


@attrs.define
class PowerChange:
    """A power change in progress."""

    system_id: str
    hostname: str
    power_type: str
    #: "on" or "off".
    state: str
    #: Fires (with None) when the change and its reports are done.
    done: Deferred[None] | None = None


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


class PowerService(Service):
    """
    Carries out power changes and queries.

    :param clock: for waits and deadlines.
    :param region: where reports go (see ``cluster.power.reports``).
    :param drivers: the driver for each power type.
    :param gate: one request per BMC at a time (shared with the monitor).
    :param waits: seconds between attempts (1.8's schedule by default).
    """

    def __init__(self, clock: IReactorTime, region: RegionClient, drivers: DriverSource, *,
                 gate: BMCGate | None = None, waits: tuple[float, ...] = RETRY_WAITS,
                 change_deadline: float = CHANGE_DEADLINE,
                 query_deadline: float = QUERY_DEADLINE) -> None:
        self.clock = clock
        self.reports = RegionReports(region)
        self.drivers = drivers
        self.gate = gate if gate is not None else BMCGate()
        self.waits = waits
        self.change_deadline = change_deadline
        self.query_deadline = query_deadline
        self.changes: dict[str, PowerChange] = {}
        self._background: set[Deferred[Any]] = set()

    # -- What the responders and the monitor use ---------------------------------

    def in_progress(self, system_id: str) -> str | None:
        """The direction ("on"/"off") of the change running for system_id, if any."""
        change = self.changes.get(system_id)
        return None if change is None else change.state

    def driver_for(self, power_type: str) -> PowerDriver:
        """The driver; UnknownPowerType or NotImplementedError if there is none."""
        return self.drivers.driver_for(power_type)

    def change_power_state(self, system_id: str, hostname: str, power_type: str,
                           context: Mapping[str, Any], state: str) -> None:
        """
        Start powering the node on or off and return at once.

        :raises PowerActionAlreadyInProgress: a change the other way is running.
        :raises UnknownPowerType: no such power type.
        :raises NotImplementedError: the power type has no driver yet.
        """
        if state not in _EVENTS:
            raise ValueError(f"a power change is 'on' or 'off', not {state!r}")
        current = self.changes.get(system_id)
        if current is not None:
            if current.state == state:
                log.info("{system_id} ({hostname}) is already being powered {state}; "
                         "nothing more to do", system_id=system_id, hostname=hostname,
                         state=state)
                return
            raise PowerActionAlreadyInProgress(
                f"Unable to change power state to '{state}' for node {hostname} "
                f"({system_id}): another action (power {current.state}) is already in "
                "progress for that node.")
        driver = self.driver_for(power_type)
        change = PowerChange(system_id, hostname, power_type, state)
        self.changes[system_id] = change
        log.info("Powering {system_id} ({hostname}) {state} ({power_type})",
                 system_id=system_id, hostname=hostname, state=state, power_type=power_type)
        done = Deferred.fromCoroutine(self._carry_out(change, driver, dict(context)))
        change.done = done

        def finished(result: object) -> None:
            if self.changes.get(system_id) is change:
                del self.changes[system_id]
            if isinstance(result, Failure) and not result.check(CancelledError):
                log.failure("Power change of {system_id} crashed", result, system_id=system_id)

        done.addBoth(finished)

    async def query_power_state(self, system_id: str, hostname: str, power_type: str,
                                context: Mapping[str, Any]) -> str:
        """
        Ask the node's device for its power state (retrying retryable errors
        within ``query_deadline``); report the state and return it.

        :raises PowerActionFail: the query failed (reported as state ``error``).
        """
        driver = self.driver_for(power_type)
        params = dict(context)
        if not (is_queryable(power_type) and driver.queryable):
            self._in_background(self.reports.power_state(system_id, "unknown"))
            return "unknown"
        attempt: Deferred[str] = Deferred.fromCoroutine(
            self._query_with_retries(system_id, power_type, driver, params))
        attempt.addTimeout(self.query_deadline, self.clock)
        try:
            state = await attempt
        except TimeoutError:
            reason = f"Timed out after {self.query_deadline:g} seconds."
        except PowerChangeFailed as error:
            reason = str(error)
        else:
            log.info("{system_id} ({hostname}) is {state}", system_id=system_id,
                     hostname=hostname, state=state)
            self._in_background(self.reports.power_state(system_id, state))
            return state
        log.warn("Could not query the power state of {system_id} ({hostname}): {reason}",
                 system_id=system_id, hostname=hostname, reason=reason)
        self._in_background(self.report_query_failure(system_id, reason))
        raise PowerActionFail(f"Power state could not be queried: {reason}")

    async def report_query_failure(self, system_id: str, reason: str, *,
                                   event: bool = True) -> None:
        """Report state ``error`` (and, if event, NODE_POWER_QUERY_FAILED)."""
        await self.reports.power_state(system_id, "error")
        if event:
            await self.reports.event(system_id, "NODE_POWER_QUERY_FAILED",
                                     f"Power state could not be queried: {reason}")

    # -- The work ------------------------------------------------------------------

    async def _carry_out(self, change: PowerChange, driver: PowerDriver,
                         context: dict[str, Any]) -> None:
        starting, succeeded, failed = _EVENTS[change.state]
        await self.reports.event(change.system_id, starting)
        attempt: Deferred[str] = Deferred.fromCoroutine(self._attempt(change, driver, context))
        attempt.addTimeout(self.change_deadline, self.clock)
        try:
            await attempt
        except TimeoutError:
            reason = f"Timed out after {self.change_deadline:g} seconds."
        except PowerChangeFailed as error:
            reason = str(error)
        except CancelledError:
            raise  # the service is stopping
        except Exception as error:  # a bug: say so, and still tell the region
            log.failure("Power {state} of {system_id} failed unexpectedly",
                        state=change.state, system_id=change.system_id)
            reason = f"Unexpected error: {type(error).__name__}"
        else:
            log.info("Powered {system_id} ({hostname}) {state}", system_id=change.system_id,
                     hostname=change.hostname, state=change.state)
            await self.reports.power_state(change.system_id, change.state)
            await self.reports.event(change.system_id, succeeded)
            return
        log.warn("Could not power {system_id} ({hostname}) {state}: {reason}",
                 system_id=change.system_id, hostname=change.hostname, state=change.state,
                 reason=reason)
        await self.reports.mark_failed(
            change.system_id, f"Node could not be powered {change.state}: {reason}")
        await self.reports.event(change.system_id, failed, reason)

    async def _attempt(self, change: PowerChange, driver: PowerDriver,
                       context: dict[str, Any]) -> str:
        """Run the action, then query until the device agrees; return the state."""
        key = bmc_key(change.power_type, context)
        action = driver.on if change.state == "on" else driver.off
        queryable = is_queryable(change.power_type) and driver.queryable
        acted = False
        last = "no answer"
        for number, wait in enumerate(self.waits, start=1):
            if not acted:
                try:
                    await self._call(key, lambda: action(context, system_id=change.system_id))
                except PowerError as error:
                    last = self._retry_or_raise(change, error, number, wait)
                    await deferLater(self.clock, wait)
                    continue
                acted = True
                if not queryable:
                    return change.state
            await deferLater(self.clock, wait)
            try:
                state = await self._call(
                    key, lambda: driver.query(context, system_id=change.system_id))
            except PowerError as error:
                last = self._retry_or_raise(change, error, number, wait)
                continue
            if state in (change.state, "unknown"):
                return change.state
            last = f"the node is still {state}"
            log.debug("{system_id} is still {state} after try {number}",
                      system_id=change.system_id, state=state, number=number)
        raise PowerChangeFailed(f"Timeout after {len(self.waits)} tries ({last}).")

    async def _query_with_retries(self, system_id: str, power_type: str, driver: PowerDriver,
                                  context: dict[str, Any]) -> str:
        key = bmc_key(power_type, context)
        last = "no answer"
        for number, wait in enumerate(self.waits, start=1):
            try:
                state: str = await self._call(
                    key, lambda: driver.query(context, system_id=system_id))
                return state
            except PowerError as error:
                if not is_retryable(error):
                    raise PowerChangeFailed(_reason(error)) from None
                last = _reason(error)
                log.debug("Power query of {system_id} failed (try {number}): {error}",
                          system_id=system_id, number=number, error=last)
            if number < len(self.waits):
                await deferLater(self.clock, wait)
        raise PowerChangeFailed(f"{last} (after {len(self.waits)} tries)")

    def _retry_or_raise(self, change: PowerChange, error: PowerError, number: int,
                        wait: float) -> str:
        if not is_retryable(error):
            raise PowerChangeFailed(_reason(error)) from None
        log.info("Power {state} of {system_id}: try {number} failed ({error}); "
                 "trying again in {wait} s", state=change.state, system_id=change.system_id,
                 number=number, error=_reason(error), wait=wait)
        return _reason(error)

    async def _call(self, key: str | None, work: Callable[[], Awaitable[Any]]) -> Any:
        return await self.gate.run(key, work, urgent=True)

    def _in_background(self, work: Awaitable[Any]) -> None:
        """Run a report without making the caller wait; cancelled on stop."""
        running: Deferred[Any] = Deferred.fromCoroutine(_awaiting(work))
        self._background.add(running)
        running.addBoth(lambda _: self._background.discard(running))

    # -- Service -------------------------------------------------------------------

    def stopService(self) -> None:
        """Abandon what is in flight, quietly (no failure is reported on the way out)."""
        super().stopService()
        for change in list(self.changes.values()):
            if change.done is not None:
                change.done.cancel()
        for running in list(self._background):
            running.cancel()


async def _awaiting(work: Awaitable[Any]) -> Any:
    return await work
