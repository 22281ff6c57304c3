"""
Session fixtures: a real PostgreSQL, migrated databases, and real region processes.

The session starts a private PostgreSQL cluster in a temporary directory
(or uses the server ``MAAS_DATABASE_URL`` points at, creating its own
databases there).  Unit tests need none of this; integration tests ask for
``db`` (a pool on the test reactor), e2e tests for ``region`` (a real
``maas-region serve`` process and an admin client).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
import pytest_twisted

from tests.maasclient import MAASClient, RegionProcess
from tools.pgcluster import PrivateCluster

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--keep-tempdir", action="store_true",
                     help="keep the test PostgreSQL cluster and daemon logs")


@pytest.fixture(scope="session")
def tmp_root(request: pytest.FixtureRequest) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="maas-tests-"))
    os.chmod(root, 0o755)
    yield root
    if not request.config.getoption("--keep-tempdir"):
        shutil.rmtree(root, ignore_errors=True)


def with_dbname(url: str, dbname: str) -> str:
    """The libpq URL url with its database replaced (urlunsplit loses an empty host)."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{dbname}{query}"


class Server:
    """Where test databases are created: the private cluster or an external server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def url_for(self, dbname: str) -> str:
        return with_dbname(self.admin_url, dbname)

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        connection = psycopg2.connect(self.admin_url)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        self.created.append(name)
        return self.url_for(name)

    def drop_all(self) -> None:
        connection = psycopg2.connect(self.admin_url)
        connection.autocommit = True
        with connection.cursor() as cursor:
            for name in self.created:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


@pytest.fixture(scope="session")
def pg_server(tmp_root: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    external = os.environ.get("MAAS_DATABASE_URL")
    if external:
        server = Server(with_dbname(external, "postgres"))
        yield server
        server.drop_all()
        return
    cluster = PrivateCluster(tmp_root / "pg", port=5432)
    cluster.start()
    yield Server(cluster.url("postgres"))
    if not request.config.getoption("--keep-tempdir"):
        cluster.destroy()
    else:
        cluster.stop()


def run_region_command(database_url: str, *args: str, input_text: str | None = None,
                       check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``maas-region ARGS`` against database_url, as a user would."""
    env = dict(os.environ, MAAS_DATABASE_URL=database_url)
    result = subprocess.run(
        [sys.executable, "-m", "region.main", *args], env=env, input=input_text,
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"maas-region {' '.join(args)} failed:\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def migrated_url(pg_server: Server) -> str:
    """A fresh, migrated database for in-process integration tests."""
    url = pg_server.create_database("maastest")
    run_region_command(url, "migrate")
    return url


@pytest_twisted.async_yield_fixture
async def db(migrated_url: str) -> AsyncIterator[object]:
    """A connection pool on the test reactor, for tests of region/db and handlers."""
    from twisted.internet import reactor

    from region.db.pool import Database

    database = Database(reactor, migrated_url, size=4)
    await database.start()
    yield database
    database.close()


@pytest.fixture(scope="session")
def region(pg_server: Server, tmp_root: Path) -> Iterator[RegionProcess]:
    """A real ``maas-region serve`` on loopback with its own database and an admin."""
    url = pg_server.create_database("maase2e")
    run_region_command(url, "migrate")
    run_region_command(url, "createadmin", "--username", "admin", "--password", "test",
                       "--email", "admin@example.com")
    process = RegionProcess.start(url, tmp_root / "region.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def admin(region: RegionProcess) -> MAASClient:
    return region.client_for("admin")
