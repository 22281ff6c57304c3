"""
ClusterConnections: the clusters connected to this region process, by uuid.

A connection is listed once its cluster has authenticated and registered
(Register or RegisterV2), whatever the answer: pending and rejected clusters
keep their connection, but only ACCEPTED clusters are handed out for work.

    clients = services.extras["clusters"]
    client = clients.client_for(uuid)          # RPCClient, or NoConnectionsAvailable at once
    await client.call(PowerQuery, ...)
    client = await clients.wait_for_client(uuid, timeout=5)   # waits a little, at most

A cluster's state here follows the database: registration sets it, an
administrator's accept/reject in this process should call :meth:`set_status`
(the RPC service also re-reads the states of connected clusters every few
seconds, which carries decisions made through another region process).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.protocols import amp

from rpc.client import RPCClient
from rpc.commands.region import ClusterStatus
from rpc.errors import NoConnectionsAvailable


def no_connections(uuid: str) -> NoConnectionsAvailable:
    """1.8's error for a cluster with no usable connection."""
    return NoConnectionsAvailable(
        f"Unable to connect to cluster {uuid}; no connections available.", uuid=uuid)


class ClusterConnections:
    """
    uuid → the live, authenticated, registered connections of that cluster.

    :param clock: deadlines of calls made through the clients handed out,
        and of :meth:`wait_for_client`.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, *, rng: random.Random | None = None) -> None:
        self.clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - load spreading, not crypto
        self._connections: dict[str, list[amp.AMP]] = {}
        self._status: dict[str, ClusterStatus] = {}
        self._waiters: dict[str, list[Deferred[RPCClient]]] = {}

    # -- Bookkeeping (the RPC service calls these) ---------------------------

    def add(self, uuid: str, connection: amp.AMP, status: ClusterStatus) -> None:
        """Record connection as one of cluster uuid's, which is in status."""
        connections = self._connections.setdefault(uuid, [])
        if connection not in connections:
            connections.append(connection)
        self.set_status(uuid, status)

    def discard(self, connection: amp.AMP) -> str | None:
        """Forget connection (it was lost); return its cluster's uuid, if it was listed."""
        for uuid, connections in list(self._connections.items()):
            if connection in connections:
                connections.remove(connection)
                if not connections:
                    del self._connections[uuid]
                    self._status.pop(uuid, None)
                return uuid
        return None

    def set_status(self, uuid: str, status: ClusterStatus) -> None:
        """A cluster's state changed (accepted, rejected); no-op if it is not connected."""
        if uuid not in self._connections:
            return
        self._status[uuid] = status
        if status is ClusterStatus.ACCEPTED:
            for waiter in self._waiters.pop(uuid, []):
                waiter.callback(self._client(uuid))

    # -- Questions -------------------------------------------------------------

    def status_of(self, uuid: str) -> ClusterStatus | None:
        """The state of a connected cluster, or None when it is not connected."""
        return self._status.get(uuid) if uuid in self._connections else None

    def is_connected(self, uuid: str) -> bool:
        """True if cluster uuid has a registered connection (in any state)."""
        return uuid in self._connections

    def connected_uuids(self) -> list[str]:
        """The ACCEPTED clusters with at least one live connection: those
        :meth:`client_for` serves."""
        return sorted(uuid for uuid in self._connections
                      if self._status.get(uuid) is ClusterStatus.ACCEPTED)

    def connected_clusters(self) -> dict[str, ClusterStatus]:
        """Every connected cluster (pending and rejected ones too) with its state."""
        return {uuid: self._status[uuid] for uuid in sorted(self._connections)
                if uuid in self._status}

    def connection_count(self, uuid: str) -> int:
        return len(self._connections.get(uuid, ()))

    def connections(self) -> Iterator[amp.AMP]:
        """Every listed connection (for shutting down)."""
        for connections in list(self._connections.values()):
            yield from list(connections)

    # -- Clients -------------------------------------------------------------

    def _client(self, uuid: str) -> RPCClient:
        return RPCClient(self._rng.choice(self._connections[uuid]), self.clock)

    def client_for(self, uuid: str) -> RPCClient:
        """
        A client on a random live connection of cluster uuid.

        :raises NoConnectionsAvailable: at once, when the cluster has no
            connection, or is not ACCEPTED.
        """
        if uuid in self._connections and self._status.get(uuid) is ClusterStatus.ACCEPTED:
            return self._client(uuid)
        raise no_connections(uuid)

    async def wait_for_client(self, uuid: str, timeout: float) -> RPCClient:  # noqa: ASYNC109
        """
        As :meth:`client_for`, but wait up to timeout seconds for the cluster
        to connect (or be accepted).  Raises NoConnectionsAvailable after that.
        """
        try:
            return self.client_for(uuid)
        except NoConnectionsAvailable:
            if timeout <= 0:
                raise
        waiter: Deferred[RPCClient] = Deferred()
        self._waiters.setdefault(uuid, []).append(waiter)
        waiter.addTimeout(timeout, self.clock)
        try:
            return await waiter
        except (CancelledError, DeferredTimeout):
            raise no_connections(uuid) from None
        finally:
            waiting = self._waiters.get(uuid, [])
            if waiter in waiting:
                waiting.remove(waiter)
            if not waiting:
                self._waiters.pop(uuid, None)

    def __repr__(self) -> str:
        described: dict[str, Any] = {
            uuid: (self._status.get(uuid), len(connections))
            for uuid, connections in self._connections.items()}
        return f"<ClusterConnections {described!r}>"
