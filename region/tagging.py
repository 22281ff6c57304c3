"""
Applying tag definitions to nodes.

A tag's definition is an XPath 1.0 expression over a node's hardware
details (lshw and LLDP XML from commissioning).  Evaluation is CPU work, so
it runs a page of nodes at a time and yields to the reactor between nodes:
requests keep being served while a tag is applied to thousands of nodes.
(MAAS 1.8 sent this work to the clusters with EvaluateTag; the region can
afford it when it never blocks for long.)
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import deferLater
from twisted.logger import Logger

from region.db import tags as db_tags
from region.db.pool import Database, Tx
from region.domain.tags import InvalidTagDefinition, compile_definition, evaluate, merge_details

log = Logger(namespace="region.tagging")

PAGE = 200


async def _matching(db: Database, reactor: Any, definition: str,
                    only_node: int | None = None) -> list[str]:
    compiled = compile_definition(definition)
    matched: list[str] = []
    after = 0
    while True:
        page = await db.transaction(lambda tx, after=after: db_tags.details_page(
            tx, after=after, limit=PAGE, only=only_node))
        if not page:
            return matched
        for node_id, system_id, lshw, lldp in page:
            after = node_id
            if lshw is None and lldp is None:
                continue
            try:
                if evaluate(compiled, merge_details(lshw, lldp)):
                    matched.append(system_id)
            except InvalidTagDefinition as error:
                log.warn("Tag definition failed on {system_id}: {error}",
                         system_id=system_id, error=str(error))
            await deferLater(reactor, 0)


async def apply_tag(db: Database, reactor: Any, tag_name: str) -> int:
    """Re-evaluate one tag over every node; returns how many nodes carry it now."""
    tag = await db.transaction(lambda tx: db_tags.get(tx, tag_name))
    if tag is None or not tag.definition:
        return 0
    matched = await _matching(db, reactor, tag.definition)

    async def write(tx: Tx) -> None:
        current = await db_tags.get(tx, tag_name, for_update=True)
        # The definition may have changed while we evaluated; the newer run wins.
        if current is not None and current.definition == tag.definition:
            await db_tags.replace_nodes(tx, current.id, matched)

    await db.transaction(write)
    return len(matched)


async def apply_tags_to_node(db: Database, reactor: Any, node_id: int) -> None:
    """Re-evaluate every defined tag for one node (after commissioning)."""
    defined = await db.transaction(db_tags.defined_tags)
    page = await db.transaction(lambda tx: db_tags.details_page(
        tx, after=node_id - 1, limit=1, only=node_id))
    if not page:
        return
    _, system_id, lshw, lldp = page[0]
    document = merge_details(lshw, lldp) if (lshw or lldp) else None
    add, remove = [], []
    for tag in defined:
        try:
            hit = document is not None and evaluate(compile_definition(tag.definition), document)
        except InvalidTagDefinition as error:
            log.warn("Tag {tag} failed on {system_id}: {error}", tag=tag.name,
                     system_id=system_id, error=str(error))
            continue
        (add if hit else remove).append(tag.id)
        await deferLater(reactor, 0)
    await db.transaction(lambda tx: db_tags.set_node_tags(tx, node_id, add=add, remove=remove))
