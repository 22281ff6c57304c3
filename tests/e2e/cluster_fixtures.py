"""
Helpers for e2e tests that run real ``maas-cluster`` processes beside a real region.

- :class:`ClusterProcess`: a ``maas-cluster serve`` child, its log in a file;
- :func:`own_region`: a ``maas-region serve`` with a database of its own (so
  the first cluster that registers takes over its ``master`` placeholder),
  an ``admin`` user, and the shared secret written for the clusters;
- :func:`region_fixtures`: the module-scoped fixtures of a test module whose
  clusters talk to such a region (its directory, the region, the secret file,
  an admin client);
- :func:`wait_until`: poll a condition with a deadline (from a test that
  may block: no reactor runs in it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, run_region_command
from tests.maasclient import REPO, MAASClient, RegionProcess, free_port, stop_process


class ClusterProcess:
    """A ``maas-cluster serve`` child process, its log in a file."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, state_dir: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.state_dir = state_dir

    @classmethod
    def start(cls, region: RegionProcess, secret_file: Path, root: Path, name: str,
              *extra: str, config: Path | None = None) -> ClusterProcess:
        state_dir = root / f"{name}-state"
        log_path = root / f"{name}.log"
        env = {key: value for key, value in os.environ.items()
               if key not in ("MAAS_URL", "CLUSTER_UUID", "MAAS_CLUSTER_CONFIG")}
        with open(log_path, "ab") as log:
            options = ["--config", str(config)] if config is not None else []
            process = subprocess.Popen(
                [sys.executable, "-m", "cluster.main", *options, "serve", "--region-url",
                 region.url + "/MAAS/", "--secret-file", str(secret_file), "--state-dir",
                 str(state_dir), "--name", name, *extra],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        return cls(process, log_path, state_dir)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until text appears count times in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_text().count(text) >= count:
                return
            if self.process.poll() is not None:
                raise AssertionError(f"maas-cluster exited ({self.process.returncode}):\n"
                                     f"{self.log_text()[-3000:]}")
            time.sleep(0.1)  # noqa: TID251 - a test waiting on another process
        raise AssertionError(f"{text!r} not seen {count} time(s) in:\n{self.log_text()[-3000:]}")

    @property
    def uuid(self) -> str:
        return (self.state_dir / "cluster_uuid").read_text().strip()

    def stop(self) -> int:
        return stop_process(self.process, 15)


@contextmanager
def own_region(pg_server: Server, root: Path, prefix: str) -> Iterator[RegionProcess]:
    """A running region on a new database named after prefix, with user admin/test;
    stopped on exit."""
    url = pg_server.create_database(prefix)
    run_region_command(url, "migrate")
    run_region_command(url, "createadmin", "--username", "admin", "--password", "test",
                       "--email", "admin@example.com")
    process = RegionProcess.start(url, root / "region.log", port=free_port())
    try:
        yield process
    finally:
        process.stop()


def write_secret(region: RegionProcess, path: Path) -> Path:
    """The region's shared secret, written to path for clusters (``--secret-file``)."""
    result = region.command("shared-secret", "--write", str(path))
    assert result.returncode == 0, result.stderr
    return path


def region_fixtures(directory: str, database: str) -> tuple[Any, Any, Any, Any]:
    """
    Module-scoped fixtures ``root`` (tmp_root/directory), ``cluster_region``
    (:func:`own_region` on database), ``secret_file`` (its shared secret) and
    ``admin`` (its admin's API client), for a test module to hold::

        root, cluster_region, secret_file, admin = region_fixtures("probes", "maasprobese2e")
    """

    @pytest.fixture(scope="module", name="root")
    def root_fixture(tmp_root: Path) -> Path:
        path = tmp_root / directory
        path.mkdir(exist_ok=True)
        return path

    @pytest.fixture(scope="module", name="cluster_region")
    def region_fixture(pg_server: Server, root: Path) -> Iterator[RegionProcess]:
        with own_region(pg_server, root, database) as region:
            yield region

    @pytest.fixture(scope="module", name="secret_file")
    def secret_fixture(cluster_region: RegionProcess, root: Path) -> Path:
        return write_secret(cluster_region, root / "secret")

    @pytest.fixture(scope="module", name="admin")
    def admin_fixture(cluster_region: RegionProcess) -> MAASClient:
        return MAASClient(cluster_region.url, cluster_region.api_key("admin"))

    return root_fixture, region_fixture, secret_fixture, admin_fixture


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # noqa: TID251 - a test waiting on other processes
