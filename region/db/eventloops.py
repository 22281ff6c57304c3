"""
SQL for the ``eventloops`` table: where each region process's RPC service listens.

Each process ("event loop", ``<host>:pid=<pid>``) rewrites its own rows
every minute; rows not refreshed for a few minutes belong to a process that
died and are pruned.  ``GET /MAAS/rpc/`` lists the fresh ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from region.db.pool import Tx

# An endpoint that another (dead) process had advertised is taken over.
RELEASE_TAKEN = """
    DELETE FROM eventloops
     WHERE name <> %(name)s
       AND (address, port) IN (SELECT * FROM unnest(%(addresses)s::inet[], %(ports)s::int[]))
"""
UPSERT = """
    INSERT INTO eventloops (name, address, port)
    SELECT %(name)s, address, port
      FROM unnest(%(addresses)s::inet[], %(ports)s::int[]) AS endpoint (address, port)
    ON CONFLICT (name, address, port) DO UPDATE SET updated = now()
"""
FORGET_OTHERS = """
    DELETE FROM eventloops
     WHERE name = %(name)s
       AND (address, port) NOT IN (SELECT * FROM unnest(%(addresses)s::inet[], %(ports)s::int[]))
"""
WITHDRAW = "DELETE FROM eventloops WHERE name = %(name)s"
PRUNE = "DELETE FROM eventloops WHERE updated < now() - make_interval(secs => %(age)s)"
LIVE = """
    SELECT name, host(address), port FROM eventloops
     WHERE updated >= now() - make_interval(secs => %(age)s)
     ORDER BY name, address, port
"""


async def advertise(tx: Tx, name: str, endpoints: Sequence[tuple[str, int]]) -> None:
    """Record that process name listens on endpoints (and nowhere else)."""
    params = {"name": name, "addresses": [address for address, _ in endpoints],
              "ports": [port for _, port in endpoints]}
    await tx.execute(RELEASE_TAKEN, params)
    await tx.execute(FORGET_OTHERS, params)
    if endpoints:
        await tx.execute(UPSERT, params)


async def withdraw(tx: Tx, name: str) -> int:
    """Forget every endpoint of process name (it is stopping)."""
    return await tx.execute(WITHDRAW, {"name": name})


async def prune(tx: Tx, age: float) -> int:
    """Delete rows not refreshed for age seconds; return how many."""
    return await tx.execute(PRUNE, {"age": age})


async def live(tx: Tx, age: float) -> dict[str, list[tuple[str, int]]]:
    """name → endpoints, of the processes that refreshed their rows within age seconds."""
    found: dict[str, list[tuple[str, int]]] = {}
    for name, address, port in await tx.fetchall(LIVE, {"age": age}):
        found.setdefault(name, []).append((address, int(port)))
    return found
