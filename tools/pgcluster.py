"""
A private PostgreSQL cluster for development and tests.

``make run`` keeps one under ``.run/pg``; the test session makes one in a
temporary directory.  The cluster listens only on a unix socket inside its own
directory, so it never collides with another PostgreSQL on the machine.

When invoked as root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` user
(PostgreSQL refuses to run as root).  If the ``postgres`` user cannot reach the
requested directory (a checkout under ``/root``, say), the cluster lives in a
directory under ``/tmp`` and the requested directory holds a symlink to it.

Usage::

    python tools/pgcluster.py start DIR     # prints the libpq URL of database "maas"
    python tools/pgcluster.py stop DIR
    python tools/pgcluster.py url DIR

This module runs outside any reactor (it is a development tool), so it uses
``subprocess`` directly.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

PORT = 5432
SUPERUSER = "postgres"


class ClusterError(Exception):
    """The private cluster could not be set up or started."""


def find_bindir() -> Path:
    """Return the directory holding ``initdb`` and ``pg_ctl``."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if os.access(os.path.join(candidate, "initdb"), os.X_OK):
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise ClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; "
        "install the postgresql package (make installs it when run as root)."
    )


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_owner(argv: list[str]) -> list[str]:
    """Prefix argv so that it runs as the postgres user when we are root."""
    if _is_root():
        return ["runuser", "-u", SUPERUSER, "--", *argv]
    return argv


def _postgres_can_use(path: Path) -> bool:
    """True if the postgres user can traverse every parent of path."""
    if not _is_root():
        return True
    probe = subprocess.run(
        _as_owner(["test", "-x", str(path.parent)]), check=False, capture_output=True
    )
    return probe.returncode == 0


class PrivateCluster:
    """A PostgreSQL cluster in a directory of our own, reached by unix socket."""

    def __init__(self, directory: str | os.PathLike[str], port: int = PORT) -> None:
        self.requested = Path(directory).absolute()
        self.port = port

    @property
    def root(self) -> Path:
        """The real directory of the cluster (following the /tmp fallback link)."""
        return self.requested.resolve() if self.requested.is_symlink() else self.requested

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socketdir(self) -> Path:
        return self.root

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def url(self, dbname: str = "maas") -> str:
        host = quote(str(self.socketdir), safe="")
        return f"postgresql:///{dbname}?host={host}&port={self.port}&user={SUPERUSER}"

    def _prepare_root(self) -> None:
        if self.requested.exists() or self.requested.is_symlink():
            return
        self.requested.parent.mkdir(parents=True, exist_ok=True)
        if _postgres_can_use(self.requested):
            self.requested.mkdir()
        else:
            real = Path(tempfile.mkdtemp(prefix="maas-pg-"))
            self.requested.symlink_to(real)
        if _is_root():
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            os.chmod(self.root, 0o755)

    def init(self) -> None:
        """Create the cluster unless it exists already."""
        self._prepare_root()
        if (self.datadir / "PG_VERSION").exists():
            return
        bindir = find_bindir()
        argv = [
            str(bindir / "initdb"), "-D", str(self.datadir), "-A", "trust",
            "-U", SUPERUSER, "-E", "UTF8", "--no-sync", "--locale=C.UTF-8",
        ]
        result = subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ClusterError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def is_running(self) -> bool:
        bindir = find_bindir()
        result = subprocess.run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(self.datadir), "status"]),
            capture_output=True, check=False,
        )
        return result.returncode == 0

    def start(self) -> None:
        """Initialise if needed and start the server (a no-op when running)."""
        self.init()
        if self.is_running():
            return
        bindir = find_bindir()
        options = (
            f"-k {self.socketdir} -c listen_addresses= -p {self.port} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        argv = [
            str(bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
            "-w", "-t", "60", "-o", options, "start",
        ]
        result = subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise ClusterError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n{log}")

    def stop(self) -> None:
        if not (self.datadir / "PG_VERSION").exists():
            return
        bindir = find_bindir()
        subprocess.run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast",
                       "-w", "stop"]),
            capture_output=True, check=False,
        )

    def createdb(self, dbname: str) -> str:
        """Create database dbname if missing; return its URL."""
        bindir = find_bindir()
        exists = subprocess.run(
            [str(bindir / "psql"), "-h", str(self.socketdir), "-p", str(self.port),
             "-U", SUPERUSER, "-d", "postgres", "-tAc",
             f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"],
            capture_output=True, text=True, check=False,
        )
        if exists.returncode != 0:
            raise ClusterError(f"psql failed: {exists.stderr}")
        if exists.stdout.strip() != "1":
            for attempt in range(20):
                created = subprocess.run(
                    [str(bindir / "createdb"), "-h", str(self.socketdir), "-p", str(self.port),
                     "-U", SUPERUSER, dbname],
                    capture_output=True, text=True, check=False,
                )
                if created.returncode == 0:
                    break
                if attempt == 19:
                    raise ClusterError(f"createdb failed: {created.stderr}")
                time.sleep(0.1)
        return self.url(dbname)

    def destroy(self) -> None:
        """Stop the server and remove every file of the cluster."""
        self.stop()
        root = self.root
        if self.requested.is_symlink():
            self.requested.unlink()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"start", "stop", "url"}:
        print("usage: pgcluster.py start|stop|url DIR", file=sys.stderr)
        return 2
    command, directory = argv
    cluster = PrivateCluster(directory)
    try:
        if command == "start":
            cluster.start()
            print(cluster.createdb("maas"))
        elif command == "stop":
            cluster.stop()
        else:
            print(cluster.url())
    except ClusterError as error:
        print(f"pgcluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
