"""
Region RPC round trips per second (part 1), and the time to power-query
1,000 nodes through the real system (part 2).

    .venv/bin/python bench/rpc.py [--seconds 10] [--concurrency 32]
        [--part all|1|2] [--nodes 1000] [--latency 2.0]

**Part 1**, between a real ``maas-region serve`` and a cluster-side AMP peer
(this process) over loopback.  The peer does what a cluster does: it
authenticates the region and answers the region's challenge (shared-secret
HMAC), registers (RegisterV2), and then keeps ``--concurrency`` calls in
flight for ``--seconds``:

- ``Identify``: the smallest command (no database), the pure RPC round trip;
- ``GetClusterStatus``: a small command that reads PostgreSQL.

Target (issue 4): at least 5,000 round trips per second for a small command.

**Part 2**, with a region of its own, a real ``maas-cluster serve`` (default
settings) and ``bench/bmc_fleet.py``: ``--nodes`` webhook nodes, each behind
its own simulated BMC that answers after ``--latency`` seconds, are written
never queried (``power_state_updated`` NULL) into the cluster's nodegroup
with one SQL statement, and the clock runs from that commit until every one
has a ``power_state_updated``: the whole path, the region handing the nodes
out (ListNodePowerParameters), the cluster querying the BMCs (one request
per BMC, an adaptive number in flight) and reporting the states
(UpdateNodePowerStates), the region recording them.  Printed: the time,
nodes per second, and the concurrency achieved (the fleet's peak and mean
number of requests in flight, and the cluster's own limit).  Nothing goes
through the API: the power monitor is what queries nodes at this scale.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
import uuid
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import asyncioreactor

asyncioreactor.install(asyncio.new_event_loop())

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred, gatherResults  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402

from bench.bmc_fleet import raise_file_limit  # noqa: E402
from bench.common import (  # noqa: E402
    FleetProcess,
    bench_cluster,
    bench_region,
    load_average,
    machine_description,
    process_usage,
    seed_webhook_nodes,
)
from bench.power_monitor import summaries  # noqa: E402
from rpc.auth import authenticate_peer, read_secret  # noqa: E402
from rpc.client import RPCClient  # noqa: E402
from rpc.commands.common import Identify  # noqa: E402
from rpc.commands.region import GetClusterStatus, RegisterV2  # noqa: E402
from rpc.protocol import RPCProtocol  # noqa: E402
from tests.e2e.cluster_fixtures import write_secret  # noqa: E402


async def connect(port: int, secret: bytes, cluster_uuid: str) -> RPCProtocol:
    protocol = RPCProtocol(ident=cluster_uuid, secret=secret, name="bench-cluster")
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=10)
    await connectProtocol(endpoint, protocol)
    await authenticate_peer(protocol, secret, clock=reactor)
    return protocol


async def hammer(client: RPCClient, command: type, seconds: float, concurrency: int,
                 **kwargs: object) -> tuple[int, float]:
    deadline = time.perf_counter() + seconds
    done = [0]

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await client.call(command, **kwargs)
            done[0] += 1

    started = time.perf_counter()
    await gatherResults([Deferred.fromCoroutine(worker()) for _ in range(concurrency)])
    return done[0], time.perf_counter() - started


async def measure(port: int, secret: bytes, seconds: float, concurrency: int,
                  region_pid: int) -> None:
    cluster_uuid = str(uuid.uuid4())
    protocol = await connect(port, secret, cluster_uuid)
    client = RPCClient(protocol, reactor)
    answer = await client.call(RegisterV2, uuid=cluster_uuid, networks=[], url=None)
    print(f"registered as {cluster_uuid}: {answer.get('status')}")
    for command, kwargs in ((Identify, {}), (GetClusterStatus, {"uuid": cluster_uuid})):
        await hammer(client, command, 1.0, concurrency, **kwargs)  # warm up
        region_before, ours_before = process_usage(region_pid), process_usage(os.getpid())
        count, elapsed = await hammer(client, command, seconds, concurrency, **kwargs)
        region_cpu = process_usage(region_pid).cpu - region_before.cpu
        our_cpu = process_usage(os.getpid()).cpu - ours_before.cpu
        print(f"{command.__name__:<18} {count / elapsed:8.0f} round trips/s "
              f"({count} calls in {elapsed:.1f} s, {concurrency} in flight); CPU: region "
              f"{100 * region_cpu / elapsed:.0f}% of a core ({1e6 * region_cpu / count:.0f} us "
              f"a call), this client {100 * our_cpu / elapsed:.0f}%")
    protocol.transport.loseConnection()


def part_one(args: argparse.Namespace) -> None:
    with bench_region() as (region, _, _url):
        secret = read_secret(write_secret(region, Path(region.log_path).parent / "secret"))
        port = int(region.rpc_port)
        failure: list[BaseException] = []

        def run() -> None:
            d = Deferred.fromCoroutine(measure(port, secret, args.seconds, args.concurrency,
                                               region.process.pid))
            d.addErrback(lambda f: failure.append(f.value))
            d.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(run)
        reactor.run()
        if failure:
            raise failure[0]


#: Seconds between two summary lines of the cluster's power monitor in part 2.
SUMMARY_INTERVAL = 5


def part_two(args: argparse.Namespace) -> None:
    """Time to power-query args.nodes never-queried nodes (see the module docstring)."""
    raise_file_limit()
    print(f"part 2: power-query {args.nodes} nodes, one simulated BMC each, answering in "
          f"{args.latency:g} s; load average {load_average()}")
    with bench_region("maasbenchrpcpower") as (region, _, url):
        root = Path(region.log_path).parent
        fleet = FleetProcess.start(root / "fleet.log", latency=args.latency)
        try:
            with bench_cluster(region, settings={
                    "power_monitor_summary_interval": SUMMARY_INTERVAL}) as cluster:
                time.sleep(3)  # the monitor has listed once and found nothing
                fleet.stats(reset=True)
                before = process_usage(cluster.process.pid)
                connection = psycopg2.connect(url)
                connection.autocommit = True
                cursor = connection.cursor()
                seed_webhook_nodes(url, cluster.uuid, args.nodes, fleet.port)
                started = time.monotonic()
                first: float | None = None
                in_flight: list[int] = []
                while True:
                    cursor.execute("SELECT count(power_state_updated) FROM nodes")
                    read = int(cursor.fetchone()[0])
                    elapsed = time.monotonic() - started
                    if read and first is None:
                        first = elapsed
                    if read >= args.nodes:
                        break
                    if elapsed > 600:
                        raise RuntimeError(f"only {read} of {args.nodes} nodes read in 600 s")
                    in_flight.append(int(fleet.stats()["in_flight"]))
                    time.sleep(0.1)
                after = process_usage(cluster.process.pid)
                stats = fleet.stats()
                connection.close()
                lines = summaries(cluster.log_text())
        finally:
            fleet.stop()
    busy = [count for count in in_flight if count]
    floor = math.ceil(args.nodes / 256) * args.latency
    print(f"every node read after {elapsed:.1f} s (the first after {first or 0:.1f} s): "
          f"{args.nodes / elapsed:.0f} nodes/s")
    print(f"requests in flight at the fleet: peak {stats['peak_in_flight']}, mean "
          f"{sum(busy) / max(len(busy), 1):.0f} while any were; at most "
          f"{stats['max_in_flight_per_bmc']} at one BMC; {stats['requests']} requests "
          f"({stats['failed']} failed)")
    if lines:
        last = lines[-1]
        print(f"cluster: concurrency limit {last['limit']} (peak {last['peak']} in flight, "
              f"{last['cuts']} cuts), {last['listings']} listings, {last['batches']} report "
              f"batches (at its last summary line)")
    print(f"cluster CPU meanwhile: {(after.cpu - before.cpu) / elapsed:.0%} of one core; "
          f"RSS {after.rss_kib / 1024:.0f} MiB")
    print(f"for comparison: 256 in flight from the first second would take ~{floor:g} s; "
          f"1.8's 5 at a time, {args.nodes / 5 * args.latency:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--part", choices=("all", "1", "2"), default="all")
    parser.add_argument("--nodes", type=int, default=1000, help="part 2: nodes (and BMCs)")
    parser.add_argument("--latency", type=float, default=2.0,
                        help="part 2: seconds each simulated BMC takes to answer")
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    if args.part in ("all", "1"):
        part_one(args)
    if args.part in ("all", "2"):
        part_two(args)


if __name__ == "__main__":
    main()
