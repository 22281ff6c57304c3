"""
Numbered plain-SQL migrations, applied in order and recorded.

Each file in ``region/db/migrations`` is named ``NNNN_<name>.sql``; it runs
in a transaction of its own and is recorded in ``schema_migrations``.  An
advisory lock keeps two ``migrate`` runs from interleaving, so running it
again (or twice at once) is harmless.
"""

from __future__ import annotations

import re
from importlib import resources

import attrs

from region.db.locks import Lock
from region.db.pool import Database, Tx

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_LEDGER = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""
APPLIED = "SELECT version FROM schema_migrations"
RECORD = "INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s)"
LOCK = "SELECT pg_advisory_xact_lock(%(lock)s)"


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every migration shipped with this version, in order."""
    found = []
    for entry in resources.files("region.db").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {versions}")
    return found


async def migrate(db: Database) -> list[Migration]:
    """Apply every migration not yet applied; return those applied now."""
    applied_now: list[Migration] = []
    for migration in available_migrations():

        async def apply(tx: Tx, migration: Migration = migration) -> bool:
            await tx.fetchval(LOCK, {"lock": int(Lock.MIGRATE)})
            await tx.execute(CREATE_LEDGER)
            if migration.version in set(await tx.fetchcol(APPLIED)):
                return False
            await tx.execute(migration.sql)
            await tx.execute(RECORD, {"version": migration.version, "name": migration.name})
            return True

        if await db.transaction(apply):
            applied_now.append(migration)
    return applied_now


async def pending_migrations(db: Database) -> list[Migration]:
    """Migrations this version ships that the database has not had."""

    async def read(tx: Tx) -> set[int]:
        exists = await tx.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        return set(await tx.fetchcol(APPLIED)) if exists else set()

    applied = await db.transaction(read)
    return [m for m in available_migrations() if m.version not in applied]
