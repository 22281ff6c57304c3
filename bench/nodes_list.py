"""
``GET nodes/?op=list`` latency against the floor: PostgreSQL building the same JSON.

    .venv/bin/python bench/nodes_list.py [--nodes 1000] [--calls 20]

Creates N nodes (each with 2 MACs, 2 tags, 2 block devices), then measures
the full API call (OAuth, HTTP, JSON of every node) from a client process,
and in the same run the time PostgreSQL alone takes to build the same JSON
(``json_agg`` over the same rows, fetched by a plain psycopg2 client).
Targets (issue 3): the API within 3x the floor at 1,000 nodes; 10,000 nodes
in under 1.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_region, machine_description, seed_nodes, summary
from region.db.node_json import list_query

READY = 4


def measure_api(admin, calls: int) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    timings = []
    count = 0
    admin.get("nodes/", "list")  # warm up connections and caches
    for _ in range(calls):
        started = time.perf_counter()
        response = admin.get("nodes/", "list")
        body = response.json()
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
        count = len(body)
    return timings, count


def measure_floor(url: str, calls: int) -> list[float]:
    connection = psycopg2.connect(url)
    connection.autocommit = True
    query = list_query("(%(admin)s OR n.owner_id IS NULL OR n.owner_id = %(user_id)s)")
    timings = []
    with connection.cursor() as cursor:
        cursor.execute(query, {"admin": True, "user_id": None})
        for _ in range(calls):
            started = time.perf_counter()
            cursor.execute(query, {"admin": True, "user_id": None})
            cursor.fetchone()
            timings.append(time.perf_counter() - started)
    connection.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    with bench_region() as (_, admin, url):
        seed_nodes(url, args.nodes, READY)
        api, count = measure_api(admin, args.calls)
        floor = measure_floor(url, args.calls)
    print(f"nodes listed: {count} (each 2 MACs, 2 tags, 2 block devices); {args.calls} calls")
    print(f"API   GET nodes/?op=list : {summary(api)}")
    print(f"floor PostgreSQL json_agg: {summary(floor)}")
    ratio = statistics.median(api) / statistics.median(floor)
    print(f"ratio (median API / median floor): {ratio:.2f}x")


if __name__ == "__main__":
    main()
