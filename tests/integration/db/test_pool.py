"""The connection pool against a real PostgreSQL: transactions, retries, reconnection."""

from __future__ import annotations

import psycopg2
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults

from region.db.migrate import available_migrations, migrate, pending_migrations
from region.db.pool import Database, DatabaseUnavailable, Tx

pytestmark = pytest.mark.integration


@pytest_twisted.ensureDeferred
async def test_work_is_committed(db: Database) -> None:
    """What a transaction wrote is visible afterwards."""
    await db.transaction(lambda tx: tx.execute(
        "CREATE TABLE IF NOT EXISTS scratch_commit (v integer)"))
    await db.transaction(lambda tx: tx.execute("INSERT INTO scratch_commit VALUES (42)"))
    assert 42 in await db.transaction(lambda tx: tx.fetchcol("SELECT v FROM scratch_commit"))


@pytest_twisted.ensureDeferred
async def test_an_exception_rolls_back(db: Database) -> None:
    """When the work raises, nothing it wrote survives."""
    await db.transaction(lambda tx: tx.execute(
        "CREATE TABLE IF NOT EXISTS scratch_rollback (v integer)"))

    async def fail(tx: Tx) -> None:
        await tx.execute("INSERT INTO scratch_rollback VALUES (1)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await db.transaction(fail)
    assert await db.fetchval("SELECT count(*) FROM scratch_rollback") == 0


@pytest_twisted.ensureDeferred
async def test_serialization_failures_are_retried(db: Database) -> None:
    """A unit of work that hits SQLSTATE 40001 runs again, then succeeds."""
    attempts = []

    async def flaky(tx: Tx) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            await tx.execute(
                "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
        return "done"

    assert await db.transaction(flaky) == "done"
    assert len(attempts) == 3


@pytest_twisted.ensureDeferred
async def test_other_errors_are_not_retried(db: Database) -> None:
    attempts = []

    async def broken(tx: Tx) -> None:
        attempts.append(1)
        await tx.execute("SELECT * FROM no_such_table")

    with pytest.raises(psycopg2.Error):
        await db.transaction(broken)
    assert len(attempts) == 1


@pytest_twisted.ensureDeferred
async def test_statements_run_concurrently_across_connections(db: Database) -> None:
    """Four sleeps of 0.3 s on a pool of four overlap instead of queueing."""
    pids = await gatherResults([
        Deferred.fromCoroutine(db.transaction(
            lambda tx: tx.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.3)")))
        for _ in range(4)
    ])
    assert len(set(pids)) == 4


@pytest_twisted.ensureDeferred
async def test_a_killed_connection_is_replaced(migrated_url: str) -> None:
    """After PostgreSQL drops a connection, the next transaction gets a fresh one."""
    database = Database(reactor, migrated_url, size=1)
    await database.start()
    try:
        victim = await database.fetchval("SELECT pg_backend_pid()")
        killer = psycopg2.connect(migrated_url)
        killer.autocommit = True
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (victim,))
        killer.close()
        with pytest.raises((DatabaseUnavailable, psycopg2.Error)):
            await database.fetchval("SELECT 1")
        assert await database.fetchval("SELECT pg_backend_pid()") != victim
    finally:
        database.close()


@pytest_twisted.ensureDeferred
async def test_unreachable_database_is_reported() -> None:
    database = Database(reactor, "postgresql:///nothing?host=/nonexistent-dir", size=1)
    with pytest.raises(DatabaseUnavailable):
        await database.start()


@pytest_twisted.ensureDeferred
async def test_migrations_are_recorded_and_idempotent(db: Database) -> None:
    """The test database is fully migrated, and migrating again applies nothing."""
    assert await pending_migrations(db) == []
    assert await migrate(db) == []
    versions = await db.transaction(
        lambda tx: tx.fetchcol("SELECT version FROM schema_migrations ORDER BY version"))
    assert versions == [m.version for m in available_migrations()]


@pytest_twisted.ensureDeferred
async def test_statement_timeout_is_set(db: Database) -> None:
    """Every connection carries a statement timeout (30 s) and a lock timeout (5 s)."""
    assert await db.fetchval("SHOW statement_timeout") == "30s"
    assert await db.fetchval("SHOW lock_timeout") == "5s"
