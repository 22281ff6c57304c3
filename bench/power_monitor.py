"""
How fresh the power monitor keeps every node's ``power_state``: a real region,
a real cluster, and a fleet of simulated BMCs on loopback.

    .venv/bin/python bench/power_monitor.py [--nodes 5000] [--seconds 300]
        [--latency 2.0] [--jitter 0] [--failure-rate 0.01] [--transitional 0.02]
        [--sample-every 2] [--set power_monitor_interval=2 ...]

    quick run: .venv/bin/python bench/power_monitor.py --nodes 1000 --seconds 60

Set-up: a private PostgreSQL and a migrated database, ``maas-region serve``,
``maas-cluster serve`` (ACCEPTED, with its default power monitor settings
unless ``--set`` changes one, and a summary line every 10 s), and
``bench/bmc_fleet.py`` in a process of its own (its CPU is not the
cluster's): N simulated BMCs, each a loopback address of its own
(``127.10.x.y``), answering an HTTP query after ``--latency`` seconds
(exactly, unless ``--jitter``), HTTP 503 at ``--failure-rate``.  N
``webhook`` nodes are then written with one SQL statement into the
cluster's nodegroup, each behind its own BMC, never queried;
``--transitional`` of them COMMISSIONING or DEPLOYING (statuses in which the
region re-reads the power every few seconds and which a power state does not
end; RELEASING would turn READY at the first "off").

Warm-up: until every node has been read once (printed: how long).  Then, for
``--seconds``, every ``--sample-every`` seconds, PostgreSQL is asked how old
each node's ``power_state_updated`` is (max, p95, p50: all nodes, and the
transitional ones apart), and the fleet how many requests are in flight.
At the end: the fleet's largest number of requests ever in flight at one BMC
address (whole run), its queries per second and peak in flight (window), the
cluster's and the region's CPU (share of one core, from /proc) and memory,
and the cluster's own totals (its "Power monitor totals" log line: region
calls per second, its concurrency limit).  The ages are sampled, so the true
maximum may be up to ``--sample-every`` seconds above the one printed.  An
age is counted from when the BMC answered (the cluster reports how old each
observation is); a failed query is an observation too (the node reads
``error`` until its next query), and so is a node skipped while its BMC rests
after failures (reported ``error`` again), by the monitor's design.

Target (issue: power monitor at scale): 5,000 nodes on one cluster whose BMCs
take 2 s to answer: every ``power_state`` at most 120 s old, at most one
request in flight per BMC address, transitional nodes at most ~10 s old.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bmc_fleet import add_fleet_arguments, raise_file_limit
from bench.common import (
    Ages,
    FleetProcess,
    bench_cluster,
    bench_region,
    load_average,
    machine_description,
    power_ages,
    process_usage,
    seed_webhook_nodes,
)

#: Seconds between two summary lines of the cluster's monitor (read by this bench).
SUMMARY_INTERVAL = 10
SUMMARY = re.compile(
    r"Power monitor totals: (?P<queried>\d+) queries, (?P<failed>\d+) failed, "
    r"(?P<rested>\d+) skipped \(BMC resting\), (?P<skipped>\d+) skipped \(power change\); "
    r"(?P<listings>\d+) listings, (?P<nodes>\d+) nodes handed out; (?P<states>\d+) states "
    r"reported in (?P<batches>\d+) batch\(es\) \+ (?P<singles>\d+) single call\(s\), "
    r"(?P<dropped>\d+) dropped; (?P<events>\d+) events; (?P<calls>\d+) region calls; "
    r"concurrency limit (?P<limit>\d+) \(peak (?P<peak>\d+) in flight, (?P<cuts>\d+) cuts\); "
    r"(?P<resting>\d+) BMCs resting")


def summaries(log_text: str) -> list[dict[str, int]]:
    """The cluster's summary lines so far, as numbers."""
    return [{key: int(value) for key, value in match.groupdict().items()}
            for match in SUMMARY.finditer(log_text)]


def setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    for kind in (int, float):
        try:
            return key.strip(), kind(value)
        except ValueError:
            pass
    return key.strip(), value


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:6.1f} s"


def describe(ages: Ages) -> str:
    return f"max {seconds(ages.max)}  p95 {seconds(ages.p95)}  p50 {seconds(ages.p50)}"


def warm_up(cursor: Any, uuid: str, nodes: int, timeout: float) -> tuple[float, float | None]:
    """Wait until every node has been read once; return how long it took, and the
    largest age of a transitional node read meanwhile."""
    started = time.monotonic()
    last_print = started
    moving_max: float | None = None
    while True:
        every, _, moving = power_ages(cursor, uuid)
        if moving.max is not None:
            moving_max = max(moving_max or 0.0, moving.max)
        now = time.monotonic()
        if every.read >= nodes:
            return now - started, moving_max
        if now - started > timeout:
            raise RuntimeError(f"only {every.read} of {nodes} nodes read after {timeout:g} s")
        if now - last_print >= 10:
            print(f"  warm-up: {every.read:5d} of {nodes} nodes read after "
                  f"{now - started:5.1f} s", flush=True)
            last_print = now
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="how long to sample once every node has been read")
    add_fleet_arguments(parser, failure_rate=0.01)
    parser.add_argument("--transitional", type=float, default=0.02,
                        help="share of nodes COMMISSIONING or DEPLOYING")
    parser.add_argument("--sample-every", type=float, default=2.0)
    parser.add_argument("--print-every", type=float, default=30.0)
    parser.add_argument("--warmup-timeout", type=float, default=900.0)
    parser.add_argument("--set", type=setting, action="append", default=[],
                        metavar="KEY=VALUE", help="a cluster setting (cluster.config)")
    args = parser.parse_args()
    files = raise_file_limit()
    print(f"machine: {machine_description()}")
    print(f"load average at start: {load_average()}; open files allowed: {files}")
    settings: dict[str, object] = {"power_monitor_summary_interval": SUMMARY_INTERVAL}
    settings.update(dict(args.set))
    with bench_region("maasbenchpower") as (region, _, url):
        root = Path(region.log_path).parent
        fleet = FleetProcess.start(root / "fleet.log", latency=args.latency,
                                   jitter=args.jitter, failure_rate=args.failure_rate)
        try:
            with bench_cluster(region, settings=settings) as cluster:
                result = run(args, url, fleet, cluster, region)
        finally:
            fleet.stop()
        print(f"(logs kept in {root})")
    report(args, settings, result)


def run(args: argparse.Namespace, url: str, fleet: FleetProcess, cluster: Any,
        region: Any) -> dict[str, Any]:
    uuid = cluster.uuid
    cluster_pid, region_pid = cluster.process.pid, region.process.pid
    at_seed = process_usage(cluster_pid)
    transitional = seed_webhook_nodes(url, uuid, args.nodes, fleet.port,
                                      transitional=args.transitional)
    print(f"seeded {args.nodes} webhook nodes ({transitional} transitional), one BMC each; "
          f"BMCs answer in {args.latency:g} s (jitter {args.jitter:g}), "
          f"{args.failure_rate:.1%} fail")
    connection = psycopg2.connect(url)
    connection.autocommit = True
    cursor = connection.cursor()
    warm, warm_moving = warm_up(cursor, uuid, args.nodes, args.warmup_timeout)
    after_warm = process_usage(cluster_pid)
    print(f"warm-up: every node read once after {warm:.1f} s "
          f"({args.nodes / warm:.0f} nodes/s); cluster CPU meanwhile "
          f"{(after_warm.cpu - at_seed.cpu) / warm:.0%} of one core", flush=True)

    fleet.stats(reset=True)
    start_summaries = len(summaries(cluster.log_text()))
    cluster_start, region_start = after_warm, process_usage(region_pid)
    fleet_cpu_start = process_usage(fleet.process.pid).cpu
    started = time.monotonic()
    samples: list[tuple[float, Ages, Ages, int]] = []
    next_print = started + args.print_every
    print(f"sampling for {args.seconds:g} s, every {args.sample_every:g} s "
          "(power_state ages: all nodes | transitional ones; requests in flight at the fleet)")
    while True:
        now = time.monotonic()
        if now - started >= args.seconds:
            break
        every, _, moving = power_ages(cursor, uuid)
        in_flight = int(fleet.stats()["in_flight"])
        samples.append((now - started, every, moving, in_flight))
        if now >= next_print:
            print(f"  {now - started:5.0f} s  all: {describe(every)} | transitional: "
                  f"max {seconds(moving.max)} p95 {seconds(moving.p95)} | "
                  f"{in_flight:3d} in flight, {every.errors} in error", flush=True)
            next_print += args.print_every
        time.sleep(max(0.0, args.sample_every - (time.monotonic() - now)))
    elapsed = time.monotonic() - started
    cluster_end, region_end = process_usage(cluster_pid), process_usage(region_pid)
    fleet_cpu = process_usage(fleet.process.pid).cpu - fleet_cpu_start
    fleet_stats = fleet.stats()
    lines = summaries(cluster.log_text())
    connection.close()
    return {"transitional": transitional, "warm": warm,
            "warm_moving": warm_moving, "elapsed": elapsed,
            "samples": samples, "fleet": fleet_stats, "fleet_cpu": fleet_cpu,
            "cluster": (cluster_start, cluster_end), "region": (region_start, region_end),
            "summaries": (lines, start_summaries), "load": load_average()}


def report(args: argparse.Namespace, settings: dict[str, object],
           result: dict[str, Any]) -> None:
    samples = result["samples"]
    elapsed = result["elapsed"]
    fleet = result["fleet"]
    every = [s[1] for s in samples]
    moving = [s[2] for s in samples]
    in_flight = [s[3] for s in samples]

    def worst(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return max(known) if known else None

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.fmean(known) if known else None

    max_all = worst([a.max for a in every])
    over = sum(1 for a in every if a.max is not None and a.max > 120)
    cluster_start, cluster_end = result["cluster"]
    region_start, region_end = result["region"]
    lines, first = result["summaries"]
    window = lines[first:]
    monitor = ""
    if len(window) >= 2:
        a, b = window[0], window[-1]
        span = (len(window) - 1) * SUMMARY_INTERVAL
        monitor = (f"{(b['calls'] - a['calls']) / span:.1f} region calls/s "
                   f"({(b['listings'] - a['listings']) / span:.1f} listings/s, "
                   f"{(b['batches'] + b['singles'] - a['batches'] - a['singles']) / span:.1f} "
                   f"report calls/s, {(b['events'] - a['events']) / span:.2f} events/s) "
                   f"for {(b['queried'] - a['queried']) / span:.0f} queries/s")
    last = lines[-1] if lines else None
    transitional = result["transitional"]
    print()
    print(f"machine: {machine_description()}")
    print(f"load average at the end: {result['load']} (1, 5, 15 min; 2 cores: anything above "
          "the cluster + region + fleet + PostgreSQL is someone else)")
    print(f"run: {args.nodes} nodes / {args.nodes} BMCs ({transitional} transitional), "
          f"latency {args.latency:g} s (jitter {args.jitter:g}), {args.failure_rate:.1%} of "
          f"answers HTTP 503; "
          f"cluster settings {settings}")
    print(f"warm-up (every node read once, from seeding): {result['warm']:.1f} s, "
          f"transitional nodes meanwhile at most {seconds(result['warm_moving']).strip()} "
          f"old (once read); then sampled {len(samples)} times over {elapsed:.0f} s")
    rows = [
        ("power_state age, all nodes: max", seconds(max_all), "<= 120 s"),
        ("  ... p95 (worst sample / mean)",
         f"{seconds(worst([a.p95 for a in every]))} / {seconds(mean([a.p95 for a in every]))}",
         ""),
        ("  ... p50 (mean)", seconds(mean([a.p50 for a in every])), ""),
        ("  samples with max over 120 s", f"{over} of {len(samples)}", "0"),
        (f"transitional ({transitional}): max", seconds(worst([a.max for a in moving])),
         "~10 s"),
        ("  ... p95 (worst sample / mean)",
         f"{seconds(worst([a.p95 for a in moving]))} / "
         f"{seconds(mean([a.p95 for a in moving]))}", ""),
        ("max requests in flight at one BMC", str(fleet["max_in_flight_per_bmc"]),
         "<= 1 (whole run)"),
        ("BMCs that ever had 2+ in flight", str(fleet["bmcs_with_more_than_one_in_flight"]),
         "0"),
        ("BMC queries/s (fleet; 503s)",
         f"{fleet['requests'] / max(fleet['window_seconds'], 1e-9):.1f} "
         f"({fleet['failed']} failed)", f"{args.nodes / 60:.0f}/s = each node once a minute"),
        ("requests in flight (fleet): mean / peak",
         f"{statistics.fmean(in_flight):.0f} / {fleet['peak_in_flight']}", "1.8: 5"),
        ("nodes in error (last sample)", str(every[-1].errors if every else "-"), ""),
        ("cluster CPU, share of one core",
         f"{(cluster_end.cpu - cluster_start.cpu) / elapsed:.1%}", ""),
        ("cluster RSS now / peak",
         f"{cluster_end.rss_kib / 1024:.0f} / {cluster_end.hwm_kib / 1024:.0f} MiB", ""),
        ("region CPU, share of one core",
         f"{(region_end.cpu - region_start.cpu) / elapsed:.1%}", ""),
        ("region RSS now", f"{region_end.rss_kib / 1024:.0f} MiB", ""),
        ("fleet CPU (not the cluster's)", f"{result['fleet_cpu'] / elapsed:.1%}", ""),
    ]
    if last is not None:
        rows.append(("cluster concurrency limit (end, cuts)",
                     f"{last['limit']} (peak {last['peak']}, {last['cuts']} cuts)", "1.8: 5"))
        rows.append(("BMCs resting (end)", str(last["resting"]), ""))
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'figure':<{width}}{'this run':<30}target")
    for name, value, target in rows:
        print(f"{name:<{width}}{value:<30}{target}")
    if monitor:
        print(f"cluster -> region (window): {monitor}")
    print("for comparison: MAAS 1.8 listed every 15 s, queried 5 at a time per cluster, "
          "refreshed a node every 5 min, and fell behind above ~600 nodes per cluster; "
          "Ironic recommends ~300 nodes per conductor with a 60 s power sync interval.")


if __name__ == "__main__":
    main()
