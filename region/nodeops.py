"""
What can be done to nodes: the lifecycle operations the API, the metadata
service and the cluster RPC share.

Each operation is one PostgreSQL transaction that locks the rows it changes
(``FOR UPDATE``), checks the 1.8 state machine, and writes.  Power actions
are sent only after the transaction has committed, through an injected
:class:`PowerControl` (the cluster RPC, or "start it by hand" when no power
driver can act).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs
from twisted.logger import Logger

from region.api.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationError
from region.db import node_userdata as db_userdata
from region.db import nodes as db_nodes
from region.db import results as db_results
from region.db.pool import Database, Tx
from region.domain.lifecycle import (
    ABORTABLE_STATUSES,
    COMMISSIONABLE_STATUSES,
    FAILURE_STATUS,
    RELEASABLE_STATUSES,
    STATUS_DISPLAY,
    NodeStatus,
    check_transition,
)

log = Logger(namespace="region.nodeops")

VIEW, EDIT, ADMIN = "view", "edit", "admin"


@attrs.frozen
class Viewer:
    """Who is acting: a user id (None for the system) and whether they are an admin."""

    user_id: int | None
    admin: bool

    @classmethod
    def system(cls) -> Viewer:
        return cls(None, True)


class PowerControl(Protocol):
    """Switches nodes on and off; answers False when it cannot (start it by hand)."""

    async def power_on(self, node: db_nodes.Node) -> bool: ...

    async def power_off(self, node: db_nodes.Node, mode: str = "hard") -> bool: ...


class ManualPowerControl:
    """No power driver can act: nodes are started and stopped by hand, as 1.8 did
    for nodes without a power type."""

    async def power_on(self, node: db_nodes.Node) -> bool:
        log.info("{system_id}: no power control; start the node by hand",
                 system_id=node.system_id)
        return False

    async def power_off(self, node: db_nodes.Node, mode: str = "hard") -> bool:
        log.info("{system_id}: no power control; stop the node by hand",
                 system_id=node.system_id)
        return False


def permitted(node: db_nodes.Node, viewer: Viewer, perm: str) -> bool:
    """1.8's node permissions: view (unowned or own), edit (own), admin."""
    if viewer.admin:
        return True
    if perm == VIEW:
        return node.owner_id is None or node.owner_id == viewer.user_id
    if perm == EDIT:
        return node.owner_id is not None and node.owner_id == viewer.user_id
    return False


async def load(tx: Tx, system_id: str, viewer: Viewer, perm: str = VIEW, *,
               for_update: bool = False) -> db_nodes.Node:
    """The node, or 404 if missing, 403 if the viewer may not do perm on it."""
    node = await db_nodes.get(tx, system_id, for_update=for_update)
    if node is None:
        raise NotFound(f"No node with system_id {system_id!r}.")
    if not permitted(node, viewer, perm):
        raise Forbidden(f"You do not have permission to {perm} node {system_id}.")
    return node


async def change_status(tx: Tx, node: db_nodes.Node, new: NodeStatus, **fields: Any) -> None:
    """Move node to a new status (409 if 1.8's state machine forbids it)."""
    check_transition(NodeStatus(node.status), new)
    await db_nodes.update(tx, node.id, status=int(new), **fields)


def _release_fields() -> dict[str, Any]:
    return {"owner_id": None, "token_id": None, "agent_name": "", "osystem": "",
            "distro_series": "", "license_key": "", "netboot": True}


class NodeOps:
    """
    Lifecycle operations on nodes.

    :param db: the region's database.
    :param power: switches nodes on and off after a transaction commits.
    """

    def __init__(self, db: Database, power: PowerControl) -> None:
        self.db = db
        self.power = power

    async def _after(self, on: Sequence[db_nodes.Node] = (),
                     off: Sequence[db_nodes.Node] = (), *, must_stop: bool = True) -> None:
        """Send power actions once the transaction has committed.

        ``on`` holds nodes as they were before they started commissioning: if
        one cannot be powered on, its status goes back (as 1.8 did).  A node
        left RELEASING that cannot be powered off becomes FAILED_RELEASING with
        the reason, rather than waiting for a power-off that never comes.  The
        first failure is raised (a 503 when the cluster is unavailable) unless
        ``must_stop`` is false (marking broken, aborting: the status change
        stands and the failure is only logged).
        """
        failure: Exception | None = None
        for node in on:
            try:
                await self.power.power_on(node)
            except Exception as error:
                await self.db.transaction(lambda tx, node=node: self._undo_start(tx, node))
                failure = failure or error
        for node in off:
            try:
                await self.power.power_off(node)
            except Exception as error:
                reason = f"Could not power off: {error}"
                await self.db.transaction(
                    lambda tx, node=node, reason=reason: self._release_failed(tx, node, reason))
                log.warn("{system_id}: {reason}", system_id=node.system_id, reason=reason)
                if must_stop:
                    failure = failure or error
        if failure is not None:
            raise failure

    @staticmethod
    async def _undo_start(tx: Tx, before: db_nodes.Node) -> None:
        node = await db_nodes.get(tx, before.system_id, for_update=True)
        started = (NodeStatus.COMMISSIONING, NodeStatus.DEPLOYING)
        if node is not None and node.status in started and node.status != before.status:
            await change_status(tx, node, NodeStatus(before.status))

    @staticmethod
    async def _release_failed(tx: Tx, before: db_nodes.Node, reason: str) -> None:
        node = await db_nodes.get(tx, before.system_id, for_update=True)
        if node is not None and node.status == NodeStatus.RELEASING:
            await change_status(tx, node, NodeStatus.FAILED_RELEASING, error=reason)

    async def start_commissioning(self, tx: Tx, node: db_nodes.Node) -> db_nodes.Node:
        """Put node into COMMISSIONING (inside tx); returns it for powering on after commit."""
        await db_results.delete_for_node(tx, node.id, result_type=db_results.COMMISSIONING)
        await change_status(tx, node, NodeStatus.COMMISSIONING, error="")
        return node

    async def accept(self, viewer: Viewer, system_ids: Sequence[str]) -> list[str]:
        """Accept NEW nodes (they start commissioning); return the ids that changed."""

        async def work(tx: Tx) -> tuple[list[str], list[db_nodes.Node]]:
            unknown = await db_nodes.unknown_system_ids(tx, system_ids)
            if unknown:
                raise BadRequest(f"Unknown node(s): {', '.join(unknown)}.")
            changed: list[str] = []
            to_power: list[db_nodes.Node] = []
            for node in await db_nodes.get_many(tx, system_ids, for_update=True):
                if not permitted(node, viewer, ADMIN):
                    raise Forbidden(f"You do not have permission to accept node {node.system_id}.")
                status = NodeStatus(node.status)
                if status in (NodeStatus.READY, NodeStatus.COMMISSIONING):
                    continue
                if status != NodeStatus.NEW:
                    raise Conflict(f"Cannot accept node enlistment: node {node.system_id} "
                                   f"is in state {STATUS_DISPLAY[status]}.")
                to_power.append(await self.start_commissioning(tx, node))
                changed.append(node.system_id)
            return changed, to_power

        changed, to_power = await self.db.transaction(work)
        await self._after(on=to_power)
        return changed

    async def accept_all(self, viewer: Viewer) -> list[str]:
        new = await self.db.transaction(lambda tx: db_nodes.ids_in_status(tx, NodeStatus.NEW))
        return await self.accept(viewer, new) if new else []

    async def commission(self, viewer: Viewer, system_id: str) -> None:
        async def work(tx: Tx) -> db_nodes.Node:
            node = await load(tx, system_id, viewer, ADMIN, for_update=True)
            if NodeStatus(node.status) not in COMMISSIONABLE_STATUSES:
                raise ValidationError({"action": ["Not a permitted action: commission."]})
            return await self.start_commissioning(tx, node)

        node = await self.db.transaction(work)
        await self._after(on=[node])

    async def _release_in(self, tx: Tx, node: db_nodes.Node) -> db_nodes.Node | None:
        """Release node inside tx; returns it if it must be powered off after commit."""
        status = NodeStatus(node.status)
        await db_results.delete_for_node(tx, node.id, result_type=db_results.INSTALLATION)
        fields = _release_fields()
        if node.power_state == "off" or not node.power_type:
            await change_status(tx, node, NodeStatus.READY, **fields)
            return None
        # Powered on (or unknown) with a power type: power it off, and let the
        # power report (or the releasing monitor) finish the release.
        check_transition(status, NodeStatus.RELEASING)
        await change_status(tx, node, NodeStatus.RELEASING, **fields)
        return node

    async def release_in(self, tx: Tx, node: db_nodes.Node) -> db_nodes.Node | None:
        """Release node inside the caller's transaction (the metadata signal's);
        returns it if the caller must power it off (``self.power``) after commit."""
        return await self._release_in(tx, node)

    async def release(self, viewer: Viewer, system_id: str) -> None:
        async def work(tx: Tx) -> db_nodes.Node | None:
            node = await load(tx, system_id, viewer, EDIT, for_update=True)
            status = NodeStatus(node.status)
            if status in (NodeStatus.READY, NodeStatus.RELEASING):
                return None
            if status not in RELEASABLE_STATUSES:
                raise Conflict("Node cannot be released in its current state "
                               f"('{STATUS_DISPLAY[status]}').")
            return await self._release_in(tx, node)

        node = await self.db.transaction(work)
        await self._after(off=[node] if node else [])

    async def release_many(self, viewer: Viewer, system_ids: Sequence[str]) -> list[str]:
        async def work(tx: Tx) -> tuple[list[str], list[db_nodes.Node]]:
            unknown = await db_nodes.unknown_system_ids(tx, system_ids)
            if unknown:
                raise BadRequest(f"Unknown node(s): {', '.join(unknown)}.")
            nodes = await db_nodes.get_many(tx, system_ids, for_update=True)
            denied = [n.system_id for n in nodes if not permitted(n, viewer, EDIT)]
            if denied:
                raise Forbidden(f"You don't have the required permission to release the "
                                f"following node(s): {', '.join(denied)}.")
            stuck = [n for n in nodes if NodeStatus(n.status) not in RELEASABLE_STATUSES
                     and NodeStatus(n.status) not in (NodeStatus.READY, NodeStatus.RELEASING)]
            if stuck:
                described = ", ".join(
                    f"{n.system_id} ('{STATUS_DISPLAY[NodeStatus(n.status)]}')" for n in stuck)
                raise Conflict(f"Node(s) cannot be released in their current state: {described}.")
            released: list[str] = []
            to_power_off: list[db_nodes.Node] = []
            for node in nodes:
                if NodeStatus(node.status) in (NodeStatus.READY, NodeStatus.RELEASING):
                    continue
                off = await self._release_in(tx, node)
                if off:
                    to_power_off.append(off)
                released.append(node.system_id)
            return released, to_power_off

        released, off = await self.db.transaction(work)
        await self._after(off=off)
        return released

    async def mark_broken(self, viewer: Viewer, system_id: str, description: str) -> None:
        async def work(tx: Tx) -> db_nodes.Node | None:
            node = await load(tx, system_id, viewer, EDIT, for_update=True)
            off = None
            if NodeStatus(node.status) in RELEASABLE_STATUSES and node.status != NodeStatus.BROKEN:
                off = await self._release_in(tx, node)
                node = await load(tx, system_id, viewer, VIEW, for_update=True)
            if NodeStatus(node.status) != NodeStatus.BROKEN:
                await change_status(tx, node, NodeStatus.BROKEN, owner_id=None, error=description)
            else:
                await db_nodes.update(tx, node.id, error=description)
            return off

        off = await self.db.transaction(work)
        await self._after(off=[off] if off else [], must_stop=False)

    async def mark_fixed(self, viewer: Viewer, system_id: str) -> None:
        async def work(tx: Tx) -> None:
            node = await load(tx, system_id, viewer, ADMIN, for_update=True)
            if NodeStatus(node.status) != NodeStatus.BROKEN:
                raise Conflict("Can't mark a non-broken node as 'Ready'.")
            await change_status(tx, node, NodeStatus.READY, error="")

        await self.db.transaction(work)

    async def abort_operation(self, viewer: Viewer, system_id: str) -> None:
        """Stop commissioning, deployment or disk erasing, and power the node off."""
        back = {
            NodeStatus.COMMISSIONING: NodeStatus.NEW,
            NodeStatus.DEPLOYING: NodeStatus.ALLOCATED,
            NodeStatus.DISK_ERASING: NodeStatus.FAILED_DISK_ERASING,
        }

        async def work(tx: Tx) -> db_nodes.Node:
            node = await load(tx, system_id, viewer, EDIT, for_update=True)
            status = NodeStatus(node.status)
            if status not in ABORTABLE_STATUSES:
                raise Conflict(f"Cannot abort in current state: node {system_id} is in state "
                               f"{STATUS_DISPLAY[status]}.")
            await change_status(tx, node, back[status])
            return node

        node = await self.db.transaction(work)
        await self._after(off=[node], must_stop=False)

    async def start(self, viewer: Viewer, system_id: str, *, user_data: bytes | None,
                    osystem: str | None, distro_series: str | None,
                    license_key: str | None) -> None:
        """Power up an allocated node: ALLOCATED becomes DEPLOYING (1.8's ``start``).

        The user data is stored for the metadata service; the node is powered on
        after commit, and goes back to ALLOCATED if the power-on cannot be sent.
        """

        async def work(tx: Tx) -> db_nodes.Node:
            node = await load(tx, system_id, viewer, EDIT, for_update=True)
            if node.owner_id is None:
                raise Conflict("Can't start node: it hasn't been allocated.")
            fields: dict[str, Any] = {}
            if distro_series is not None:
                fields["distro_series"] = distro_series
                fields["osystem"] = osystem or "ubuntu"
            if license_key is not None:
                fields["license_key"] = license_key
            if user_data is not None:
                await db_userdata.put(tx, node.id, user_data)
            if NodeStatus(node.status) == NodeStatus.ALLOCATED:
                await change_status(tx, node, NodeStatus.DEPLOYING, netboot=True, **fields)
            elif fields:
                await db_nodes.update(tx, node.id, **fields)
            return node

        node = await self.db.transaction(work)
        await self._after(on=[node])

    async def stop(self, viewer: Viewer, system_id: str, mode: str) -> bool:
        """Power a node down (``soft`` asks the OS first); False if no action was sent."""
        node = await self.db.transaction(
            lambda tx: load(tx, system_id, viewer, EDIT))
        return await self.power.power_off(node, mode)

    async def mark_failed(self, system_id: str, error: str) -> None:
        """An operation on the node failed (1.8's mark_failed); silently ignored when
        the node is NEW or already failed."""

        async def work(tx: Tx) -> None:
            node = await load(tx, system_id, Viewer.system(), ADMIN, for_update=True)
            status = NodeStatus(node.status)
            if status == NodeStatus.NEW or status in FAILURE_STATUS.values():
                return
            failed = FAILURE_STATUS.get(status)
            if failed is None:
                raise Conflict(f"Cannot mark node {system_id} failed in state "
                               f"{STATUS_DISPLAY[status]}.")
            await change_status(tx, node, failed, error=error)

        await self.db.transaction(work)
