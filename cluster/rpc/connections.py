"""
The cluster's connections to the region: :class:`RegionConnections`.

It discovers the region's event loops (``GET <region-url>rpc/``, see
``discovery``) again and again, keeps one :class:`~cluster.rpc.link.RegionLink`
per event loop (joining new ones, dropping those no longer advertised), and
lets the power service and monitor call the region over any connection the
region has ACCEPTED.

Discovery runs every 30 s while every advertised event loop is connected,
every 10 s otherwise, 2 s after a connection is lost (a restarted region
has a new event loop), and backs off from 1 s to 30 s while the region
cannot be reached.  How each link connects, authenticates, registers and
reconnects is described in ``cluster.rpc.link``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from twisted.application.internet import backoffPolicy
from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    TimeoutError,
    succeed,
)
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from cluster.rpc.discovery import EventLoops
from cluster.rpc.link import ConnectTo, RegionLink, describe_error, tcp_connector
from cluster.rpc.protocol import ClusterClientProtocol
from cluster.rpc.responders import ClusterContext
from rpc.client import RPCClient
from rpc.commands.region import ClusterStatus
from rpc.errors import NoConnectionsAvailable

__all__ = ["ConnectTo", "RegionConnections", "RegionLink", "tcp_connector"]

log = Logger(namespace="cluster.rpc")

#: Seconds between two retries of a rejected cluster (at least).
REJECTED_RETRY = 120.0
#: Seconds between two GetClusterStatus questions on each connection.
STATUS_INTERVAL = 30.0
#: Seconds until the next discovery: all event loops connected, or not.
DISCOVERY_SETTLED = 30.0
DISCOVERY_UNSETTLED = 10.0
#: Seconds a call waits for an accepted connection before NoConnectionsAvailable.
CONNECTION_WAIT = 10.0


class RegionConnections(Service):
    """
    Discovers the region's event loops and keeps a link to each.

    :param clock: for backoff, deadlines and polls.
    :param cluster: the uuid and services the protocols' responders use.
    :param secret: the shared secret.
    :param region_url: the region's URL (sent with RegisterV2).
    :param fetch: one discovery: the event loops, or None if none is advertised.
    :param connect_to: opens a TCP connection (see :func:`tcp_connector`).
    :param networks: this host's networks, for registering.
    :param jitter: the randomness in backoff delays (tests pass ``lambda: 0``).
    """

    def __init__(self, clock: IReactorTime, cluster: ClusterContext, secret: bytes, *,
                 region_url: str, fetch: Callable[[], Awaitable[EventLoops | None]],
                 connect_to: ConnectTo, networks: Callable[[], list[dict[str, str]]],
                 jitter: Callable[[], float] = random.random,
                 rejected_retry: float = REJECTED_RETRY,
                 status_interval: float = STATUS_INTERVAL,
                 connection_wait: float = CONNECTION_WAIT,
                 choose: Callable[[Sequence[RegionLink]], RegionLink] = random.choice) -> None:
        self.clock = clock
        self.cluster = cluster
        self.secret = secret
        self.region_url = region_url
        self.fetch = fetch
        self.connect_to = connect_to
        self.networks = networks
        self.backoff = backoffPolicy(1.0, 30.0, jitter=jitter)
        self.discovery_backoff = backoffPolicy(1.0, 30.0, jitter=jitter)
        self.rejected_retry = rejected_retry
        self.status_interval = status_interval
        self.connection_wait = connection_wait
        self.choose = choose
        self.links: dict[str, RegionLink] = {}
        self.discovery_failures = 0
        self._advertised: EventLoops | None = None
        self._next: IDelayedCall | None = None
        self._discovering: Deferred[Any] | None = None
        self._waiters: list[Deferred[RegionLink]] = []
        self._stopping: list[Deferred[Any]] = []

    def make_protocol(self) -> ClusterClientProtocol:
        return ClusterClientProtocol(self.cluster, self.secret, self.clock)

    # -- Service -------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._schedule(0)

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        if self._next is not None and self._next.active():
            self._next.cancel()
        self._next = None
        if self._discovering is not None:
            self._discovering.cancel()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.cancel()
        stopping = [link.stop() for link in self.links.values()] + self._stopping
        self.links = {}
        return DeferredList(stopping, consumeErrors=True)

    # -- Discovery -----------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        if not self.running:
            return
        if self._next is not None and self._next.active():
            if self._next.getTime() <= self.clock.seconds() + delay:
                return  # already due sooner
            self._next.cancel()
        self._next = self.clock.callLater(delay, self._run_discovery)

    def _run_discovery(self) -> None:
        self._next = None
        if self._discovering is not None:
            return
        running = Deferred.fromCoroutine(self.discover_once())
        self._discovering = running

        def done(result: float | Failure) -> None:
            self._discovering = None
            if isinstance(result, Failure):
                if not result.check(CancelledError):
                    log.failure("Discovering the region's event loops failed", result)
                self._schedule(DISCOVERY_UNSETTLED)
            else:
                self._schedule(result)

        running.addBoth(done)

    async def discover_once(self) -> float:
        """One discovery and update; return the seconds until the next one."""
        try:
            eventloops = await self.fetch()
        except CancelledError:
            raise
        except Exception as error:
            self.discovery_failures += 1
            delay = self.discovery_backoff(self.discovery_failures)
            log.warn("Cannot discover the region's event loops at {url}rpc/: {error}; "
                     "retrying in {delay:.1f} s", url=self.region_url, error=describe_error(error),
                     delay=delay)
            return delay
        self.discovery_failures = 0
        if eventloops is None:
            if self._advertised is not None or not self.links:
                log.info("The region at {url} advertises no RPC event loop yet",
                         url=self.region_url)
            self._advertised = None
            return DISCOVERY_UNSETTLED
        self.update(eventloops)
        settled = self.links and all(link.protocol is not None for link in self.links.values())
        return DISCOVERY_SETTLED if settled else DISCOVERY_UNSETTLED

    def update(self, eventloops: EventLoops) -> None:
        """Join new event loops, follow moved ones, drop the ones that are gone."""
        if eventloops != self._advertised:
            log.info("Discovered region event loops: {eventloops}",
                     eventloops="; ".join(
                         f"{name} at " + ", ".join(f"{host}:{port}" for host, port in where)
                         for name, where in sorted(eventloops.items())) or "none")
        self._advertised = dict(eventloops)
        for name, addresses in sorted(eventloops.items()):
            link = self.links.get(name)
            if link is None:
                link = RegionLink(name, addresses, self)
                self.links[name] = link
                link.start()
            elif link.addresses != list(addresses):
                link.addresses = list(addresses)  # used from the next attempt on
        for name in sorted(set(self.links) - set(eventloops)):
            link = self.links.pop(name)
            log.info("Region event loop {eventloop} is no longer advertised; dropping it",
                     eventloop=name)
            stopped = link.stop()
            self._stopping.append(stopped)
            stopped.addBoth(lambda _, d=stopped: self._stopping.remove(d))

    def link_changed(self, link: RegionLink) -> None:
        """A link connected, was accepted, or was lost."""
        if link.accepted:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.callback(link)
        elif link.protocol is None and not link.stopping:
            self._schedule(2.0)  # the region may have moved: look again soon

    # -- Calling the region ----------------------------------------------------------

    def accepted_links(self) -> list[RegionLink]:
        return [link for link in self.links.values() if link.accepted]

    def has_accepted_connection(self) -> bool:
        return any(link.accepted for link in self.links.values())

    def statuses(self) -> dict[str, ClusterStatus | None]:
        """Event loop -> this cluster's standing on its connection (None: not connected)."""
        return {name: link.status if link.protocol is not None else None
                for name, link in self.links.items()}

    async def call(self, command: type[amp.Command], *,
                   timeout: float | None = None,  # noqa: ASYNC109 - a Deferred deadline
                   **kwargs: Any) -> dict[str, Any]:
        """
        Call command on the region over a random accepted connection, waiting
        up to ``connection_wait`` seconds for one.

        :raises NoConnectionsAvailable: none was accepted in time.
        """
        link = await self._accepted_link()
        assert link.protocol is not None
        return await RPCClient(link.protocol, self.clock).call(command, timeout=timeout, **kwargs)

    def _accepted_link(self) -> Deferred[RegionLink]:
        links = self.accepted_links()
        if links:
            return succeed(self.choose(links))
        waiter: Deferred[RegionLink] = Deferred()
        self._waiters.append(waiter)

        def none_in_time(failure: Failure) -> Failure:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if failure.check(TimeoutError):
                return Failure(NoConnectionsAvailable(
                    f"No connection to the region accepts cluster {self.cluster.uuid} "
                    f"(waited {self.connection_wait:g} s)."))
            return failure

        waiter.addTimeout(self.connection_wait, self.clock)
        waiter.addErrback(none_in_time)
        return waiter
