"""Acquiring nodes against a real PostgreSQL: every constraint, and many acquirers at once."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults

from region.allocation import AcquireRequest, acquire
from region.api.errors import BadRequest, ValidationError
from region.db import nodes as db_nodes
from region.db.pool import Database
from region.domain.lifecycle import NodeStatus
from tests.factories import make_node, make_user, make_zone, unique

pytestmark = pytest.mark.integration
GB = 1000**3


async def acquire_as_admin(db: Database, **constraints: Any) -> tuple[str, dict[str, str]] | None:
    user = await make_user(db, admin=True)
    return await acquire(db, AcquireRequest(**constraints), user_id=user.id, admin=True,
                         token_id=None)


async def only_among(db: Database, nodes: list[db_nodes.Node], **constraints: Any) -> str | None:
    """Acquire by name among nodes (isolating the test from other tests' nodes)."""
    for node in nodes:
        found = await acquire_as_admin(db, name=node.hostname, **constraints)
        if found is not None:
            return found[0]
    return None


@pytest_twisted.ensureDeferred
async def test_cheapest_match_wins(db: Database) -> None:
    """Among matching nodes the one with the lowest cpu + memory/1024 cost is chosen."""
    tag = unique("cheap")
    big = await make_node(db, cpu_count=16, memory=65536, tags=[tag])
    small = await make_node(db, cpu_count=2, memory=2048, tags=[tag])
    found = await acquire_as_admin(db, tags=[tag])
    assert found is not None and found[0] == small.system_id
    again = await acquire_as_admin(db, tags=[tag])
    assert again is not None and again[0] == big.system_id
    assert await acquire_as_admin(db, tags=[tag]) is None


@pytest_twisted.ensureDeferred
async def test_acquired_node_is_allocated_to_the_user(db: Database) -> None:
    tag = unique("owner")
    node = await make_node(db, tags=[tag])
    user = await make_user(db)
    found = await acquire(db, AcquireRequest(tags=[tag], agent_name="juju"), user_id=user.id,
                          admin=False, token_id=None)
    assert found is not None
    after = await db.transaction(lambda tx: db_nodes.get(tx, node.system_id))
    assert after.status == NodeStatus.ALLOCATED
    assert after.owner_id == user.id
    assert after.agent_name == "juju"


@pytest_twisted.ensureDeferred
async def test_only_ready_nodes_are_acquired(db: Database) -> None:
    tag = unique("state")
    for status in NodeStatus:
        if status != NodeStatus.READY:
            await make_node(db, status=status, tags=[tag])
    assert await acquire_as_admin(db, tags=[tag]) is None


@pytest_twisted.ensureDeferred
async def test_users_do_not_get_others_reserved_nodes(db: Database) -> None:
    """A READY node owned by someone else is invisible to a non-admin."""
    tag = unique("vis")
    other = await make_user(db)
    await make_node(db, tags=[tag], owner_id=other.id)
    me = await make_user(db)
    assert await acquire(db, AcquireRequest(tags=[tag]), user_id=me.id, admin=False,
                         token_id=None) is None


@pytest.mark.parametrize(("constraint", "good", "bad"), [
    ({"cpu_count": 8}, {"cpu_count": 8}, {"cpu_count": 4}),
    ({"mem": 4096}, {"memory": 8192}, {"memory": 2048}),
    ({"arch": "armhf"}, {"architecture": "armhf/highbank"}, {"architecture": "amd64/generic"}),
    ({"arch": "amd64/hwe-t"}, {"architecture": "amd64/hwe-t"},
     {"architecture": "amd64/generic"}),
    ({"not_tags": ["broken-fan"]}, {"tags": []}, {"tags": ["broken-fan"]}),
    ({"connected_to": ["aa:bb:cc:00:00:01"]},
     {"routers": ["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"]}, {"routers": ["aa:bb:cc:00:00:03"]}),
    ({"not_connected_to": ["aa:bb:cc:00:00:09"]}, {"routers": None},
     {"routers": ["aa:bb:cc:00:00:09"]}),
    ({"storage": "root:100,data:1000(rotary)"},
     {"disks": [(200 * GB, ["ssd"]), (2000 * GB, ["rotary"])]},
     {"disks": [(200 * GB, ["ssd"]), (2000 * GB, ["ssd"])]}),
])
@pytest_twisted.ensureDeferred
async def test_each_constraint_selects_and_excludes(db: Database, constraint: dict[str, Any],
                                                    good: dict[str, Any],
                                                    bad: dict[str, Any]) -> None:
    """One constraint at a time: the matching node is taken, the other never."""
    if "not_tags" in constraint:
        await make_node(db, tags=["broken-fan"], status=NodeStatus.BROKEN)
    bad_node = await make_node(db, **bad)
    good_node = await make_node(db, **good)
    assert await only_among(db, [bad_node], **constraint) is None
    assert await only_among(db, [good_node], **constraint) == good_node.system_id


@pytest_twisted.ensureDeferred
async def test_zone_constraints(db: Database) -> None:
    zone = await make_zone(db)
    inside = await make_node(db, zone=zone.name)
    outside = await make_node(db)
    assert await only_among(db, [outside], zone=zone.name) is None
    assert await only_among(db, [inside], not_in_zone=[zone.name]) is None
    assert await only_among(db, [inside], zone=zone.name) == inside.system_id
    assert await only_among(db, [outside], not_in_zone=[zone.name]) == outside.system_id


@pytest_twisted.ensureDeferred
async def test_storage_constraint_reports_the_mapping(db: Database) -> None:
    """constraint_map maps each labelled disk's id to its label."""
    node = await make_node(db, disks=[(500 * GB, ["ssd"]), (4000 * GB, ["rotary"])])
    found = await acquire_as_admin(db, name=node.hostname, storage="boot:100(ssd),big:3000")
    assert found is not None
    assert sorted(found[1].values()) == ["big", "boot"]


@pytest_twisted.ensureDeferred
async def test_constraints_combine_with_and(db: Database) -> None:
    """Every constraint must hold at once."""
    zone = await make_zone(db)
    tag = unique("combo")
    partial = [
        await make_node(db, cpu_count=8, memory=16384, tags=[tag]),  # wrong zone
        await make_node(db, cpu_count=2, memory=16384, tags=[tag], zone=zone.name),  # few cpus
        await make_node(db, cpu_count=8, memory=1024, tags=[tag], zone=zone.name),  # little mem
    ]
    full = await make_node(db, cpu_count=8, memory=16384, tags=[tag], zone=zone.name,
                           routers=["aa:bb:cc:dd:ee:01"])
    constraints = {"tags": [tag], "zone": zone.name, "cpu_count": 4, "mem": 8192,
                   "connected_to": ["aa:bb:cc:dd:ee:01"], "arch": "amd64"}
    assert await only_among(db, partial, **constraints) is None
    found = await acquire_as_admin(db, **constraints)
    assert found is not None and found[0] == full.system_id


@pytest.mark.parametrize(("constraint", "error"), [
    ({"tags": ["no-such-tag-anywhere"]}, BadRequest),
    ({"zone": "no-such-zone"}, BadRequest),
    ({"not_in_zone": ["no-such-zone"]}, BadRequest),
    ({"arch": "sparc"}, ValidationError),
    ({"storage": "root:lots"}, ValidationError),
    ({"connected_to": ["not-a-mac"]}, ValidationError),
])
@pytest_twisted.ensureDeferred
async def test_bad_constraints_are_refused(db: Database, constraint: dict[str, Any],
                                           error: type[Exception]) -> None:
    with pytest.raises(error):
        await acquire_as_admin(db, **constraint)


@pytest_twisted.ensureDeferred
async def test_concurrent_acquirers_never_share_a_node(db: Database,
                                                       migrated_url: str) -> None:
    """Forty acquirers on their own connections, thirty nodes: each node goes to one,
    all thirty go, and ten acquirers get nothing."""
    from twisted.internet import reactor

    tag = unique("race")
    nodes = [await make_node(db, tags=[tag], cpu_count=1 + i % 3) for i in range(30)]
    user = await make_user(db, admin=True)
    pool = Database(reactor, migrated_url, size=20)
    await pool.start()
    try:
        results = await gatherResults([
            Deferred.fromCoroutine(acquire(pool, AcquireRequest(tags=[tag]), user_id=user.id,
                                           admin=True, token_id=None))
            for _ in range(40)])
    finally:
        pool.close()
    won = [result[0] for result in results if result is not None]
    assert len(won) == 30
    assert len(set(won)) == 30
    assert set(won) == {node.system_id for node in nodes}


@pytest_twisted.ensureDeferred
async def test_acquirers_do_not_queue_behind_a_held_candidate(db: Database,
                                                              migrated_url: str) -> None:
    """While one transaction holds the cheapest node, another acquire takes the next
    one at once instead of waiting (no global lock)."""
    import psycopg2
    from twisted.internet import reactor

    tag = unique("skip")
    cheap = await make_node(db, tags=[tag], cpu_count=1)
    dear = await make_node(db, tags=[tag], cpu_count=8)
    blocker = psycopg2.connect(migrated_url)
    try:
        cursor = blocker.cursor()
        cursor.execute("SELECT id FROM nodes WHERE system_id = %s FOR UPDATE", (cheap.system_id,))
        user = await make_user(db, admin=True)
        pool = Database(reactor, migrated_url, size=1, lock_timeout=1.0)
        await pool.start()
        try:
            found = await acquire(pool, AcquireRequest(tags=[tag]), user_id=user.id, admin=True,
                                  token_id=None)
        finally:
            pool.close()
        assert found is not None and found[0] == dear.system_id
    finally:
        blocker.rollback()
        blocker.close()
