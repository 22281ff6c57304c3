"""
One reconnecting connection to a region event loop: :class:`RegionLink`.

Each link is a ``ClientService`` (``backoffPolicy(1.0, 30.0)``, injected
clock) that reconnects by itself when the region restarts.  A connection
attempt is only a success once the handshake is done: TCP connected (each
advertised address in turn, 10 s each), the region authenticated and this
cluster registered (ACCEPTED or PENDING).  A failed handshake is a failed
attempt and backs off like a refused connection; a rejected cluster retries
slowly (the owner's ``rejected_retry``, 2 minutes).

Why the handshake sits in the endpoint (:class:`HandshakeEndpoint`) and not
in ``ClientService(prepareConnection=...)``: when ``prepareConnection``
fails, ``ClientService`` leaves the connection open and moves to waiting,
and when that connection then closes (or the region drops it mid-handshake,
as it does on a wrong secret) its state machine has no transition for the
loss and raises ``automat.NoTransition`` out of ``connectionLost``
(Twisted 26.10; a unit test shows the trap).  So ``ClientService`` is only
shown a connection after the handshake succeeded, through a stand-in
protocol that relays the loss.

While connected, a link asks ``GetClusterStatus`` every 30 s: a PENDING
cluster learns that it was accepted, and an accepted one that an
administrator rejected it since (it then disconnects and retries slowly).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.application.internet import ClientService
from twisted.internet.defer import CancelledError, Deferred, TimeoutError
from twisted.internet.error import ConnectionClosed, ConnectionLost
from twisted.internet.interfaces import (
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from cluster.rpc.protocol import REGISTER_TIMEOUT, ClusterClientProtocol, register
from cluster.rpc.responders import ClusterContext
from power.endpoints import client_endpoint
from rpc.client import RPCClient
from rpc.commands.region import ClusterStatus, GetClusterStatus
from rpc.errors import (
    AuthenticationFailed,
    CannotRegisterCluster,
    ClusterRejected,
    NoSuchCluster,
)

log = Logger(namespace="cluster.rpc")

#: Seconds to establish a TCP connection to one address of an event loop.
CONNECT_TIMEOUT = 10.0

#: connect_to(host, port, factory) -> Deferred firing with the protocol.
ConnectTo = Callable[[str, int, IProtocolFactory], Deferred[Any]]


def tcp_connector(reactor: Any, timeout: float = CONNECT_TIMEOUT) -> ConnectTo:
    """Connect over TCP: IP literals directly, anything else by name."""

    def connect_to(host: str, port: int, factory: IProtocolFactory) -> Deferred[Any]:
        endpoint = client_endpoint(reactor, host, port, timeout=timeout)
        return endpoint.connect(factory)  # type: ignore[no-any-return]

    return connect_to


class LinkOwner(TypingProtocol):
    """What a link needs of ``cluster.rpc.connections.RegionConnections``."""

    clock: IReactorTime
    cluster: ClusterContext
    region_url: str
    connect_to: ConnectTo
    networks: Callable[[], list[dict[str, str]]]
    rejected_retry: float
    status_interval: float

    def backoff(self, attempt: int) -> float: ...

    def make_protocol(self) -> ClusterClientProtocol: ...

    def link_changed(self, link: RegionLink) -> None: ...


class _OneProtocol(Factory):
    """Builds the one protocol it was given (quietly: no "Starting factory" lines)."""

    noisy = False

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol

    def buildProtocol(self, addr: Any) -> Protocol:
        return self.protocol


class _Established(Protocol):
    """What ClientService holds of an established connection: a stand-in that
    receives the loss after the real protocol has handled it."""

    def connectionLost(self, reason: Failure = Failure(ConnectionLost())) -> None:  # noqa: B008
        pass


class _EstablishedFactory(Factory):
    noisy = False

    def buildProtocol(self, addr: Any) -> Protocol:
        return _Established()


@implementer(IStreamClientEndpoint)
class HandshakeEndpoint:
    """The endpoint a link's ClientService connects with (see the module doc)."""

    def __init__(self, link: RegionLink) -> None:
        self.link = link

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        return Deferred.fromCoroutine(self.link.connect(protocolFactory))


def describe_error(error: BaseException) -> str:
    """``Type: message`` (or just the type) for log lines."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class RegionLink:
    """
    The connection to one region event loop.

    :param name: the event loop's name (``<host>:pid=<pid>``).
    :param addresses: its advertised (address, port) pairs, tried in order.
    """

    def __init__(self, name: str, addresses: Sequence[tuple[str, int]],
                 owner: LinkOwner) -> None:
        self.name = name
        self.addresses = list(addresses)
        self.owner = owner
        self.protocol: ClusterClientProtocol | None = None
        self.address: tuple[str, int] | None = None
        self.status: ClusterStatus | None = None
        self.rejected = False
        self.stopping = False
        self.last_failure = ""
        self._poll: LoopingCall | None = None
        self.service = ClientService(HandshakeEndpoint(self), _EstablishedFactory(),
                                     retryPolicy=self.retry_delay, clock=owner.clock)

    @property
    def accepted(self) -> bool:
        return self.protocol is not None and self.status is ClusterStatus.ACCEPTED

    def start(self) -> None:
        self.service.startService()

    def stop(self) -> Deferred[None]:
        self.stopping = True
        self._stop_polling()
        return self.service.stopService()

    def retry_delay(self, attempt: int) -> float:
        """ClientService's retry policy: backoff, and slowly for a rejected cluster."""
        delay = self.owner.backoff(attempt)
        if self.rejected:
            delay = max(delay, self.owner.rejected_retry)
        why = self.last_failure or "connection lost"
        if self.rejected:
            log.warn("Region {eventloop}: {why}; retrying slowly, in {delay:.0f} s",
                     eventloop=self.name, why=why, delay=delay)
        else:
            log.info("Region {eventloop}: {why}; retrying in {delay:.1f} s (attempt {attempt})",
                     eventloop=self.name, why=why, delay=delay, attempt=attempt)
        return delay

    # -- One connection attempt ----------------------------------------------------

    async def connect(self, factory: IProtocolFactory) -> Any:
        """Connect, authenticate, register; return ClientService's stand-in protocol."""
        protocol, address = await self._open()
        log.info("Connected to region {eventloop} at {host}:{port}", eventloop=self.name,
                 host=address[0], port=address[1])
        owner = self.owner
        try:
            await protocol.when_authenticated()
            log.info("Authenticated region {eventloop}", eventloop=self.name)
            status = await register(protocol, owner.clock, uuid=owner.cluster.uuid,
                                    networks=owner.networks(), url=owner.region_url)
        except BaseException as error:
            self._handshake_failed(error)
            if protocol.transport is not None:
                protocol.transport.loseConnection()
            raise
        self.rejected = False
        self.last_failure = ""
        established = factory.buildProtocol(protocol.transport.getPeer())
        assert established is not None
        established.makeConnection(protocol.transport)
        protocol.on_lost = lambda reason: self._lost(reason, established)
        self.protocol, self.address, self.status = protocol, address, status
        if status is ClusterStatus.ACCEPTED:
            log.info("Registered with region {eventloop}: cluster {uuid} is ACCEPTED",
                     eventloop=self.name, uuid=owner.cluster.uuid)
        else:
            log.warn("Registered with region {eventloop}: cluster {uuid} is PENDING; an "
                     "administrator must accept it (nodegroups op=accept) before it gets work",
                     eventloop=self.name, uuid=owner.cluster.uuid)
        self._start_polling()
        owner.link_changed(self)
        return established

    async def _open(self) -> tuple[ClusterClientProtocol, tuple[str, int]]:
        failure: BaseException | None = None
        for host, port in list(self.addresses):
            protocol = self.owner.make_protocol()
            try:
                await self.owner.connect_to(host, port, _OneProtocol(protocol))
            except CancelledError:
                raise
            except Exception as error:
                failure = error
                continue
            return protocol, (host, port)
        where = ", ".join(f"{host}:{port}" for host, port in self.addresses) or "no address"
        why = describe_error(failure) if failure is not None else "-"
        self.last_failure = f"cannot connect to {where} ({why})"
        raise failure if failure is not None else ConnectionError(self.last_failure)

    def _handshake_failed(self, error: BaseException) -> None:
        if isinstance(error, ClusterRejected):
            self.rejected = True
            self.last_failure = f"cluster {self.owner.cluster.uuid} has been rejected ({error})"
        elif isinstance(error, AuthenticationFailed):
            self.last_failure = (f"the region failed authentication ({error}); check that this "
                                 "cluster's shared secret is the region's")
        elif isinstance(error, ConnectionClosed | ConnectionError):
            self.last_failure = ("the region closed the connection during the handshake (a "
                                 "wrong shared secret does that)")
        elif isinstance(error, CancelledError):
            self.last_failure = "the handshake was cancelled"
        elif isinstance(error, TimeoutError):
            self.last_failure = "the region did not answer the handshake in time"
        elif isinstance(error, CannotRegisterCluster):
            self.last_failure = f"the region refused to register this cluster ({error})"
        else:
            self.last_failure = f"the handshake failed ({describe_error(error)})"

    def _lost(self, reason: Failure, established: Protocol) -> None:
        self.protocol = self.address = self.status = None
        self._stop_polling()
        if self.stopping:
            log.info("Closed the connection to region {eventloop}", eventloop=self.name)
        elif self.rejected:  # we hung up: keep the reason for the retry line
            log.info("Closed the connection to region {eventloop}: {why}",
                     eventloop=self.name, why=self.last_failure)
        else:
            self.last_failure = f"lost the connection ({reason.getErrorMessage()})"
            log.warn("Lost the connection to region {eventloop}: {reason}",
                     eventloop=self.name, reason=reason.getErrorMessage())
        established.connectionLost(reason)  # tells ClientService, which reconnects
        self.owner.link_changed(self)

    # -- Is this cluster (still) accepted? -----------------------------------------

    def _start_polling(self) -> None:
        self._stop_polling()
        loop = LoopingCall(lambda: Deferred.fromCoroutine(self.poll_status()))
        loop.clock = self.owner.clock
        self._poll = loop
        loop.start(self.owner.status_interval, now=False)

    def _stop_polling(self) -> None:
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        self._poll = None

    async def poll_status(self) -> None:
        """Ask the region for this cluster's standing; act on a change. Never raises."""
        protocol = self.protocol
        if protocol is None:
            return
        uuid = self.owner.cluster.uuid
        try:
            answer = await RPCClient(protocol, self.owner.clock).call(
                GetClusterStatus, timeout=REGISTER_TIMEOUT, uuid=uuid)
        except NoSuchCluster:
            log.warn("Region {eventloop} no longer knows cluster {uuid}; reconnecting to "
                     "register again", eventloop=self.name, uuid=uuid)
            self._drop(protocol)
            return
        except Exception as error:
            if protocol is self.protocol:  # else the connection is gone: nothing to say
                log.warn("Could not ask region {eventloop} for this cluster's status: "
                         "{error}", eventloop=self.name, error=describe_error(error))
            return
        status: ClusterStatus = answer["status"]
        if protocol is not self.protocol or status is self.status:
            return
        self.status = status
        if status is ClusterStatus.REJECTED:
            self.rejected = True
            self.last_failure = f"cluster {uuid} has been rejected"
            log.warn("Cluster {uuid} has been rejected by an administrator (region "
                     "{eventloop}); disconnecting", uuid=uuid, eventloop=self.name)
            self._drop(protocol)
            return
        log.info("Cluster {uuid} is now {status} (region {eventloop})", uuid=uuid,
                 status=status.value, eventloop=self.name)
        self.owner.link_changed(self)

    def _drop(self, protocol: ClusterClientProtocol) -> None:
        if protocol.transport is not None:
            protocol.transport.loseConnection()
