"""
A power driver whose devices are simulated: :class:`FakePowerDriver`.

It is a real ``power.base.PowerDriver`` subclass, so parameter checking,
the per-call timeout, error translation and secret scrubbing are the real
ones; only the device is fake.  Each node's machine is identified by the
``system_id`` in its parameters (the region puts it there, reference §7.2)
and each BMC by ``power_address``.

Scripting:

- ``states[system_id]``: the machine's power ("off" unless set);
- ``fail(action, *errors)``: the next calls of action ("on", "off", "query")
  raise these errors, in order;
- ``delays[action]``: seconds each call of action takes (on the clock);
- ``hang(action)``: calls of action never finish (only cancellation ends them);
- ``lag``: how many queries after a change still see the old state.

Recording: ``calls`` (action, system_id, params) and in-flight counts per
BMC and in total, with their maxima.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from power.base import PowerDriver
from power.registry import is_queryable


class FakePowerDriver(PowerDriver):
    """A simulated power device per node (see the module docstring)."""

    power_type = "ipmi"

    def __init__(self, clock: IReactorTime, *, power_type: str = "ipmi",
                 timeout: float = 60.0) -> None:
        super().__init__(None, clock=clock, timeout=timeout)
        self.power_type = power_type  # type: ignore[misc]
        self.queryable = is_queryable(power_type)  # type: ignore[misc]
        self.states: dict[str, str] = {}
        self.delays: dict[str, float] = {}
        self.lag = 0
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.in_flight_by_bmc: dict[str, int] = defaultdict(int)
        self.max_in_flight_by_bmc: dict[str, int] = defaultdict(int)
        self.cancelled: list[tuple[str, str]] = []
        self._errors: dict[str, deque[BaseException]] = defaultdict(deque)
        self._hanging: set[str] = set()
        self._lagging: dict[str, tuple[int, str]] = {}

    # -- Scripting -------------------------------------------------------------------

    def fail(self, action: str, *errors: BaseException) -> None:
        self._errors[action].extend(errors)

    def hang(self, action: str) -> None:
        self._hanging.add(action)

    def actions(self, action: str | None = None) -> list[tuple[str, str]]:
        """(action, system_id) of every call (of one action)."""
        return [(name, sid) for name, sid, _ in self.calls if action in (None, name)]

    # -- The driver --------------------------------------------------------------------

    async def power_on(self, params: Mapping[str, Any]) -> None:
        await self._act("on", params)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._act("off", params)

    async def power_query(self, params: Mapping[str, Any]) -> str:
        state: str = await self._act("query", params)
        return state

    async def _act(self, action: str, params: Mapping[str, Any]) -> Any:
        system_id = str(params.get("system_id", ""))
        bmc = str(params.get("power_address", ""))
        self.calls.append((action, system_id, dict(params)))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.in_flight_by_bmc[bmc] += 1
        self.max_in_flight_by_bmc[bmc] = max(self.max_in_flight_by_bmc[bmc],
                                             self.in_flight_by_bmc[bmc])
        try:
            if action in self._hanging:
                await Deferred(lambda _: self.cancelled.append((action, system_id)))
            if self.delays.get(action):
                await deferLater(self.clock, self.delays[action])
            if self._errors[action]:
                raise self._errors[action].popleft()
            return self._device(action, system_id)
        finally:
            self.in_flight -= 1
            self.in_flight_by_bmc[bmc] -= 1

    def _device(self, action: str, system_id: str) -> str | None:
        current = self.states.get(system_id, "off")
        if action == "query":
            lagging = self._lagging.get(system_id)
            if lagging is not None and lagging[0] > 0:
                self._lagging[system_id] = (lagging[0] - 1, lagging[1])
                return lagging[1]
            return current
        if self.lag:
            self._lagging[system_id] = (self.lag, current)
        self.states[system_id] = action
        return None
