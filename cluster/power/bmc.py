"""
One request at a time per BMC (:class:`BMCGate`), and a rest for BMCs that
keep failing (:class:`BMCBackoff`).

Many nodes can sit behind one power address: the cartridges of a Moonshot
chassis, the outlets of a PDU, the virtual machines of a libvirt host.  BMCs
are small computers that cope badly with several sessions at once, so the
cluster sends at most one request at a time to each address (:func:`bmc_key`
names it).  Power changes (a person is waiting) go before the power monitor's
queries (urgent waiters are served first); among equals, first come, first
served.

A BMC whose queries fail is left alone for a while before the monitor tries
it again: 10 s after the first failure in a row, then twice as long after
each further one, up to 5 minutes.  A dead BMC therefore costs one query
(one timeout) per backoff period instead of one per node per refresh, and
does not eat the monitor's concurrency.  Power changes ignore the backoff:
a person asked for them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from power.address import AddressError, parse_address

T = TypeVar("T")

#: Parameters that name the device a power type talks to.
_ADDRESS_KEYS = ("power_address",)
#: Parameters whose URL's host:port is the device, for types without an address.
_URL_KEYS = ("power_query_uri", "power_on_uri", "power_off_uri")

#: Seconds a BMC is left alone after its first failure in a row; doubled after
#: each further one, up to BACKOFF_CAP.
BACKOFF_BASE = 10.0
BACKOFF_CAP = 300.0


def bmc_key(power_type: str, context: Mapping[str, Any]) -> str | None:
    """
    The name of the device behind a node's power parameters, or None when
    there is none to share (e.g. Wake-on-LAN).  ``10.0.0.5``, ``10.0.0.5:623``
    and ``[::1]`` are normalised; other values (libvirt URIs, UCS URLs) are
    compared as written, without case.  A webhook's device is the host and
    port of its URLs (the query URL's first), unless a template names it.
    """
    del power_type  # the parameters say it all
    for key in _ADDRESS_KEYS:
        value = context.get(key)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            try:
                return str(parse_address(text)).lower()
            except AddressError:
                return text.lower()
    for key in _URL_KEYS:
        value = context.get(key)
        if isinstance(value, str) and value.strip():
            try:
                parts = urlsplit(value.strip())
                host, port = parts.hostname, parts.port
            except ValueError:
                continue
            if host and "{" not in host:
                default = 443 if parts.scheme == "https" else 80
                return f"{parts.scheme}://{host.lower()}:{port or default}"
    return None


@attrs.define
class _Failures:
    count: int
    until: float
    reason: str


class BMCBackoff:
    """
    Which BMCs are resting after failures, and until when (see the module
    docstring).  Keys are :func:`bmc_key` names.
    """

    def __init__(self, clock: IReactorTime, *, base: float = BACKOFF_BASE,
                 cap: float = BACKOFF_CAP) -> None:
        self.clock = clock
        self.base = base
        self.cap = cap
        self._failing: dict[str, _Failures] = {}

    def resting(self, key: str | None) -> float:
        """Seconds key still rests (0: it may be queried)."""
        failures = None if key is None else self._failing.get(key)
        if failures is None:
            return 0.0
        return max(0.0, failures.until - self.clock.seconds())

    def failures(self, key: str) -> int:
        """Failures of key in a row."""
        failures = self._failing.get(key)
        return 0 if failures is None else failures.count

    def reason(self, key: str) -> str:
        """What went wrong the last time key was asked."""
        failures = self._failing.get(key)
        return "" if failures is None else failures.reason

    def failed(self, key: str | None, reason: str) -> float:
        """Note a failure of key; return how many seconds it now rests."""
        if key is None:
            return 0.0
        count = self.failures(key) + 1
        rest = min(self.cap, self.base * 2 ** min(count - 1, 32))
        self._failing[key] = _Failures(count, self.clock.seconds() + rest, reason)
        return rest

    def succeeded(self, key: str | None) -> None:
        """key answered: it is healthy again."""
        if key is not None:
            self._failing.pop(key, None)

    def resting_count(self) -> int:
        """BMCs resting now."""
        now = self.clock.seconds()
        return sum(1 for failures in self._failing.values() if failures.until > now)


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
