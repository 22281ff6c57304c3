"""``installation-results/`` (and ``commissioning-results/``): scripts' results per node."""

from __future__ import annotations

import base64
import json
from typing import Any

from region.api.context import RequestContext
from region.api.handlers.nodes import viewer
from region.api.registry import API_PREFIX, INT, Handler, Param
from region.db import nodes as db_nodes
from region.db import results as db_results
from region.db.pool import Tx

_DOC = "Read the collection of NodeResult in the MAAS."
RESULTS = Handler("NodeResultsHandler", "installation-results/", _DOC)
#: 1.8 serves the same handler under this older name too.
COMMISSIONING_RESULTS = Handler("NodeResultsHandler", "commissioning-results/", _DOC,
                                hidden=True)

_PARAMS = [
    Param("system_id", multiple=True, doc="Only results of these nodes."),
    Param("name", multiple=True, doc="Only results with these names."),
    Param("result_type", INT, doc="0 for commissioning, 1 for installation."),
]


async def list_results(ctx: RequestContext, system_id: list[str], name: list[str],
                       result_type: int | None) -> list[dict[str, Any]]:
    """List NodeResult visible to the user, optionally filtered."""
    me = viewer(ctx)

    async def work(tx: Tx) -> tuple[list[dict[str, Any]], str]:
        rows = await db_results.list_results(
            tx, user_id=me.user_id, admin=me.admin, system_ids=system_id, names=name,
            result_type=result_type)
        ids = sorted({row["system_id"] for row in rows})
        nodes = await db_nodes.list_json(tx, user_id=None, admin=True,
                                         filters=db_nodes.NodeFilter(system_ids=ids)) \
            if ids else "[]"
        return rows, nodes

    rows, nodes_text = await ctx.db.transaction(work)
    nodes = {node["system_id"]: node for node in json.loads(nodes_text)}
    return [{
        "name": row["name"],
        "script_result": row["script_result"],
        "result_type": row["result_type"],
        "created": row["created"],
        "updated": row["updated"],
        "node": nodes[row["system_id"]],
        "data": base64.b64encode(bytes(row["data"])).decode("ascii"),
        "resource_uri": f"{API_PREFIX}commissioning-results/",
    } for row in rows]


RESULTS.operation("GET", "list", params=_PARAMS)(list_results)
COMMISSIONING_RESULTS.operation("GET", "list", params=_PARAMS)(list_results)
