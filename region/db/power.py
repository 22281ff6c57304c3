"""
SQL for nodes' power: which nodes a cluster's power monitor should query
next, and recording the power states clusters observe.

Recording a power state touches ``power_state``, ``power_state_updated`` and
``power_query_listed`` only, never ``updated``: ``updated`` tells how long a
node has been in its status (stale commissioning is detected with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from region.db.pool import Tx

#: The states a node's ``power_state`` may hold.
POWER_STATES = frozenset({"on", "off", "unknown", "error"})

_DUE = """
    SELECT n.id, n.system_id, n.hostname, n.power_state, n.power_type, n.power_parameters,
           n.status,
           (SELECT m.mac::text FROM macaddresses m WHERE m.node_id = n.id ORDER BY m.id LIMIT 1)
      FROM nodes n
     WHERE n.nodegroup_id = %(nodegroup_id)s
       AND n.power_type = ANY(%(power_types)s)
       AND n.status <> ALL(%(excluded)s)
       AND (n.power_query_listed IS NULL
            OR n.power_query_listed < now() - make_interval(secs => %(lease)s))
       AND (n.power_state_updated IS NULL
            OR (n.status = ANY(%(transitional)s)
                AND n.power_state_updated < now() - make_interval(secs => %(transitional_age)s))
            OR n.power_state_updated < now() - make_interval(secs => %(age)s))
     ORDER BY NOT (n.status = ANY(%(transitional)s)),
              n.power_state_updated IS NOT NULL,
              n.power_state_updated, n.system_id
     LIMIT %(limit)s
       FOR UPDATE OF n SKIP LOCKED
"""
MARK_LISTED = "UPDATE nodes SET power_query_listed = now() WHERE id = ANY(%(ids)s)"
RECORD_STATE = """
    UPDATE nodes SET power_state = %(state)s, power_state_updated = now(),
                     power_query_listed = NULL
     WHERE id = %(id)s
"""
LOCK_REPORTED = """
    SELECT id, system_id FROM nodes
     WHERE nodegroup_id = %(nodegroup_id)s AND system_id = ANY(%(system_ids)s)
     ORDER BY id
       FOR UPDATE
"""
RECORD_STATES = """
    UPDATE nodes n
       SET power_state = i.state,
           power_state_updated = now() - make_interval(secs => i.age),
           power_query_listed = NULL
      FROM unnest(%(ids)s::integer[], %(states)s::text[], %(ages)s::float8[])
           AS i(id, state, age)
     WHERE n.id = i.id
       AND (n.power_state_updated IS NULL
            OR n.power_state_updated <= now() - make_interval(secs => i.age))
 RETURNING n.id, n.system_id, n.status
"""
PRIMARY_MAC = "SELECT mac::text FROM macaddresses WHERE node_id = %(id)s ORDER BY id LIMIT 1"
SYSTEM_ID_BY_MAC = """
    SELECT n.system_id FROM macaddresses m JOIN nodes n ON n.id = m.node_id
     WHERE m.mac = %(mac)s::macaddr
"""


@attrs.frozen
class PowerCandidate:
    """A node a cluster's power monitor should query."""

    id: int
    system_id: str
    hostname: str
    power_state: str
    power_type: str
    power_parameters: dict[str, Any] | None
    status: int
    primary_mac: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> PowerCandidate:
        return cls(*row)


@attrs.frozen
class DueQuery:
    """Which nodes are due: see :func:`due_for_query`."""

    power_types: Sequence[str]
    excluded_statuses: Sequence[int]
    transitional_statuses: Sequence[int]
    #: Seconds after which any node's power state is stale.
    age: float = 60.0
    #: Seconds after which a node in a transitional status is stale.
    transitional_age: float = 10.0
    #: Seconds before a node handed out but never reported is handed out again.
    lease: float = 300.0
    limit: int = 1000


async def due_for_query(tx: Tx, nodegroup_id: int, query: DueQuery) -> list[PowerCandidate]:
    """
    The cluster's nodes whose power state should be queried, most urgent
    first: those in a transitional status not queried for
    ``transitional_age`` seconds (never queried first); then those never
    queried; then the least recently queried of those not queried for ``age``
    seconds.  Transitional nodes go before the never queried because a
    person waits on them: behind thousands of new nodes (a mass enlistment, a
    cluster's first start) they would otherwise wait for all of them
    (bench/power_monitor.py: 43 s old at 5,000 new nodes with 2 s BMCs,
    against the ~10 s aimed at).  Rows are locked (others' locked rows are skipped); call
    :func:`mark_listed` with those actually handed out.
    """
    rows = await tx.fetchall(_DUE, {
        "nodegroup_id": nodegroup_id,
        "power_types": list(query.power_types),
        "excluded": list(query.excluded_statuses),
        "transitional": list(query.transitional_statuses),
        "age": query.age,
        "transitional_age": query.transitional_age,
        "lease": query.lease,
        "limit": query.limit,
    })
    return [PowerCandidate.from_row(row) for row in rows]


async def mark_listed(tx: Tx, node_ids: Sequence[int]) -> None:
    """Note that these nodes were handed to their cluster for a query just now."""
    if node_ids:
        await tx.execute(MARK_LISTED, {"ids": list(node_ids)})


async def record_state(tx: Tx, node_id: int, state: str) -> None:
    """Record an observed power state (now); ``updated`` is left alone."""
    if state not in POWER_STATES:
        raise ValueError(f"{state!r} is not a power state")
    await tx.execute(RECORD_STATE, {"id": node_id, "state": state})


@attrs.frozen
class ObservedState:
    """A power state a cluster saw, ``age`` seconds before it reported it."""

    system_id: str
    state: str
    age: float = 0.0


@attrs.frozen
class RecordedStates:
    """What :func:`record_states` did."""

    #: (node id, system_id, status) of each node whose state was recorded.
    recorded: list[tuple[int, str, int]]
    #: Reported system_ids that are not this nodegroup's nodes.
    unknown: list[str]
    #: Reported nodes whose recorded state was newer than the observation.
    superseded: list[str]


async def record_states(tx: Tx, nodegroup_id: int,
                        observed: Sequence[ObservedState]) -> RecordedStates:
    """
    Record many observed power states of one nodegroup's nodes in one statement.

    Each state is dated ``age`` seconds before now (the database's clock), and
    is recorded only if no newer one is (a power change reported meanwhile
    wins).  The rows are locked in id order first, so two batches never
    deadlock.  One entry per system_id (the caller de-duplicates).
    """
    for entry in observed:
        if entry.state not in POWER_STATES:
            raise ValueError(f"{entry.state!r} is not a power state")
    by_system_id = {entry.system_id: entry for entry in observed}
    rows = await tx.fetchall(LOCK_REPORTED, {"nodegroup_id": nodegroup_id,
                                             "system_ids": list(by_system_id)})
    known = {system_id: node_id for node_id, system_id in rows}
    unknown = [system_id for system_id in by_system_id if system_id not in known]
    if not known:
        return RecordedStates([], unknown, [])
    ids = list(known.values())
    entries = [by_system_id[system_id] for system_id in known]
    recorded = await tx.fetchall(RECORD_STATES, {
        "ids": ids,
        "states": [entry.state for entry in entries],
        "ages": [max(0.0, float(entry.age)) for entry in entries],
    })
    done = {system_id for _, system_id, _ in recorded}
    superseded = [system_id for system_id in known if system_id not in done]
    return RecordedStates([(int(i), str(s), int(st)) for i, s, st in recorded], unknown,
                          superseded)


async def primary_mac(tx: Tx, node_id: int) -> str | None:
    """The node's first MAC address (1.8's primary MAC), if it has one."""
    value = await tx.fetchval(PRIMARY_MAC, {"id": node_id})
    return None if value is None else str(value)


async def system_id_by_mac(tx: Tx, mac: str) -> str | None:
    """The system_id of the node owning a (normalised) MAC address."""
    value = await tx.fetchval(SYSTEM_ID_BY_MAC, {"mac": mac})
    return None if value is None else str(value)
