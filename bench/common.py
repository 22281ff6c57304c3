"""
Shared set-up for benchmarks: a private PostgreSQL, a migrated database, an
admin, a real region process, and fast seeding of nodes.

Seeding writes rows with one set-based SQL statement per table (creating
10,000 nodes through the API would measure enlistment, not what the bench
is about); everything measured goes through the real region over HTTP (or,
for the power benches, a real ``maas-cluster serve`` over AMP: see
:func:`bench_cluster` and :func:`seed_webhook_nodes`).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bmc_fleet import bmc_address  # noqa: E402
from region.rpc.clusterops import TRANSITIONAL_STATUSES  # noqa: E402
from tests.conftest import Server, run_region_command  # noqa: E402
from tests.e2e.cluster_fixtures import ClusterProcess, write_secret  # noqa: E402
from tests.maasclient import MAASClient, RegionProcess, free_port, stop_process  # noqa: E402
from tools.pgcluster import PrivateCluster  # noqa: E402

SEED_NODES = """
INSERT INTO nodes (system_id, hostname, nodegroup_id, status, architecture, cpu_count, memory,
                   power_type, power_state)
SELECT 'node-bench-' || lpad(i::text, 6, '0'), 'bench-' || i,
       (SELECT id FROM nodegroups ORDER BY id LIMIT 1), %(status)s, 'amd64/generic',
       1 + (i * 7) %% 64, 1024 * (1 + (i * 13) %% 256), 'ipmi', 'off'
  FROM generate_series(1, %(count)s) AS i
"""
SEED_MACS = """
INSERT INTO macaddresses (node_id, mac)
SELECT n.id, ('02:00:' || to_hex(n.id >> 16 & 255) || ':' || to_hex(n.id >> 8 & 255) || ':' ||
              to_hex(n.id & 255) || ':' || k)::macaddr
  FROM nodes n, (VALUES ('01'), ('02')) AS k(k)
 WHERE n.system_id LIKE 'node-bench-%'
"""
SEED_TAGS = """
INSERT INTO tags (name) VALUES ('bench-a'), ('bench-b'), ('bench-c') ON CONFLICT DO NOTHING;
INSERT INTO node_tags (node_id, tag_id)
SELECT n.id, t.id FROM nodes n JOIN tags t
    ON t.name IN ('bench-a', CASE WHEN n.id % 2 = 0 THEN 'bench-b' ELSE 'bench-c' END)
 WHERE n.system_id LIKE 'node-bench-%'
"""
SEED_DEVICES = """
INSERT INTO blockdevices (node_id, name, path, id_path, size, block_size, model, serial, tags)
SELECT n.id, d.name, '/dev/' || d.name, '/dev/disk/by-id/wwn-' || n.id || d.name,
       d.size, 512, 'BenchDisk', 'SN' || n.id || d.name, d.tags
  FROM nodes n,
       (VALUES ('sda', 500107862016, ARRAY['ssd']), ('sdb', 2000398934016, ARRAY['rotary']))
         AS d(name, size, tags)
 WHERE n.system_id LIKE 'node-bench-%'
"""
#: Nodes whose BMC is simulated by bench/bmc_fleet.py: a webhook per node, node
#: i (from 1) behind the i-th of ``urls`` (http://bmc_address(i - 1):port), in the
#: cluster's nodegroup, one in every ``every`` in a transitional status (COMMISSIONING or
#: DEPLOYING, alternately: they stay so, whatever the BMC says; a RELEASING
#: node seen off would become READY), the others READY or DEPLOYED.
SEED_WEBHOOK_NODES = """
INSERT INTO nodes (system_id, hostname, nodegroup_id, status, architecture, cpu_count, memory,
                   power_type, power_state, power_parameters)
SELECT 'node-bmc-' || lpad(i::text, 6, '0'), 'bmc-' || i,
       (SELECT id FROM nodegroups WHERE uuid = %(uuid)s),
       CASE WHEN %(every)s > 0 AND i %% %(every)s = 0
            THEN CASE WHEN (i / %(every)s) %% 2 = 0 THEN 1 ELSE 9 END
            WHEN i %% 2 = 0 THEN 4 ELSE 6 END,
       'amd64/generic', 4, 8192, 'webhook', 'unknown',
       jsonb_build_object(
           'power_query_uri', b.url || '/power/{system_id}',
           'power_on_uri', b.url || '/power/{system_id}/on',
           'power_off_uri', b.url || '/power/{system_id}/off')
  FROM unnest(%(urls)s::text[]) WITH ORDINALITY AS b(url, i)
"""
#: Ages of the power states of a nodegroup's nodes, in seconds: transitional
#: ones, the others, and all (the row whose first column is NULL).
POWER_AGES = """
SELECT n.status = ANY(%(transitional)s), count(*), count(n.power_state_updated),
       extract(epoch FROM max(now() - n.power_state_updated)),
       percentile_cont(0.95) WITHIN GROUP (
           ORDER BY extract(epoch FROM now() - n.power_state_updated)),
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM now() - n.power_state_updated)),
       count(*) FILTER (WHERE n.power_state = 'error')
  FROM nodes n JOIN nodegroups g ON g.id = n.nodegroup_id
 WHERE g.uuid = %(uuid)s
 GROUP BY ROLLUP (1)
"""


def machine_description() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        with open("/proc/meminfo") as stream:
            kib = int(stream.readline().split()[1])
            memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    model = ""
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip() + ", "
                    break
    except OSError:
        pass
    return f"{model}{cpus} cores{memory}, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


@contextmanager
def bench_region(prefix: str = "maasbench") -> Iterator[tuple[RegionProcess, MAASClient, str]]:
    """A migrated database with an admin and a running region; yields (region, admin, url)."""
    root = Path(tempfile.mkdtemp(prefix="maas-bench-"))
    os.chmod(root, 0o755)
    external = os.environ.get("MAAS_DATABASE_URL")
    cluster = None
    if external:
        from tests.conftest import with_dbname
        server = Server(with_dbname(external, "postgres"))
    else:
        cluster = PrivateCluster(root / "pg")
        cluster.start()
        server = Server(cluster.url("postgres"))
    url = server.create_database(prefix)
    region = None
    try:
        run_region_command(url, "migrate")
        run_region_command(url, "createadmin", "--username", "admin", "--password", "x",
                           "--email", "admin@example.com")
        region = RegionProcess.start(url, root / "region.log")
        yield region, region.client_for("admin"), url
    finally:
        if region is not None:
            region.stop()
        server.drop_all()
        if cluster is not None:
            cluster.destroy()


def seed_nodes(url: str, count: int, status: int) -> None:
    connection = psycopg2.connect(url)
    with connection, connection.cursor() as cursor:
        cursor.execute(SEED_NODES, {"count": count, "status": status})
        cursor.execute(SEED_MACS)
        cursor.execute(SEED_TAGS)
        cursor.execute(SEED_DEVICES)
        cursor.execute("ANALYZE")
    connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:8.1f} ms   "
            f"p95 {percentile(values, 0.95) * 1000:8.1f} ms   "
            f"min {min(values) * 1000:8.1f} ms")


# -- The power benches: a real cluster, webhook nodes, the cluster's usage ----------


@contextmanager
def bench_cluster(region: RegionProcess, name: str = "bench-cluster",
                  settings: dict[str, object] | None = None,
                  ) -> Iterator[ClusterProcess]:
    """
    A ``maas-cluster serve`` for region, with a config file of settings
    (``cluster.config``), ACCEPTED (the region's first cluster takes over its
    placeholder nodegroup); stopped on exit.
    """
    root = Path(region.log_path).parent
    secret_file = root / "secret"
    if not secret_file.exists():
        write_secret(region, secret_file)
    config = root / f"{name}.toml"
    config.write_text("".join(f"{key} = {value!r}\n".replace("'", '"')
                              for key, value in (settings or {}).items()))
    cluster = ClusterProcess.start(region, secret_file, root, name, config=config)
    try:
        cluster.wait_for("is ACCEPTED", timeout=60)
        yield cluster
    finally:
        cluster.stop()


def seed_webhook_nodes(url: str, uuid: str, count: int, port: int, *,
                       transitional: float = 0.0) -> int:
    """
    count webhook nodes in cluster uuid's nodegroup, each behind its own
    simulated BMC on port (bench/bmc_fleet.py), never queried; a share
    ``transitional`` of them COMMISSIONING or DEPLOYING.  Returns how many
    are transitional.
    """
    every = round(1 / transitional) if transitional > 0 else 0
    urls = [f"http://{bmc_address(index)}:{port}" for index in range(count)]
    connection = psycopg2.connect(url)
    with connection, connection.cursor() as cursor:
        cursor.execute(SEED_WEBHOOK_NODES, {"uuid": uuid, "urls": urls, "every": every})
        cursor.execute("ANALYZE nodes")
    connection.close()
    return count // every if every else 0


@attrs.frozen
class Ages:
    """How old the power states of some nodes are, in seconds (None: no node read)."""

    nodes: int = 0
    read: int = 0
    max: float | None = None
    p95: float | None = None
    p50: float | None = None
    errors: int = 0


def power_ages(cursor: Any, uuid: str) -> tuple[Ages, Ages, Ages]:
    """(all, routine, transitional) ages of cluster uuid's nodes, now."""
    cursor.execute(POWER_AGES, {"uuid": uuid, "transitional": list(TRANSITIONAL_STATUSES)})
    found = {row[0]: Ages(int(row[1]), int(row[2]),
                          *(None if v is None else float(v) for v in row[3:6]), int(row[6]))
             for row in cursor.fetchall()}
    return found.get(None, Ages()), found.get(False, Ages()), found.get(True, Ages())


@attrs.frozen
class Usage:
    """A process's CPU seconds (user + system) and memory, at one moment."""

    cpu: float
    rss_kib: int
    hwm_kib: int


def process_usage(pid: int) -> Usage:
    """From /proc: CPU seconds so far, resident memory now and at its peak."""
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    memory = {}
    with open(f"/proc/{pid}/status") as stream:
        for line in stream:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                memory[key] = int(value.split()[0])
    return Usage(cpu, memory.get("VmRSS", 0), memory.get("VmHWM", 0))


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


class FleetProcess:
    """bench/bmc_fleet.py run as a child process, for a bench (which runs no reactor)."""

    #: Talks to the fleet on loopback: never through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @classmethod
    def start(cls, log_path: Path, *, latency: float, failure_rate: float = 0.0,
              jitter: float = 0.0, port: int | None = None) -> FleetProcess:
        if port is None:
            port = free_port()
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, str(REPO / "bench" / "bmc_fleet.py"), "--port", str(port),
                 "--latency", str(latency), "--jitter", str(jitter),
                 "--failure-rate", str(failure_rate)],
                stdout=log, stderr=subprocess.STDOUT)
        fleet = cls(process, port, log_path)
        deadline = time.monotonic() + 30
        while True:
            try:
                fleet.stats()
                return fleet
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    fleet.stop()
                    raise RuntimeError(f"the BMC fleet did not start:\n"
                                       f"{log_path.read_text()[-2000:]}") from None
                time.sleep(0.1)

    def stats(self, *, reset: bool = False) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/stats" + ("?reset=1" if reset else "")
        with self.opener.open(url, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def stop(self) -> None:
        stop_process(self.process, 10)
