"""
The region's RPC service: clusters connect here (default port 5250).

On every connection the region at once challenges the cluster to prove it
knows the shared secret (a failure drops the connection, with one log line
and no secret in it), then asks Identify for the cluster's uuid.  The
cluster, having authenticated the region in turn, registers
(Register/RegisterV2, see ``registration``), after which the connection is
listed in :class:`~region.rpc.connections.ClusterConnections` and, once its
cluster is ACCEPTED, used for work.  TCP keepalive is on, so a cluster that
vanished without a FIN is noticed.

:func:`build` makes the whole RPC side of a region process —
connections, power control, the listening service, the advertising service
and the ``/MAAS/rpc/`` route — for ``region.service.make_service``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from twisted.application.service import Service
from twisted.internet.defer import Deferred, ensureDeferred, fail
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request

from region.api.responses import Response
from region.config import RegionConfig, endpoint_description
from region.db.pool import Database
from region.nodeops import NodeOps
from region.rpc import registration
from region.rpc.advertise import AdvertiseService, make_rpc_view
from region.rpc.clusterops import DEFAULT_POWER_POLICY, PowerMonitorPolicy
from region.rpc.connections import ClusterConnections
from region.rpc.power import ClusterPowerControl
from region.rpc.responders import RegionResponders
from region.rpc.secret import shared_secret
from rpc.auth import authenticate_peer
from rpc.client import RPCClient
from rpc.commands.common import Identify
from rpc.errors import AuthenticationFailed
from rpc.protocol import RPCProtocol, default_name

log = Logger(namespace="region.rpc")

#: Seconds between two re-reads of the connected clusters' states.
STATUS_REFRESH = 10.0


@attrs.define
class RegionRPC:
    """What the RPC side of a region process shares (the responders' ``region``)."""

    db: Database
    clock: IReactorTime
    clusters: ClusterConnections
    power: ClusterPowerControl
    maas_url: str
    eventloop: str
    power_policy: PowerMonitorPolicy = DEFAULT_POWER_POLICY
    #: Where nodeops comes from (``Services.extras``), looked up when first needed.
    extras: dict[str, Any] = attrs.field(factory=dict)
    #: Set by the listening service once the secret is read.
    secret: bytes | None = None
    _nodeops: NodeOps | None = None

    @property
    def nodeops(self) -> NodeOps:
        found = self.extras.get("nodeops")
        if isinstance(found, NodeOps):
            return found
        if self._nodeops is None:
            self._nodeops = NodeOps(self.db, self.power)
        return self._nodeops


class RegionServerProtocol(RPCProtocol, RegionResponders):
    """One cluster's connection to this region process."""

    region: RegionRPC

    def __init__(self, region: RegionRPC) -> None:
        assert region.secret is not None, "the shared secret is read before listening"
        super().__init__(ident=region.eventloop, secret=region.secret, name=region.eventloop)
        self.region = region
        self.cluster_uuid: str | None = None
        self.peer_ident: str | None = None
        self._identity: str | Failure | None = None
        self._ident_waiters: list[Deferred[str]] = []
        self.handshake: Deferred[None] | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        keepalive = getattr(self.transport, "setTcpKeepAlive", None)
        if keepalive is not None:
            keepalive(True)
        # The challenge goes out before anything else (see rpc.protocol).
        self.handshake = Deferred.fromCoroutine(self._handshake())

    async def _handshake(self) -> None:
        peer = self.peer_text()
        try:
            await authenticate_peer(self, self.region.secret or b"",  # type: ignore[arg-type]
                                    clock=self.region.clock)
        except AuthenticationFailed as error:
            log.warn("Dropped the RPC connection from {peer}: {reason}",
                     peer=peer, reason=str(error))
            self._settle_identity(Failure(error))
            self.transport.loseConnection()
            return
        try:
            answer = await RPCClient(self, self.region.clock).call(Identify)
        except Exception as error:
            log.warn("Dropped the RPC connection from {peer}: it did not identify itself "
                     "({error})", peer=peer, error=type(error).__name__)
            self._settle_identity(Failure(error))
            self.transport.loseConnection()
            return
        self.peer_ident = str(answer["ident"])
        log.info("Cluster {uuid} connected from {peer}", uuid=self.peer_ident, peer=peer)
        self._settle_identity(self.peer_ident)

    def _settle_identity(self, result: str | Failure) -> None:
        waiters, self._ident_waiters = self._ident_waiters, []
        self._identity = result
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)

    def when_identified(self) -> Deferred[str]:
        """Fires with the peer's Identify answer (fails if the handshake failed)."""
        settled = self._identity
        if isinstance(settled, Failure):
            return fail(settled)
        if settled is not None:
            done: Deferred[str] = Deferred()
            done.callback(settled)
            return done
        waiter: Deferred[str] = Deferred()
        self._ident_waiters.append(waiter)
        return waiter

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        uuid = self.region.clusters.discard(self)
        if self.peer_ident is not None:
            log.info("Cluster {uuid} disconnected ({reason})",
                     uuid=uuid or self.peer_ident, reason=reason.getErrorMessage())
        super().connectionLost(reason)

    def peer_text(self) -> str:
        peer = self.transport.getPeer() if self.transport is not None else None
        host, port = getattr(peer, "host", None), getattr(peer, "port", None)
        return f"{host}:{port}" if host is not None else str(peer)


class RegionServerFactory(Factory):
    """Makes a RegionServerProtocol per cluster connection."""

    noisy = False  # the service logs what matters, with the cluster's uuid

    def __init__(self, region: RegionRPC) -> None:
        self.region = region

    def buildProtocol(self, addr: Any) -> RegionServerProtocol:
        protocol = RegionServerProtocol(self.region)
        protocol.factory = self
        return protocol


class RegionRPCService(Service):
    """
    Reads the shared secret from the database, then listens for clusters on
    ``endpoint`` (a server endpoint description string).  While running it
    re-reads the connected clusters' states every few seconds; stopping closes
    the listening port and every cluster connection.
    """

    def __init__(self, region: RegionRPC, reactor: Any, endpoint: str) -> None:
        self.region = region
        self.reactor = reactor
        self.endpoint = endpoint
        self.port: IListeningPort | None = None
        self._refresh: LoopingCall | None = None

    def bound(self) -> tuple[str, int] | None:
        """The (host, port) listened on, once listening."""
        if self.port is None:
            return None
        address = self.port.getHost()
        return str(address.host), int(address.port)

    def startService(self) -> Deferred[None]:
        super().startService()

        async def start() -> None:
            self.region.secret = await shared_secret(self.region.db)
            factory = RegionServerFactory(self.region)
            self.port = await serverFromString(self.reactor, self.endpoint).listen(factory)
            host, port = self.bound() or ("?", 0)
            log.info("Region RPC listening on {host}:{port} as {eventloop}",
                     host=host, port=port, eventloop=self.region.eventloop)
            loop = LoopingCall(lambda: ensureDeferred(self.refresh_statuses()))
            loop.clock = self.region.clock
            self._refresh = loop
            loop.start(STATUS_REFRESH, now=False)

        return ensureDeferred(start())

    async def refresh_statuses(self) -> None:
        """Re-read the states of the connected clusters (decisions made elsewhere);
        close the connections of clusters that were deleted."""
        clusters = self.region.clusters
        uuids = list(clusters.connected_clusters())
        if not uuids:
            return
        try:
            found = await registration.cluster_statuses(self.region.db, uuids)
        except Exception as error:
            log.warn("Could not re-read the clusters' states: {error}",
                     error=f"{type(error).__name__}: {error}")
            return
        for uuid in uuids:
            if uuid in found:
                clusters.set_status(uuid, found[uuid])
                continue
            log.info("Cluster {uuid} was deleted; closing its connections", uuid=uuid)
            for connection in list(clusters.connections()):
                if getattr(connection, "cluster_uuid", None) == uuid:
                    connection.transport.loseConnection()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._refresh is not None and self._refresh.running:
            self._refresh.stop()
        self._refresh = None
        port, self.port = self.port, None
        for connection in list(self.region.clusters.connections()):
            connection.transport.loseConnection()
        if port is None:
            done: Deferred[None] = Deferred()
            done.callback(None)
            return done
        stopped: Deferred[None] = Deferred.fromCoroutine(_stop_listening(port))
        return stopped


async def _stop_listening(port: IListeningPort) -> None:
    stopped = port.stopListening()
    if stopped is not None:
        await stopped


@attrs.frozen
class RPCParts:
    """What :func:`build` returns for ``make_service`` to wire in."""

    region: RegionRPC
    #: To start in this order, each after the previous one has started
    #: (listening, then advertising): ``rpc`` and ``rpc-advertise``.
    services: list[Service]
    #: ``Services.extras`` entries: ``clusters`` and ``power``.
    extras: dict[str, Any]
    #: A ``RegionRoot`` route: ``("/MAAS/rpc", serve)`` (``/MAAS/rpc/`` and ``/MAAS/rpc``).
    route: tuple[str, Callable[[Request, str], Awaitable[Response]]]


def build(config: RegionConfig, reactor: Any, db: Database,
          extras: dict[str, Any] | None = None, *,
          power_policy: PowerMonitorPolicy = DEFAULT_POWER_POLICY) -> RPCParts:
    """
    The RPC side of a region process, not started: the services ``rpc``
    (listening) and ``rpc-advertise``, the ``clusters`` and ``power`` extras, and
    the ``/MAAS/rpc/`` route.  ``extras`` is ``Services.extras``, where the
    responders find ``nodeops`` when they need it.
    """
    clusters = ClusterConnections(reactor)
    power = ClusterPowerControl(db, clusters)
    eventloop = default_name()
    region = RegionRPC(db=db, clock=reactor, clusters=clusters, power=power,
                       maas_url=config.effective_maas_url, eventloop=eventloop,
                       power_policy=power_policy,
                       extras=extras if extras is not None else {})
    listener = RegionRPCService(region, reactor, endpoint_description(*config.rpc_listen))
    listener.setName("rpc")
    advertiser = AdvertiseService(db, reactor, eventloop, listener.bound)
    advertiser.setName("rpc-advertise")
    return RPCParts(region=region, services=[listener, advertiser],
                    extras={"clusters": clusters, "power": power},
                    route=("/MAAS/rpc", make_rpc_view(db)))
