"""
One request at a time per BMC: :class:`BMCGate`.

Many nodes can sit behind one power address: the cartridges of a Moonshot
chassis, the outlets of a PDU, the virtual machines of a libvirt host.  BMCs
are small computers that cope badly with several sessions at once, so the
cluster sends at most one request at a time to each address (:func:`bmc_key`
names it).  Power changes (a person is waiting) go before the power monitor's
queries (urgent waiters are served first); among equals, first come, first
served.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from twisted.internet.defer import Deferred

from power.address import AddressError, parse_address

T = TypeVar("T")

#: Parameters that name the device a power type talks to.
_ADDRESS_KEYS = ("power_address",)


def bmc_key(power_type: str, context: Mapping[str, Any]) -> str | None:
    """
    The name of the device behind a node's power parameters, or None when
    there is none to share (e.g. Wake-on-LAN).  ``10.0.0.5``, ``10.0.0.5:623``
    and ``[::1]`` are normalised; other values (libvirt URIs, UCS URLs) are
    compared as written, without case.
    """
    del power_type  # every type names its device power_address today
    for key in _ADDRESS_KEYS:
        value = context.get(key)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            try:
                return str(parse_address(text)).lower()
            except AddressError:
                return text.lower()
    return None


class BMCGate:
    """Runs work so that at most one piece of it is in flight per BMC key."""

    def __init__(self) -> None:
        self._busy: set[str] = set()
        #: key -> (urgent waiters, other waiters)
        self._waiting: dict[str, tuple[deque[Deferred[None]], deque[Deferred[None]]]] = {}

    def in_flight(self, key: str) -> bool:
        """True while a request to key runs."""
        return key in self._busy

    def waiting(self, key: str) -> int:
        """How many requests wait for key."""
        queues = self._waiting.get(key)
        return 0 if queues is None else len(queues[0]) + len(queues[1])

    async def run(self, key: str | None, work: Callable[[], Awaitable[T]], *,
                  urgent: bool = False) -> T:
        """Wait for key to be free, then run work; key None runs at once."""
        if key is None:
            return await work()
        await self._acquire(key, urgent)
        try:
            return await work()
        finally:
            self._release(key)

    def _acquire(self, key: str, urgent: bool) -> Deferred[None]:
        if key not in self._busy:
            self._busy.add(key)
            done: Deferred[None] = Deferred()
            done.callback(None)
            return done
        queues = self._waiting.setdefault(key, (deque(), deque()))
        queue = queues[0] if urgent else queues[1]

        def cancel(waiter: Deferred[None]) -> None:
            if waiter in queue:
                queue.remove(waiter)
            self._forget_if_idle(key)

        waiter: Deferred[None] = Deferred(cancel)
        queue.append(waiter)
        return waiter

    def _release(self, key: str) -> None:
        queues = self._waiting.get(key)
        if queues is not None:
            for queue in queues:
                if queue:
                    queue.popleft().callback(None)  # the key stays busy: handed over
                    return
        self._busy.discard(key)
        self._forget_if_idle(key)

    def _forget_if_idle(self, key: str) -> None:
        queues = self._waiting.get(key)
        if queues is not None and not queues[0] and not queues[1]:
            del self._waiting[key]
