"""Fixtures for the region's RPC side against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_twisted

from tests.conftest import Server, run_region_command


@pytest.fixture
def fresh_url(pg_server: Server) -> str:
    """A database of its own, migrated: its placeholder cluster ``master`` is untouched."""
    url = pg_server.create_database("maasrpc")
    run_region_command(url, "migrate")
    return url


@pytest_twisted.async_yield_fixture
async def fresh_db(fresh_url: str) -> AsyncIterator[object]:
    from twisted.internet import reactor

    from region.db.pool import Database

    database = Database(reactor, fresh_url, size=6)
    await database.start()
    yield database
    database.close()
