"""
A fleet of simulated BMCs on loopback, for the power benchmarks.

    .venv/bin/python bench/bmc_fleet.py --port PORT [--latency 2.0] [--jitter 0.0]
        [--failure-rate 0.0]

One process, one Twisted HTTP server listening on ``0.0.0.0:PORT``.  Every
loopback address answers (all of 127/8 is loopback on Linux), so each
simulated BMC is an address of its own (:func:`bmc_address`: ``127.10.x.y``)
and the cluster, which keeps at most one request in flight per BMC
(``cluster.power.bmc.bmc_key``: scheme, host and port of a webhook's query
URL), sees thousands of distinct BMCs.

- ``GET /power/<system_id>`` answers ``on`` or ``off`` (fixed per node: a
  hash of its system_id) after ``--latency`` seconds (a timer, never a
  blocking wait), give or take up to ``--jitter`` of it (0.25: 1.5 to 2.5 s
  for 2 s, uniformly; default 0: every answer exactly on time); with
  probability ``--failure-rate`` the answer, as slow, is HTTP 503 instead
  (the webhook driver's retryable failure).
- ``GET /stats`` answers JSON: requests (total, failed), requests in flight
  now and at most (overall, and per BMC address: the largest count any one
  address ever had at once, and how many addresses ever had more than one),
  and how many distinct addresses were asked.  ``GET /stats?reset=1``
  answers the same, then starts a new window for the overall peak and the
  request counts (the per-BMC maxima are never reset).

A BMC is named by the address the connection came *to*
(``request.getHost().host``).  The server's CPU is its own, not the
cluster's.  It stops on SIGTERM.  A bench runs it with
:class:`bench.common.FleetProcess`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import resource
import sys
from collections import Counter
from typing import Any

from twisted.internet import asyncioreactor

if __name__ == "__main__":
    asyncioreactor.install(asyncio.new_event_loop())

#: The first two octets of the simulated BMCs' addresses.
PREFIX = "127.10"


def bmc_address(index: int) -> str:
    """The loopback address of BMC number index (0 .. 65,279): 127.10.x.y, y never 0."""
    high, low = divmod(index, 255)
    if high > 255:
        raise ValueError(f"at most {256 * 255} BMCs")
    return f"{PREFIX}.{high}.{low + 1}"


def state_of(system_id: str) -> str:
    """The power state a simulated node is in: fixed, about half of them on."""
    return "on" if hashlib.sha1(system_id.encode()).digest()[0] & 1 else "off"


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class Fleet:
    """The counters, and the answers (see the module docstring)."""

    def __init__(self, reactor: Any, latency: float, failure_rate: float,
                 rng: random.Random, jitter: float = 0.0) -> None:
        self.reactor = reactor
        self.latency = latency
        self.jitter = jitter
        self.failure_rate = failure_rate
        self.rng = rng
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: dict[str, int] = {}
        self.total_in_flight = 0
        self.peak = 0
        self.requests = 0
        self.failed = 0
        self.window_started = reactor.seconds()

    def stats(self, reset: bool) -> dict[str, Any]:
        over_one = sum(1 for count in self.max_in_flight.values() if count > 1)
        answer = {
            "latency": self.latency,
            "jitter": self.jitter,
            "failure_rate": self.failure_rate,
            "bmcs_seen": len(self.max_in_flight),
            "requests": self.requests,
            "failed": self.failed,
            "window_seconds": self.reactor.seconds() - self.window_started,
            "in_flight": self.total_in_flight,
            "peak_in_flight": self.peak,
            "max_in_flight_per_bmc": max(self.max_in_flight.values(), default=0),
            "bmcs_with_more_than_one_in_flight": over_one,
        }
        if reset:
            self.peak = self.total_in_flight
            self.requests = 0
            self.failed = 0
            self.window_started = self.reactor.seconds()
        return answer

    def started(self, bmc: str) -> None:
        self.in_flight[bmc] += 1
        now = self.in_flight[bmc]
        if now > self.max_in_flight.get(bmc, 0):
            self.max_in_flight[bmc] = now
        self.total_in_flight += 1
        self.peak = max(self.peak, self.total_in_flight)
        self.requests += 1

    def ended(self, bmc: str) -> None:
        self.in_flight[bmc] -= 1
        if not self.in_flight[bmc]:
            del self.in_flight[bmc]
        self.total_in_flight -= 1


def make_site(fleet: Fleet) -> Any:
    from twisted.web.resource import Resource
    from twisted.web.server import NOT_DONE_YET, Site

    class Power(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            parts = [part.decode() for part in request.postpath if part]
            if not parts:
                request.setResponseCode(404)
                return b"no system_id\n"
            system_id = parts[0]
            bmc = request.getHost().host
            fleet.started(bmc)
            fail = fleet.rng.random() < fleet.failure_rate

            def answer() -> None:
                fleet.ended(bmc)
                if request.finished:
                    return
                if fail:
                    fleet.failed += 1
                    request.setResponseCode(503)
                    request.write(b"busy\n")
                else:
                    request.setHeader(b"content-type", b"text/plain")
                    request.write(state_of(system_id).encode() + b"\n")
                request.finish()

            spread = fleet.latency * fleet.jitter
            delay = fleet.latency + (fleet.rng.uniform(-spread, spread) if spread else 0.0)
            call = fleet.reactor.callLater(max(0.0, delay), answer)

            def gone(_: object) -> None:
                if call.active():
                    call.cancel()
                    fleet.ended(bmc)

            request.notifyFinish().addErrback(gone)
            return NOT_DONE_YET

    class Stats(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            reset = request.args.get(b"reset", [b""])[0] == b"1"
            request.setHeader(b"content-type", b"application/json")
            return json.dumps(fleet.stats(reset)).encode() + b"\n"

    root = Resource()
    root.putChild(b"power", Power())
    root.putChild(b"stats", Stats())
    site = Site(root)
    site.noisy = False
    site.log = lambda request: None  # no access log: one line per query is noise
    return site


def add_fleet_arguments(parser: argparse.ArgumentParser, *,
                        failure_rate: float = 0.0) -> None:
    """The fleet's --latency, --jitter and --failure-rate (here, and for a bench)."""
    parser.add_argument("--latency", type=float, default=2.0,
                        help="seconds each simulated BMC takes to answer")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="BMC answers take latency * (1 +- up to jitter), uniformly")
    parser.add_argument("--failure-rate", type=float, default=failure_rate,
                        help="share of BMC answers that are HTTP 503")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--port", type=int, required=True)
    add_fleet_arguments(parser)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    limit = raise_file_limit()
    from twisted.internet import reactor

    fleet = Fleet(reactor, args.latency, args.failure_rate, random.Random(args.seed),
                  args.jitter)
    reactor.listenTCP(args.port, make_site(fleet), backlog=4096, interface="0.0.0.0")
    print(f"bmc fleet on 0.0.0.0:{args.port}: latency {args.latency:g} s "
          f"(jitter {args.jitter:g}), failure rate "
          f"{args.failure_rate:g}, open files {limit}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
