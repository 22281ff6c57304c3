"""
The region daemon as a tree of services.

``make_service`` builds the tree without starting anything; ``main`` starts
it.  Children start one after another, each waiting for the previous one
(the web server must not answer before the database pool is open), and stop
in reverse order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from twisted.application.internet import StreamServerEndpointService, TimerService
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, ensureDeferred, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger

from region.api.auth import DatabaseCredentialStore, OAuthVerifier
from region.api.catalog import build_registry
from region.api.context import Services
from region.api.resource import APIDispatcher
from region.config import RegionConfig, endpoint_description, redact_url
from region.db import nonces
from region.db.locks import Lock
from region.db.migrate import pending_migrations
from region.db.pool import Database, Tx
from region.metadata.resource import MetadataResource
from region.nodeops import NodeOps
from region.rpc import service as rpc_service
from region.web import RegionRoot, make_site

log = Logger()


class StartupError(Exception):
    """The region cannot start; the message says why and what to do."""


class SequentialMultiService(MultiService):
    """A MultiService that starts children in order, waiting for each, and fails loudly."""

    def startService(self) -> Deferred[None]:
        Service.startService(self)

        async def start_all() -> None:
            for child in self:
                await maybeDeferred(child.startService)

        return ensureDeferred(start_all())

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)

        async def stop_all() -> None:
            for child in reversed(list(self)):
                if child.running:
                    try:
                        await maybeDeferred(child.stopService)
                    except Exception:
                        log.failure("Stopping {name} failed", name=child.name)

        return ensureDeferred(stop_all())


class DatabaseService(Service):
    """Opens the pool and checks the schema is current before anything else runs."""

    def __init__(self, db: Database, url: str) -> None:
        self.db = db
        self.url = url

    def startService(self) -> Deferred[None]:
        Service.startService(self)

        async def start() -> None:
            try:
                await self.db.start()
            except Exception as error:
                raise StartupError(
                    f"Cannot connect to the database at {redact_url(self.url)}: {error}") from error
            pending = await pending_migrations(self.db)
            if pending:
                raise StartupError(
                    f"The database has {len(pending)} pending migration(s); "
                    "run 'maas-region migrate' first.")
            log.info("Connected to PostgreSQL at {url}", url=redact_url(self.url))

        return ensureDeferred(start())

    def stopService(self) -> None:
        Service.stopService(self)
        self.db.close()


def periodic(name: str, interval: float, work: Callable[[], Awaitable[Any]],
             reactor: Any) -> TimerService:
    """A TimerService whose failures are logged, never fatal to the loop."""

    def tick() -> Deferred[None]:
        async def guarded() -> None:
            try:
                await work()
            except Exception:
                log.failure("Periodic task {name} failed; it will run again", name=name)

        return ensureDeferred(guarded())

    service = TimerService(interval, tick)
    service.clock = reactor
    service.setName(name)
    return service


def make_nonce_cleanup(db: Database, verifier: OAuthVerifier) -> Callable[[], Awaitable[int]]:
    async def cleanup() -> int:
        async def prune(tx: Tx) -> int:
            if not await tx.fetchval("SELECT pg_try_advisory_xact_lock(%s)",
                                     (int(Lock.NONCE_CLEANUP),)):
                return 0
            return await nonces.prune(tx, verifier.oldest_useful_stamp())

        return await db.transaction(prune)

    return cleanup


def make_service(config: RegionConfig, reactor: Any) -> MultiService:
    """Build the region's service tree (not started)."""
    db = Database(reactor, config.database_url, size=config.db_pool_size)
    registry = build_registry()
    services = Services(reactor=reactor, db=db, config=config, extras={"registry": registry})
    rpc = rpc_service.build(config, reactor, db, services.extras)
    services.extras.update(rpc.extras)  # "clusters", "power"
    services.extras["nodeops"] = NodeOps(db, rpc.region.power)
    verifier = OAuthVerifier(DatabaseCredentialStore(db), reactor)
    api = APIDispatcher(registry, services, verifier)
    metadata = MetadataResource(services, verifier)
    root = RegionRoot(api, registry.hash,
                      routes=[("/MAAS/metadata/", metadata.serve), rpc.route])

    top = SequentialMultiService()
    database = DatabaseService(db, config.database_url)
    database.setName("database")
    database.setServiceParent(top)

    web = StreamServerEndpointService(
        serverFromString(reactor, endpoint_description(*config.listen)), make_site(root))
    web.setName("web")
    web._raiseSynchronously = True
    web.setServiceParent(top)

    for part in rpc.services:  # "rpc" (cluster connections), then "rpc-advertise"
        part.setServiceParent(top)

    periodic("nonce-cleanup", 60.0, make_nonce_cleanup(db, verifier), reactor).setServiceParent(top)
    return top
