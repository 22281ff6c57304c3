"""
Telling clusters where this region process's RPC service listens.

:class:`AdvertiseService` writes this process's endpoints to the
``eventloops`` table as soon as it starts and every 60 seconds after, and
prunes rows older than 3 minutes (processes that died); a failed round is
logged and the next one runs as usual.  On stopping, it removes its rows.

:func:`make_rpc_view` answers ``GET /MAAS/rpc/`` with every live region
process, as 1.8 does::

    {"eventloops": {"<host>:pid=<pid>": [["10.0.0.1", 5250], ...], ...}}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import Request

from region.api.responses import Response
from region.db import eventloops
from region.db.pool import Database, DatabaseUnavailable
from region.rpc.addresses import endpoints_for

log = Logger(namespace="region.rpc.advertise")

#: Seconds between two refreshes of this process's rows.
INTERVAL = 60.0
#: Rows older than this (seconds) belong to a process that is gone.
STALE_AFTER = 180.0
#: Seconds allowed for removing our rows when stopping.
WITHDRAW_TIMEOUT = 5.0


class AdvertiseService(Service):
    """
    Keeps this process's RPC endpoints in ``eventloops``.

    :param name: this event loop's name (``<host>:pid=<pid>``).
    :param where: returns the (host, port) the RPC service is bound to, or
        None while it is not listening.
    """

    def __init__(self, db: Database, clock: IReactorTime, name: str,
                 where: Callable[[], tuple[str, int] | None], *,
                 interval: float = INTERVAL, stale_after: float = STALE_AFTER,
                 addresses: Callable[[str, int], list[tuple[str, int]]] = endpoints_for) -> None:
        self.db = db
        self.clock = clock
        self.eventloop = name
        self.where = where
        self.interval = interval
        self.stale_after = stale_after
        self.addresses = addresses
        self._loop: LoopingCall | None = None
        self._done: Deferred[Any] | None = None
        self.advertised: list[tuple[str, int]] = []

    async def refresh(self) -> list[tuple[str, int]]:
        """Write this process's endpoints and prune stale rows; return the endpoints."""
        bound = self.where()
        endpoints = [] if bound is None else self.addresses(*bound)

        async def work(tx: Any) -> None:
            await eventloops.advertise(tx, self.eventloop, endpoints)
            await eventloops.prune(tx, self.stale_after)

        await self.db.transaction(work)
        if endpoints != self.advertised:
            log.info("Advertising RPC endpoints {endpoints} as {eventloop}",
                     endpoints=", ".join(f"{address}:{port}" for address, port in endpoints),
                     eventloop=self.eventloop)
        self.advertised = endpoints
        return endpoints

    async def _tick(self) -> None:
        try:
            await self.refresh()
        except DatabaseUnavailable as error:
            log.warn("Could not advertise the RPC endpoints (will retry): {error}",
                     error=str(error))
        except Exception:
            log.failure("Could not advertise the RPC endpoints (will retry)")

    def startService(self) -> None:
        super().startService()
        loop = LoopingCall(lambda: ensureDeferred(self._tick()))
        loop.clock = self.clock
        self._loop = loop
        self._done = loop.start(self.interval, now=True)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

        async def withdraw() -> None:
            try:
                deferred = Deferred.fromCoroutine(self.db.transaction(
                    lambda tx: eventloops.withdraw(tx, self.eventloop)))
                await deferred.addTimeout(WITHDRAW_TIMEOUT, self.clock)
            except Exception as error:  # stale rows are pruned by the other processes
                log.warn("Could not withdraw the RPC endpoints: {error}",
                         error=f"{type(error).__name__}: {error}")

        return ensureDeferred(withdraw())


async def live_eventloops(db: Database, stale_after: float = STALE_AFTER) -> dict[str, Any]:
    """The body of ``GET /MAAS/rpc/``."""
    found = await db.transaction(lambda tx: eventloops.live(tx, stale_after))
    return {"eventloops": {name: [[address, port] for address, port in endpoints]
                           for name, endpoints in found.items()}}


def make_rpc_view(db: Database) -> Callable[[Request, str], Awaitable[Response]]:
    """The ``serve`` of the ``/MAAS/rpc/`` route (anonymous, GET or HEAD)."""

    async def serve(request: Request, rest: str) -> Response:
        if rest not in ("", "/"):
            return Response.text(f"Not found: {request.path.decode('latin-1')}", 404)
        if request.method not in (b"GET", b"HEAD"):
            return Response(b"Method not allowed; use GET.", 405,
                            headers={"Allow": "GET, HEAD"})
        try:
            return Response.json(await live_eventloops(db))
        except DatabaseUnavailable as error:
            log.warn("Database unavailable: {error}", error=str(error))
            # 1.8's clusters treat a 503 like "no event loops yet".
            return Response.text("The MAAS database is unavailable; try again shortly.", 503)

    return serve
