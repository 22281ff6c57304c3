"""
``POST <version>/?op=signal``: a node reports progress, results and outcome.

:func:`parse_signal` reads the request and :func:`decide` is MAAS 1.8's
table (§10.1) as a pure function of the node's status and the signalled
status.  :func:`apply_signal` carries the decision out in one transaction
with the node's row locked; what must happen after the commit (powering a
released node off, re-evaluating tags) is returned to the caller.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import Any

import attrs
from twisted.logger import Logger

from region.api.errors import BadRequest, Conflict, Forbidden
from region.api.params import Params
from region.db import nodes as db_nodes
from region.db import results as db_results
from region.db.pool import Tx
from region.domain.lifecycle import (
    FAILURE_STATUS,
    SIGNALABLE_STATUSES,
    STATUS_DISPLAY,
    NodeStatus,
)
from region.enlistment import check_power
from region.metadata.hooks import run_hook
from region.nodeops import NodeOps, change_status

log = Logger(namespace="region.metadata.signal")

OK, FAILED, WORKING = "OK", "FAILED", "WORKING"
SIGNAL_STATUSES = (OK, FAILED, WORKING)

INSTALLATION_FAILED = ("Installation failed (refer to the installation log for more "
                       "information).")
ERASE_FAILED = "Failed to erase disks."
#: 1.8 never overwrote the power settings of Moonshot (mscm) nodes.
KEEP_POWER_TYPES = frozenset({"mscm"})
#: The longest result name stored.
MAX_NAME = 255


@attrs.frozen
class ResultFile:
    name: str
    content: bytes


@attrs.frozen
class Signal:
    """One signal, as the node sent it."""

    status: str
    script_result: int = 0
    error: str = ""
    files: tuple[ResultFile, ...] = ()
    power_type: str | None = None
    power_parameters: dict[str, Any] | None = None


def parse_signal(params: Params) -> Signal:
    """Read a signal's parameters (400 when they are wrong)."""
    status = params.get("status")
    if not status:
        raise BadRequest("Missing parameter: status (one of OK, FAILED, WORKING).")
    if status not in SIGNAL_STATUSES:
        raise BadRequest(f"Unknown commissioning/deployment status: '{status}'")
    raw_result = params.get("script_result") or "0"
    try:
        script_result = int(raw_result)
    except ValueError:
        raise BadRequest(f"script_result must be an integer, not {raw_result!r}.") from None
    if not -(2**31) <= script_result < 2**31:
        raise BadRequest("script_result is out of range.")
    files = []
    for upload in params.all_files:
        if not upload.name or len(upload.name) > MAX_NAME or "\x00" in upload.name:
            raise BadRequest(f"Unusable result name {upload.name[:40]!r}.")
        files.append(ResultFile(upload.name, upload.content))
    power_type = params.get("power_type")
    power_parameters = None
    raw_power = params.get("power_parameters")
    if power_type is not None and raw_power:
        try:
            power_parameters = json.loads(raw_power)
        except ValueError:
            raise BadRequest("Failed to parse JSON power_parameters") from None
        if not isinstance(power_parameters, dict):
            raise BadRequest("power_parameters must be a JSON object.")
    return Signal(status=status, script_result=script_result, error=params.get("error") or "",
                  files=tuple(files), power_type=power_type, power_parameters=power_parameters)


class Action(enum.Enum):
    REFUSE = "refuse"  # 409: the node is not in a signalable state
    IGNORE = "ignore"  # signalable, but nothing to do
    COMMISSION = "commission"  # store results, run hooks, maybe change status
    INSTALL = "install"  # store installation results, maybe mark failed
    ERASE = "erase"  # release, fail, or nothing


@attrs.frozen
class Decision:
    action: Action
    #: The commissioning outcome (None: no status change).
    target: NodeStatus | None = None
    #: Mark the node failed with this error.
    failure: str | None = None
    #: Release the node (disk erasing finished).
    release: bool = False
    #: Store the signal's files as results of this type (None: ignore them).
    store_as: int | None = None


def decide(status: NodeStatus, signalled: str) -> Decision:
    """MAAS 1.8's signal table: what a signal means for a node in status."""
    if status not in SIGNALABLE_STATUSES:
        return Decision(Action.REFUSE)
    if status == NodeStatus.COMMISSIONING:
        target = {OK: NodeStatus.READY, FAILED: NodeStatus.FAILED_COMMISSIONING}.get(signalled)
        return Decision(Action.COMMISSION, target=target, store_as=db_results.COMMISSIONING)
    if status == NodeStatus.DEPLOYING:
        return Decision(Action.INSTALL, store_as=db_results.INSTALLATION,
                        failure=INSTALLATION_FAILED if signalled == FAILED else None)
    if status == NodeStatus.DISK_ERASING:
        return Decision(Action.ERASE, release=signalled == OK,
                        failure=ERASE_FAILED if signalled == FAILED else None)
    return Decision(Action.IGNORE)


@attrs.frozen
class Outcome:
    """What the caller does after the commit."""

    node: db_nodes.Node
    #: The node's status changed: re-evaluate its tags.
    retag: bool = False
    #: Power this node off (it was released).
    power_off: db_nodes.Node | None = None


async def _store_power(tx: Tx, node: db_nodes.Node, signal: Signal) -> None:
    if not signal.power_type or node.power_type in KEEP_POWER_TYPES:
        return
    cleaned = check_power(signal.power_type, signal.power_parameters)
    await db_nodes.update(tx, node.id, power_type=signal.power_type, power_parameters=cleaned)


async def _store_results(tx: Tx, node: db_nodes.Node, signal: Signal, result_type: int,
                         *, hooks: bool) -> None:
    script_result = signal.script_result if result_type == db_results.COMMISSIONING else 0
    for result in signal.files:
        await db_results.store(tx, node.id, result.name, result.content,
                               script_result=script_result, result_type=result_type)
        if hooks and script_result == 0:
            await run_hook(tx, node, result.name, result.content)


async def apply_signal(tx: Tx, nodeops: Callable[[], NodeOps], system_id: str,
                       signal: Signal) -> Outcome:
    """Carry a signal out inside tx (the node's row is locked); nodeops gives the
    lifecycle operations when a node must be released."""
    node = await db_nodes.get(tx, system_id, for_update=True)
    if node is None:  # deleted since the request was authenticated
        raise Forbidden("Not authenticated as a known node.")
    status = NodeStatus(node.status)
    decision = decide(status, signal.status)
    if decision.action == Action.REFUSE:
        raise Conflict(
            f"Node wasn't commissioning/installing (status is {STATUS_DISPLAY[status]})")
    if decision.action == Action.IGNORE:
        return Outcome(node)
    if decision.store_as is not None:
        await _store_results(tx, node, signal, decision.store_as,
                             hooks=decision.action == Action.COMMISSION)
    if decision.action == Action.COMMISSION:
        await _store_power(tx, node, signal)
        if decision.target is None:
            return Outcome(node)
        await change_status(tx, node, decision.target, owner_id=None, error=signal.error)
        return Outcome(node, retag=True)
    if decision.failure is not None:
        await change_status(tx, node, FAILURE_STATUS[status], error=decision.failure)
        return Outcome(node)
    if decision.release:
        return Outcome(node, power_off=await nodeops().release_in(tx, node))
    return Outcome(node)
