"""Tag definitions applied to nodes' stored hardware details, against PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from region.db import results as db_results
from region.db import tags as db_tags
from region.db.nodes import Node
from region.db.pool import Database
from region.tagging import apply_tag, apply_tags_to_node
from tests.factories import make_node, unique

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[2] / "data" / "commissioning"


async def commissioned(db: Database, lshw: str, lldp: str | None = None) -> Node:
    node = await make_node(db)

    async def store(tx: object) -> None:
        await db_results.store(tx, node.id, db_results.LSHW_OUTPUT,  # type: ignore[arg-type]
                               (DATA / lshw).read_bytes(), script_result=0, result_type=0)
        if lldp:
            await db_results.store(tx, node.id, db_results.LLDP_OUTPUT,  # type: ignore[arg-type]
                                   (DATA / lldp).read_bytes(), script_result=0, result_type=0)

    await db.transaction(store)
    return node


async def tagged(db: Database, name: str) -> set[str]:
    tag = await db.transaction(lambda tx: db_tags.get(tx, name))
    return set(await db.transaction(lambda tx: db_tags.tagged_system_ids(tx, tag.id)))


@pytest_twisted.ensureDeferred
async def test_definition_is_evaluated_over_every_node(db: Database) -> None:
    """A memory threshold tags the big server and not the small VM."""
    server = await commissioned(db, "lshw-hp-dl380-gen9.xml", "lldp-hp-dl380-gen9.xml")
    vm = await commissioned(db, "lshw-qemu-kvm.xml")
    name = unique("bigmem")
    await db.transaction(lambda tx: db_tags.create(
        tx, name=name, definition='sum(//node[starts-with(@id, "bank")]/size) > 17179869184', comment="",
        kernel_opts=""))
    await apply_tag(db, reactor, name)
    members = await tagged(db, name)
    assert server.system_id in members
    assert vm.system_id not in members


@pytest_twisted.ensureDeferred
async def test_lldp_definitions_see_the_neighbours(db: Database) -> None:
    server = await commissioned(db, "lshw-hp-dl380-gen9.xml", "lldp-hp-dl380-gen9.xml")
    other = await commissioned(db, "lshw-qemu-kvm.xml")
    name = unique("cisco")
    await db.transaction(lambda tx: db_tags.create(
        tx, name=name, definition='//lldp:chassis/lldp:descr[contains(text(), "Cisco")]',
        comment="", kernel_opts=""))
    await apply_tag(db, reactor, name)
    members = await tagged(db, name)
    assert server.system_id in members and other.system_id not in members


@pytest_twisted.ensureDeferred
async def test_new_details_re_evaluate_a_nodes_tags(db: Database) -> None:
    """After commissioning, a node's defined tags follow its new details."""
    node = await commissioned(db, "lshw-qemu-kvm.xml")
    name = unique("virt")
    tag = await db.transaction(lambda tx: db_tags.create(
        tx, name=name, definition='//node[@class="system"]/vendor[contains(., "QEMU")]',
        comment="", kernel_opts=""))
    await apply_tags_to_node(db, reactor, node.id)
    assert node.system_id in await tagged(db, name)
    await db.transaction(lambda tx: db_results.store(
        tx, node.id, db_results.LSHW_OUTPUT, (DATA / "lshw-hp-dl380-gen9.xml").read_bytes(),
        script_result=0, result_type=0))
    await apply_tags_to_node(db, reactor, node.id)
    assert node.system_id not in await tagged(db, name)
    assert tag.definition
