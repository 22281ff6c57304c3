"""Node lifecycle operations against PostgreSQL, with a recording power control."""

from __future__ import annotations

import pytest
import pytest_twisted

from region.api.errors import Conflict, ServiceUnavailable
from region.db import nodes as db_nodes
from region.db.pool import Database
from region.domain.lifecycle import NodeStatus
from region.nodeops import NodeOps, Viewer
from tests.factories import make_node, make_user
from tests.fakes.power_control import RecordingPowerControl

pytestmark = pytest.mark.integration
ADMIN = Viewer(None, True)


async def status_of(db: Database, system_id: str) -> NodeStatus:
    node = await db.transaction(lambda tx: db_nodes.get(tx, system_id))
    return NodeStatus(node.status)


@pytest_twisted.ensureDeferred
async def test_commission_powers_the_node_on(db: Database) -> None:
    power = RecordingPowerControl()
    node = await make_node(db, status=NodeStatus.READY)
    await NodeOps(db, power).commission(ADMIN, node.system_id)
    assert await status_of(db, node.system_id) == NodeStatus.COMMISSIONING
    assert power.calls == [("on", node.system_id)]


@pytest_twisted.ensureDeferred
async def test_failed_power_on_reverts_commissioning(db: Database) -> None:
    """When the cluster cannot power the node on, the node goes back to its status (1.8)."""
    node = await make_node(db, status=NodeStatus.NEW)
    with pytest.raises(ServiceUnavailable):
        await NodeOps(db, RecordingPowerControl(fail=True)).accept(ADMIN, [node.system_id])
    assert await status_of(db, node.system_id) == NodeStatus.NEW


@pytest_twisted.ensureDeferred
async def test_failed_power_off_marks_release_failed(db: Database) -> None:
    """A node that cannot be powered off does not sit in RELEASING forever."""
    user = await make_user(db)
    node = await make_node(db, status=NodeStatus.ALLOCATED, owner_id=user.id)
    await db.transaction(lambda tx: db_nodes.update(tx, node.id, power_type="ipmi",
                                                    power_state="on"))
    with pytest.raises(ServiceUnavailable):
        await NodeOps(db, RecordingPowerControl(fail=True)).release(ADMIN, node.system_id)
    after = await db.transaction(lambda tx: db_nodes.get(tx, node.system_id))
    assert after.status == NodeStatus.FAILED_RELEASING
    assert after.error.startswith("Could not power off")


@pytest_twisted.ensureDeferred
async def test_release_of_a_powered_node_waits_for_off(db: Database) -> None:
    """A running node with a power type is RELEASING until its power is reported off."""
    user = await make_user(db)
    node = await make_node(db, status=NodeStatus.DEPLOYED, owner_id=user.id)
    await db.transaction(lambda tx: db_nodes.update(tx, node.id, power_type="ipmi",
                                                    power_state="on"))
    power = RecordingPowerControl()
    await NodeOps(db, power).release(ADMIN, node.system_id)
    assert await status_of(db, node.system_id) == NodeStatus.RELEASING
    assert power.calls == [("off", node.system_id)]


@pytest_twisted.ensureDeferred
async def test_mark_broken_stands_even_if_power_off_fails(db: Database) -> None:
    user = await make_user(db)
    node = await make_node(db, status=NodeStatus.ALLOCATED, owner_id=user.id)
    await db.transaction(lambda tx: db_nodes.update(tx, node.id, power_type="ipmi",
                                                    power_state="on"))
    await NodeOps(db, RecordingPowerControl(fail=True)).mark_broken(
        ADMIN, node.system_id, "fan")
    assert await status_of(db, node.system_id) == NodeStatus.BROKEN


@pytest_twisted.ensureDeferred
async def test_mark_failed_follows_the_failure_map(db: Database) -> None:
    ops = NodeOps(db, RecordingPowerControl())
    commissioning = await make_node(db, status=NodeStatus.COMMISSIONING)
    await ops.mark_failed(commissioning.system_id, "timed out")
    assert await status_of(db, commissioning.system_id) == NodeStatus.FAILED_COMMISSIONING
    new = await make_node(db, status=NodeStatus.NEW)
    await ops.mark_failed(new.system_id, "ignored")
    assert await status_of(db, new.system_id) == NodeStatus.NEW
    ready = await make_node(db, status=NodeStatus.READY)
    with pytest.raises(Conflict):
        await ops.mark_failed(ready.system_id, "no failure state for READY")
