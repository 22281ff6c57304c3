"""
Shared set-up for benchmarks: a private PostgreSQL, a migrated database, an
admin, a real region process, and fast seeding of nodes.

Seeding writes rows with one set-based SQL statement per table (creating
10,000 nodes through the API would measure enlistment, not what the bench
is about); everything measured goes through the real region over HTTP.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import Server, run_region_command  # noqa: E402
from tests.maasclient import MAASClient, RegionProcess  # noqa: E402
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
