"""
Region RPC round trips per second, between a real ``maas-region serve`` and a
cluster-side AMP peer (this process) over loopback.

    .venv/bin/python bench/rpc.py [--seconds 10] [--concurrency 32]

The peer does what a cluster does: it authenticates the region and answers
the region's challenge (shared-secret HMAC), registers (RegisterV2), and
then keeps ``--concurrency`` calls in flight for ``--seconds``:

- ``Identify``: the smallest command (no database), the pure RPC round trip;
- ``GetClusterStatus``: a small command that reads PostgreSQL.

Target (issue 4): at least 5,000 round trips per second for a small command.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import asyncioreactor

asyncioreactor.install(asyncio.new_event_loop())

from twisted.internet import reactor  # noqa: E402
from twisted.internet.defer import Deferred, gatherResults  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402

from bench.common import bench_region, machine_description  # noqa: E402
from rpc.auth import authenticate_peer, read_secret  # noqa: E402
from rpc.client import RPCClient  # noqa: E402
from rpc.commands.common import Identify  # noqa: E402
from rpc.commands.region import GetClusterStatus, RegisterV2  # noqa: E402
from rpc.protocol import RPCProtocol  # noqa: E402


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


async def measure(port: int, secret: bytes, seconds: float, concurrency: int) -> None:
    cluster_uuid = str(uuid.uuid4())
    protocol = await connect(port, secret, cluster_uuid)
    client = RPCClient(protocol, reactor)
    answer = await client.call(RegisterV2, uuid=cluster_uuid, networks=[], url=None)
    print(f"registered as {cluster_uuid}: {answer.get('status')}")
    for command, kwargs in ((Identify, {}), (GetClusterStatus, {"uuid": cluster_uuid})):
        await hammer(client, command, 1.0, concurrency, **kwargs)  # warm up
        count, elapsed = await hammer(client, command, seconds, concurrency, **kwargs)
        print(f"{command.__name__:<18} {count / elapsed:8.0f} round trips/s "
              f"({count} calls in {elapsed:.1f} s, {concurrency} in flight)")
    protocol.transport.loseConnection()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(f"machine: {machine_description()}")
    with bench_region() as (region, _, _url):
        secret_file = Path(region.log_path).parent / "secret"
        result = region.command("shared-secret", "--write", str(secret_file))
        assert result.returncode == 0, result.stderr
        port = int(region.rpc_port)
        secret = read_secret(secret_file)
        failure: list[BaseException] = []

        def run() -> None:
            d = Deferred.fromCoroutine(measure(port, secret, args.seconds, args.concurrency))
            d.addErrback(lambda f: failure.append(f.value))
            d.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(run)
        reactor.run()
        if failure:
            raise failure[0]


if __name__ == "__main__":
    main()
