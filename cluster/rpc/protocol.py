"""
The cluster's end of a connection to a region event loop, and its handshake.

:class:`ClusterClientProtocol` challenges the region (``authenticate_peer``)
the moment the connection is made, as ``rpc.protocol`` requires; the region
challenges the cluster at the same time and asks Identify (answered with
the cluster's uuid by ``RPCProtocol``).  :func:`register` then registers the
cluster: RegisterV2 (our addition: ACCEPTED or PENDING, ClusterRejected),
falling back to 1.8's Register for a region that does not know RegisterV2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.python.failure import Failure

from cluster.rpc.responders import ClusterContext, ClusterResponders
from rpc.auth import authenticate_peer
from rpc.client import RPCClient
from rpc.commands.region import ClusterStatus, GetClusterStatus, Register, RegisterV2
from rpc.errors import CannotRegisterCluster, ClusterRejected, RegistrationFailed
from rpc.protocol import RPCProtocol

log = Logger(namespace="cluster.rpc")

#: Seconds the region may take to answer a registration or a status question.
REGISTER_TIMEOUT = 30.0


class ClusterClientProtocol(RPCProtocol, ClusterResponders):
    """
    One connection to a region event loop.

    :param cluster: the uuid (answered to Identify) and the services the
        responders use.
    :param secret: the shared secret.
    :param clock: bounds the challenge to the region.
    """

    def __init__(self, cluster: ClusterContext, secret: bytes, clock: IReactorTime) -> None:
        super().__init__(ident=cluster.uuid, secret=secret)
        self.cluster = cluster
        self.clock = clock
        #: Called with the reason when the connection is lost (set once established).
        self.on_lost: Callable[[Failure], None] | None = None
        self._auth_outcome: Failure | bool | None = False  # False: not settled yet
        self._auth_waiters: list[Deferred[None]] = []

    def connectionMade(self) -> None:
        super().connectionMade()
        keepalive = getattr(self.transport, "setTcpKeepAlive", None)
        if keepalive is not None:
            keepalive(True)
        # The challenge goes out before anything else (see rpc.protocol).
        challenge = Deferred.fromCoroutine(
            authenticate_peer(self, self._secret, clock=self.clock))  # type: ignore[arg-type]
        challenge.addBoth(self._authentication_settled)

    def _authentication_settled(self, result: Failure | None) -> None:
        self._auth_outcome = result
        waiters, self._auth_waiters = self._auth_waiters, []
        for waiter in waiters:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(None)

    def when_authenticated(self) -> Deferred[None]:
        """Fires once the region has proved it knows the secret; fails with
        AuthenticationFailed if it could not."""
        outcome = self._auth_outcome
        if isinstance(outcome, Failure):
            return fail(outcome)
        if outcome is None:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._auth_waiters.append(waiter)
        return waiter

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        super().connectionLost(reason)
        if self.on_lost is not None:
            notify, self.on_lost = self.on_lost, None
            notify(reason)


async def register(protocol: amp.AMP, clock: IReactorTime, *, uuid: str,
                   networks: Sequence[dict[str, str]], url: str) -> ClusterStatus:
    """
    Register the cluster on protocol's region; return ACCEPTED or PENDING.

    :raises ClusterRejected: an administrator rejected this cluster.
    :raises RegistrationFailed: an old region refused Register for another reason.
    :raises CannotRegisterCluster: the region refused RegisterV2 (e.g. a bad uuid).
    """
    client = RPCClient(protocol, clock)
    arguments: dict[str, Any] = {"uuid": uuid, "networks": list(networks), "url": url}
    try:
        answer = await client.call(RegisterV2, timeout=REGISTER_TIMEOUT, **arguments)
    except amp.UnhandledCommand:
        log.info("The region does not know RegisterV2; registering with Register (MAAS 1.8)")
    else:
        status: ClusterStatus = answer["status"]
        return status
    try:
        await client.call(Register, timeout=REGISTER_TIMEOUT, **arguments)
    except CannotRegisterCluster as refused:
        # Our region refuses a pending or rejected cluster's Register: ask why.
        try:
            found = await client.call(GetClusterStatus, timeout=REGISTER_TIMEOUT, uuid=uuid)
        except Exception:
            raise RegistrationFailed(str(refused)) from None
        if found["status"] is ClusterStatus.PENDING:
            return ClusterStatus.PENDING
        if found["status"] is ClusterStatus.REJECTED:
            raise ClusterRejected(str(refused)) from None
        raise RegistrationFailed(str(refused)) from None
    return ClusterStatus.ACCEPTED
