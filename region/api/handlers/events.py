"""``events/``: what happened to nodes, queryable and paged."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from region.api.context import RequestContext
from region.api.errors import BadRequest
from region.api.handlers.nodes import viewer
from region.api.registry import API_PREFIX, INT, Handler, Param
from region.db import events as db_events
from region.db.nodes import NodeFilter
from region.domain.macs import normalise_mac

EVENTS = Handler("EventsHandler", "events/", "Retrieve filtered node events.")

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level_name(level: int) -> str:
    return logging.getLevelName(level)


@EVENTS.operation("GET", "query", params=[
    Param("hostname", multiple=True), Param("mac_address", multiple=True),
    Param("id", multiple=True), Param("zone"), Param("agent_name"),
    Param("level", doc="Lowest level to return: DEBUG, INFO (default), WARNING, ERROR, CRITICAL."),
    Param("limit", INT, doc="How many events (default 100, at most 1000)."),
    Param("after", INT, doc="Start at this event id (oldest first page)."),
])
async def query(ctx: RequestContext, hostname: list[str], mac_address: list[str], id: list[str],
                zone: str | None, agent_name: str | None, level: str | None, limit: int | None,
                after: int | None) -> dict[str, Any]:
    """List node events, optionally filtered by node, zone, agent name and level.

    Without ``after``, the newest ``limit`` events; with it, the ``limit``
    events from that id on.  Either way newest first, with ``next_uri`` and
    ``prev_uri`` for paging.
    """
    level_name = (level or "INFO").upper()
    if level_name not in LEVELS:
        raise BadRequest(f"Unknown log level: {level}")
    if limit is None:
        limit = DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise BadRequest(f"Requested number of events {limit} is greater than limit: "
                         f"{MAX_LIMIT}")
    if limit < 1:
        raise BadRequest("The limit must be at least 1.")
    macs = []
    for mac in mac_address:
        try:
            macs.append(normalise_mac(mac))
        except ValueError:
            raise BadRequest(f"Invalid MAC address: {mac}") from None
    me = viewer(ctx)
    q = db_events.EventQuery(
        nodes=NodeFilter(system_ids=id, hostnames=hostname, macs=macs, zone=zone,
                         agent_name=agent_name),
        level=logging.getLevelName(level_name), limit=limit, after=after)
    rows = await ctx.db.transaction(
        lambda tx: db_events.query(tx, q, user_id=me.user_id, admin=me.admin))
    events = [{
        "node": row["node"], "hostname": row["hostname"], "id": row["id"],
        "level": _level_name(row["level"]),
        "created": row["created"].strftime("%a, %d %b. %Y %H:%M:%S"),
        "type": row["type"], "description": row["description"],
    } for row in rows]
    start = after if after is not None else 0
    kept = [(key, value) for key, value in ctx.params.items() if key not in ("after",)]
    base = f"{API_PREFIX}events/?"
    return {
        "count": len(events),
        "events": events,
        "next_uri": base + urlencode([*kept, ("after", start + limit)]),
        "prev_uri": base + urlencode([*kept, ("after", max(0, start - limit))]),
    }
