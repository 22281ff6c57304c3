"""
What the power service and monitor tell the region: states, events, failures.

:class:`RegionReports` wraps the region client (:class:`RegionClient`, which
``cluster.rpc.connections.RegionConnections`` implements) and never raises:
a report that cannot be delivered is logged and dropped, because the power
work it describes has already happened and the monitor will report the state
again.  An event type the region does not know is registered
(``RegisterEventType``) and the event sent once more, as 1.8's clusters did.
"""

from __future__ import annotations

from typing import Any, Protocol

from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.protocols import amp

from rpc.commands.region import (
    MarkNodeFailed,
    RegisterEventType,
    SendEvent,
    UpdateNodePowerState,
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
