"""
The region's connections to PostgreSQL: a small pool of txpostgres connections.

txpostgres's own ``ConnectionPool`` never reconnects and falls back to the
global reactor; this one is given its reactor, sets per-connection timeouts
(``statement_timeout``, ``lock_timeout``, ``connect_timeout``), replaces a
connection that died, and runs each unit of work in one transaction that is
retried on serialization failures and deadlocks.  No threads are involved:
psycopg2's asynchronous mode is driven by the reactor.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg2
import psycopg2.errors
from twisted.internet.defer import Deferred, DeferredSemaphore
from twisted.internet.task import deferLater
from twisted.logger import Logger
from txpostgres import txpostgres

T = TypeVar("T")

#: SQLSTATEs worth retrying a whole transaction for.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached; the request may be retried later."""


class Tx:
    """
    One transaction's cursor, with awaitable helpers.

    Every method runs one statement.  Parameters use psycopg2's ``%(name)s``
    or ``%s`` placeholders; never format values into SQL.
    """

    def __init__(self, cursor: txpostgres.Cursor) -> None:
        self._cursor = cursor

    async def execute(self, sql: str, params: Any = None) -> int:
        """Run a statement; return the number of rows it touched."""
        await self._cursor.execute(sql, params)
        return int(self._cursor.rowcount)

    async def fetchall(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        await self._cursor.execute(sql, params)
        return list(self._cursor.fetchall())

    async def fetchone(self, sql: str, params: Any = None) -> tuple[Any, ...] | None:
        await self._cursor.execute(sql, params)
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    async def fetchval(self, sql: str, params: Any = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def fetchcol(self, sql: str, params: Any = None) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in await self.fetchall(sql, params)]

    async def fetchdicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        await self._cursor.execute(sql, params)
        names = [column[0] for column in self._cursor.description]
        return [dict(zip(names, row, strict=True)) for row in self._cursor.fetchall()]


class Database:
    """
    A fixed-size pool of asynchronous PostgreSQL connections.

    :param reactor: the reactor that drives the connections and times retries.
    :param dsn: a libpq connection string or URL.
    :param size: how many connections to keep.
    :param statement_timeout: seconds before PostgreSQL cancels a statement.
    :param lock_timeout: seconds a statement may wait for a lock.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        dsn: str,
        *,
        size: int = 8,
        application_name: str = "maas-region",
        statement_timeout: float = 30.0,
        lock_timeout: float = 5.0,
        connect_timeout: int = 10,
    ) -> None:
        self.reactor = reactor
        self.dsn = dsn
        self.size = size
        self._options = (
            f"-c statement_timeout={int(statement_timeout * 1000)} "
            f"-c lock_timeout={int(lock_timeout * 1000)} "
            f"-c application_name={application_name} -c TimeZone=UTC"
        )
        self._connect_timeout = connect_timeout
        self._idle: list[txpostgres.Connection] = []
        self._semaphore = DeferredSemaphore(size)
        self._all: set[txpostgres.Connection] = set()
        self._closed = False

    async def _connect(self) -> txpostgres.Connection:
        connection = txpostgres.Connection(reactor=self.reactor)
        try:
            await connection.connect(
                self.dsn, options=self._options, connect_timeout=self._connect_timeout
            )
        except psycopg2.Error as error:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {error}".strip()) from error
        self._all.add(connection)
        return connection

    async def start(self) -> Database:
        """Open one connection now (failing loudly if the database is unreachable)."""
        self._idle.append(await self._connect())
        return self

    def close(self) -> None:
        self._closed = True
        for connection in list(self._all):
            self._discard(connection)

    def _discard(self, connection: txpostgres.Connection) -> None:
        self._all.discard(connection)
        try:
            connection.close()
        except Exception:
            self.log.debug("Closing a broken connection failed")

    @staticmethod
    def _is_dead(connection: txpostgres.Connection) -> bool:
        raw = connection._connection  # txpostgres exposes no public accessor
        return raw is None or bool(raw.closed)

    async def _checkout(self) -> txpostgres.Connection:
        while self._idle:
            connection = self._idle.pop()
            if not self._is_dead(connection):
                return connection
            self._discard(connection)
        return await self._connect()

    def _checkin(self, connection: txpostgres.Connection) -> None:
        if self._closed or self._is_dead(connection):
            self._discard(connection)
        else:
            self._idle.append(connection)

    async def _run_once(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        await self._semaphore.acquire()
        try:
            connection = await self._checkout()
            try:
                result: T = await connection.runInteraction(
                    lambda cursor: Deferred.fromCoroutine(work(Tx(cursor)))
                )
                return result
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                sqlstate = getattr(error, "pgcode", None)
                if sqlstate in RETRYABLE_SQLSTATES or sqlstate == "57014":
                    raise
                if self._is_dead(connection):
                    raise DatabaseUnavailable(
                        f"lost the connection to PostgreSQL: {error}") from error
                raise
            except txpostgres.RollbackFailed as error:
                self._discard(connection)
                raise DatabaseUnavailable("a transaction could not be rolled back") from error
            finally:
                self._checkin(connection)
        finally:
            self._semaphore.release()

    async def transaction(
        self, work: Callable[[Tx], Awaitable[T]], *, retries: int = 5
    ) -> T:
        """
        Run ``work(tx)`` in one transaction; commit if it returns, roll back if it raises.

        Serialization failures and deadlocks (SQLSTATE 40001/40P01) restart the
        whole unit of work after a short jittered pause, up to ``retries`` times.
        Call this only around the outermost unit of work.
        """
        attempt = 0
        while True:
            try:
                return await self._run_once(work)
            except psycopg2.Error as error:
                if getattr(error, "pgcode", None) not in RETRYABLE_SQLSTATES or attempt >= retries:
                    raise
                attempt += 1
                pause = random.uniform(0, 0.05 * 2**attempt)  # noqa: S311 - jitter, not crypto
                await deferLater(self.reactor, pause)

    async def fetchall(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one read-only statement in its own transaction."""
        return await self.transaction(lambda tx: tx.fetchall(sql, params))

    async def fetchval(self, sql: str, params: Any = None) -> Any:
        return await self.transaction(lambda tx: tx.fetchval(sql, params))

    async def execute_many(self, statements: Sequence[tuple[str, Any]]) -> None:
        """Run several statements in one transaction."""

        async def work(tx: Tx) -> None:
            for sql, params in statements:
                await tx.execute(sql, params)

        await self.transaction(work)

