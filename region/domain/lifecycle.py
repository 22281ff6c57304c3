"""
The node state machine of MAAS 1.8: statuses, allowed transitions, and the
sets of statuses in which each lifecycle operation is permitted.

Everything here is data plus small pure functions; callers (the API, the
metadata service, cluster RPC responders) look a node's status up, ask this
module what is allowed, and write the result themselves.

Transitions follow 1.8's ``NODE_TRANSITIONS`` (``maasserver/node_status.py``)
as ``Node.clean_status`` applied it on every save:

* keeping the same status is always allowed ("no transition is always a safe
  transition"), including for statuses whose row in the table does not list
  themselves;
* a new object (old status ``None``) may only start as NEW, MISSING or
  RETIRED;
* any other change must be listed, or :class:`NodeStateViolation` is raised
  with 1.8's text, ``Invalid transition: <Old> -> <New>.``, where a missing
  old status is displayed as ``Unknown``.  The API turns it into a 409.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class NodeStatus(enum.IntEnum):
    """``NODE_STATUS`` of 1.8; the values are stored and sent over the API."""

    NEW = 0
    COMMISSIONING = 1
    FAILED_COMMISSIONING = 2
    MISSING = 3
    READY = 4
    RESERVED = 5
    DEPLOYED = 6
    RETIRED = 7
    BROKEN = 8
    DEPLOYING = 9
    ALLOCATED = 10
    FAILED_DEPLOYMENT = 11
    RELEASING = 12
    FAILED_RELEASING = 13
    DISK_ERASING = 14
    FAILED_DISK_ERASING = 15


S = NodeStatus

#: How 1.8 shows each status to people (``NODE_STATUS_CHOICES``).
STATUS_DISPLAY: Mapping[NodeStatus, str] = {
    S.NEW: "New",
    S.COMMISSIONING: "Commissioning",
    S.FAILED_COMMISSIONING: "Failed commissioning",
    S.MISSING: "Missing",
    S.READY: "Ready",
    S.RESERVED: "Reserved",
    S.DEPLOYED: "Deployed",
    S.RETIRED: "Retired",
    S.BROKEN: "Broken",
    S.DEPLOYING: "Deploying",
    S.ALLOCATED: "Allocated",
    S.FAILED_DEPLOYMENT: "Failed deployment",
    S.RELEASING: "Releasing",
    S.FAILED_RELEASING: "Releasing failed",
    S.DISK_ERASING: "Disk erasing",
    S.FAILED_DISK_ERASING: "Failed disk erasing",
}

#: 1.8's ``NODE_TRANSITIONS``: old status (``None`` for a new node) → allowed new statuses.
ALLOWED_TRANSITIONS: Mapping[NodeStatus | None, frozenset[NodeStatus]] = {
    None: frozenset({S.NEW, S.MISSING, S.RETIRED}),
    S.NEW: frozenset({S.COMMISSIONING, S.MISSING, S.READY, S.RETIRED, S.BROKEN}),
    S.COMMISSIONING: frozenset({
        S.FAILED_COMMISSIONING, S.READY, S.RETIRED, S.MISSING, S.NEW, S.BROKEN}),
    S.FAILED_COMMISSIONING: frozenset({S.COMMISSIONING, S.MISSING, S.RETIRED, S.BROKEN}),
    S.READY: frozenset({
        S.COMMISSIONING, S.ALLOCATED, S.RESERVED, S.RETIRED, S.MISSING, S.BROKEN}),
    S.RESERVED: frozenset({
        S.READY, S.ALLOCATED, S.RETIRED, S.MISSING, S.BROKEN, S.DISK_ERASING, S.RELEASING}),
    S.ALLOCATED: frozenset({
        S.READY, S.RETIRED, S.MISSING, S.BROKEN, S.DEPLOYING, S.DISK_ERASING, S.RELEASING}),
    S.RELEASING: frozenset({S.READY, S.BROKEN, S.MISSING, S.FAILED_RELEASING}),
    S.DEPLOYING: frozenset({
        S.ALLOCATED, S.MISSING, S.BROKEN, S.FAILED_DEPLOYMENT, S.DEPLOYED, S.READY,
        S.DISK_ERASING, S.RELEASING}),
    S.FAILED_DEPLOYMENT: frozenset({
        S.ALLOCATED, S.MISSING, S.BROKEN, S.READY, S.DISK_ERASING, S.RELEASING}),
    S.DEPLOYED: frozenset({
        S.ALLOCATED, S.MISSING, S.BROKEN, S.READY, S.DISK_ERASING, S.RELEASING}),
    S.MISSING: frozenset({S.NEW, S.READY, S.ALLOCATED, S.COMMISSIONING, S.BROKEN}),
    S.RETIRED: frozenset({S.NEW, S.READY, S.MISSING, S.BROKEN}),
    S.BROKEN: frozenset({S.COMMISSIONING, S.READY, S.DISK_ERASING, S.RELEASING}),
    S.FAILED_RELEASING: frozenset({S.RELEASING, S.DISK_ERASING, S.READY, S.BROKEN}),
    S.DISK_ERASING: frozenset({
        S.BROKEN, S.DISK_ERASING, S.FAILED_DISK_ERASING, S.READY, S.RELEASING}),
    S.FAILED_DISK_ERASING: frozenset({
        S.DISK_ERASING, S.RELEASING, S.BROKEN, S.ALLOCATED, S.READY}),
}

#: ``mark_failed``: the failed status each in-progress status falls into.
FAILURE_STATUS: Mapping[NodeStatus, NodeStatus] = {
    S.COMMISSIONING: S.FAILED_COMMISSIONING,
    S.DEPLOYING: S.FAILED_DEPLOYMENT,
    S.RELEASING: S.FAILED_RELEASING,
    S.DISK_ERASING: S.FAILED_DISK_ERASING,
}

#: The failed statuses (1.8's ``is_failed_status``).
FAILED_STATUSES: frozenset[NodeStatus] = frozenset(FAILURE_STATUS.values())

#: ``node op=release``: statuses a node can be released (or erased) from.
RELEASABLE_STATUSES: frozenset[NodeStatus] = frozenset({
    S.ALLOCATED, S.RESERVED, S.BROKEN, S.DEPLOYING, S.DEPLOYED, S.FAILED_DEPLOYMENT,
    S.FAILED_DISK_ERASING, S.FAILED_RELEASING,
})

#: Metadata ``signal``: statuses in which a node may signal at all (else 409).
SIGNALABLE_STATUSES: frozenset[NodeStatus] = frozenset({
    S.BROKEN, S.COMMISSIONING, S.FAILED_COMMISSIONING, S.DEPLOYING, S.FAILED_DEPLOYMENT,
    S.READY, S.DISK_ERASING,
})

#: ``node op=abort_operation``: statuses with an operation in progress to abort.
ABORTABLE_STATUSES: frozenset[NodeStatus] = frozenset({
    S.DISK_ERASING, S.COMMISSIONING, S.DEPLOYING,
})

#: ``node op=commission`` (the node action): statuses commissioning may start from.
COMMISSIONABLE_STATUSES: frozenset[NodeStatus] = frozenset({
    S.NEW, S.FAILED_COMMISSIONING, S.READY, S.BROKEN,
})

#: Statuses the API 1.0 ``status`` field reports as DEPLOYED (6), for old clients.
FOLDED_STATUSES: frozenset[NodeStatus] = frozenset({
    S.DEPLOYED, S.DEPLOYING, S.ALLOCATED, S.FAILED_DEPLOYMENT, S.RELEASING,
    S.FAILED_RELEASING, S.DISK_ERASING, S.FAILED_DISK_ERASING,
})

_DEPLOYMENT_LABELS: Mapping[NodeStatus, str] = {
    S.DEPLOYED: "Deployed",
    S.DEPLOYING: "Deploying",
    S.FAILED_DEPLOYMENT: "Failed deployment",
}


class NodeStateViolation(Exception):
    """A status change the state machine forbids (1.8: HTTP 409)."""

    #: The API answers this error with 409 Conflict (see region.api.resource).
    api_status = 409


def display(status: NodeStatus | int | None) -> str:
    """The display name of a status; ``Unknown`` for None or an unknown value."""
    if status is None:
        return "Unknown"
    try:
        return STATUS_DISPLAY[NodeStatus(status)]
    except ValueError:
        return "Unknown"


def is_allowed(old: NodeStatus | None, new: NodeStatus) -> bool:
    """True when a node may go from old (None: not yet created) to new."""
    if old == new:
        return True
    return new in ALLOWED_TRANSITIONS.get(old, frozenset())


def check_transition(old: NodeStatus | None, new: NodeStatus) -> None:
    """Raise :class:`NodeStateViolation` unless a node may go from old to new.

    ``old`` is None for a node being created.
    """
    if not is_allowed(old, new):
        raise NodeStateViolation(f"Invalid transition: {display(old)} -> {display(new)}.")


def folded_status(status: NodeStatus | int) -> int:
    """The ``status`` field of the 1.0 API: 6 for every deployment-ish status.

    1.8 kept 1.0 clients working by folding the statuses added after 1.5
    (ALLOCATED, DEPLOYING, FAILED_DEPLOYMENT, RELEASING, ...) into DEPLOYED;
    ``substatus`` carries the real value.
    """
    status = NodeStatus(status)
    return int(S.DEPLOYED) if status in FOLDED_STATUSES else int(status)


def failed_status(status: NodeStatus) -> NodeStatus | None:
    """What ``mark_failed`` does to a node in status: the failed status to set,
    or None when the request is silently ignored (a NEW node, or one that has
    failed already).

    :raises NodeStateViolation: for any other status, with 1.8's text (which
        shows the numeric status).
    """
    if status in FAILURE_STATUS:
        return FAILURE_STATUS[status]
    if status == S.NEW or status in FAILED_STATUSES:
        return None
    raise NodeStateViolation(
        f"The status of the node is {int(status)}; this status cannot be transitioned "
        f"to a corresponding failed status.")


def deployment_status_label(status: NodeStatus | int) -> str:
    """``nodes op=deployment_status``: how far a node is in deployment."""
    return _DEPLOYMENT_LABELS.get(NodeStatus(status), "Not in deployment")
