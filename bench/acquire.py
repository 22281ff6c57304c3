"""
Concurrent acquires: 50 clients acquiring from 1,000 READY nodes at once.

    .venv/bin/python bench/acquire.py [--nodes 1000] [--clients 50]

Each client (a thread of this process, each with its own HTTP connection)
calls ``nodes op=acquire`` until the region answers 409.  Prints acquires per
second and verifies that no node was handed out twice and every node was
handed out once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_region, machine_description, seed_nodes
from tests.maasclient import MAASClient

READY = 4


def acquire_until_empty(base_url: str, key: str) -> tuple[list[str], list[float]]:
    client = MAASClient(base_url, key)
    got, latencies = [], []
    while True:
        started = time.perf_counter()
        response = client.post("nodes/", "acquire")
        latencies.append(time.perf_counter() - started)
        if response.status_code == 409:
            return got, latencies
        if response.status_code != 200:
            raise RuntimeError(f"acquire failed: {response.status_code} {response.text}")
        got.append(response.json()["system_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    with bench_region() as (region, admin, url):
        seed_nodes(url, args.nodes, READY)
        key = admin.api_key
        assert key is not None
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(lambda _: acquire_until_empty(region.url, key),
                                    range(args.clients)))
        elapsed = time.perf_counter() - started
    handed_out = [sid for got, _ in results for sid in got]
    latencies = sorted(lat for _, lats in results for lat in lats)
    duplicates = [sid for sid, n in Counter(handed_out).items() if n > 1]
    print(f"{args.clients} clients acquired {len(handed_out)} of {args.nodes} nodes "
          f"in {elapsed:.2f} s: {len(handed_out) / elapsed:.0f} acquires/s")
    print(f"latency per acquire: median {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms")
    print(f"nodes handed out twice: {len(duplicates)}; nodes never handed out: "
          f"{args.nodes - len(set(handed_out))}")
    if duplicates or len(set(handed_out)) != args.nodes:
        sys.exit(1)


if __name__ == "__main__":
    main()
