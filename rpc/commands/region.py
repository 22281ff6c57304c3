"""
Commands the region answers: what a cluster calls on the region.

Names of commands and of their arguments are MAAS 1.8's, byte for byte
(``provisioningserver/rpc/region.py``); only the Python side is ours.  Two
commands are our additions, each beside the 1.8 command it extends, which is
kept exactly as shipped:

- :class:`RegisterV2`: our clusters can be PENDING (waiting for an
  administrator's ``nodegroups op=accept``) or REJECTED, which 1.8's
  :class:`Register` cannot say except as the text of a
  ``CannotRegisterCluster`` error;
- :class:`UpdateNodePowerStates`: many observed power states in one call
  (1.8's :class:`UpdateNodePowerState` takes one node per call, which at
  thousands of nodes per cluster is thousands of calls a minute).
"""

from __future__ import annotations

import enum

from twisted.protocols import amp

from rpc.arguments import Choice, CompressedAmpList, ParsedURL, StructureAsJSON
from rpc.commands.base import RPCCommand, boot_sources, declare
from rpc.commands.common import Authenticate, Identify
from rpc.errors import (
    CannotRegisterCluster,
    ClusterRejected,
    CommissionNodeFailed,
    NodeAlreadyExists,
    NodeStateViolation,
    NoSuchCluster,
    NoSuchEventType,
    NoSuchNode,
)

__all__ = [
    "Authenticate",
    "ClusterStatus",
    "CommissionNode",
    "CreateNode",
    "GetArchiveMirrors",
    "GetBootSources",
    "GetBootSourcesV2",
    "GetClusterInterfaces",
    "GetClusterStatus",
    "GetProxies",
    "Identify",
    "ListNodePowerParameters",
    "MarkNodeFailed",
    "MonitorExpired",
    "Register",
    "RegisterEventType",
    "RegisterV2",
    "ReloadCluster",
    "ReportBootImages",
    "ReportForeignDHCPServer",
    "RequestNodeInfoByMACAddress",
    "SendEvent",
    "SendEventMACAddress",
    "UpdateLeases",
    "UpdateNodePowerState",
    "UpdateNodePowerStates",
]


class ClusterStatus(enum.Enum):
    """A cluster's standing with the region, as the wire spells it."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


_CLUSTER_STATUS = Choice({status: status.value.encode("ascii") for status in ClusterStatus})
#: What RegisterV2 may answer (a rejected cluster gets ClusterRejected instead).
_REGISTERED_STATUSES = (ClusterStatus.ACCEPTED, ClusterStatus.PENDING)


# -- Registration ------------------------------------------------------------


def _registration_arguments() -> list[tuple[bytes, amp.Argument]]:
    return [
        (b"uuid", amp.Unicode()),
        # The cluster's interfaces, as it discovered them.
        (
            b"networks",
            amp.AmpList(
                [
                    (b"interface", amp.Unicode()),
                    (b"ip", amp.Unicode()),
                    (b"subnet_mask", amp.Unicode()),
                ],
                optional=True,
            ),
        ),
        # The region's URL as the cluster sees it (MAAS_URL).
        (b"url", ParsedURL(optional=True)),
    ]


class Register(RPCCommand):
    """Register the calling cluster with the region (after Authenticate)."""

    since = "1.7"
    arguments = _registration_arguments()
    response = []
    # Our region raises ClusterPending or ClusterRejected here; both travel as
    # CannotRegisterCluster, with a message a 1.8 cluster logs.
    errors = declare(CannotRegisterCluster)


class RegisterV2(RPCCommand):
    """Register the calling cluster and say whether it is accepted or pending (ours)."""

    since = "1.8+mt1"
    arguments = _registration_arguments()
    # ACCEPTED: the region will use this cluster.  PENDING: it is connected but
    # waits for an administrator; poll GetClusterStatus or register again later.
    response = [
        (b"status", Choice({s: _CLUSTER_STATUS.choices[s] for s in _REGISTERED_STATUSES})),
    ]
    # A rejected cluster gets ClusterRejected (listed first: AMP picks the
    # first declared class that matches); anything else CannotRegisterCluster.
    errors = declare(ClusterRejected, CannotRegisterCluster)


class GetClusterStatus(RPCCommand):
    """Return the cluster's standing: PENDING, ACCEPTED or REJECTED."""

    since = "1.5"
    arguments = [(b"uuid", amp.Unicode())]
    response = [(b"status", _CLUSTER_STATUS)]
    errors = declare(NoSuchCluster)


class ReloadCluster(RPCCommand):
    """Ask the region to send the cluster all the state it should have (e.g. monitors)."""

    since = "1.7"
    arguments = [(b"cluster_uuid", amp.Unicode())]
    response = []


# -- Boot images and sources -------------------------------------------------


class ReportBootImages(RPCCommand):
    """Report the boot images the cluster has (a no-op in 1.8's region)."""

    since = "1.5"
    arguments = [
        (b"uuid", amp.Unicode()),
        (
            b"images",
            amp.AmpList(
                [
                    (b"architecture", amp.Unicode()),
                    (b"subarchitecture", amp.Unicode()),
                    (b"release", amp.Unicode()),
                    (b"purpose", amp.Unicode()),
                ]
            ),
        ),
    ]
    response = []


class GetBootSources(RPCCommand):
    """Return the boot sources and selections for the cluster (without ``os``)."""

    since = "1.6"
    deprecated = "1.7"
    arguments = [(b"uuid", amp.Unicode())]
    response = [(b"sources", boot_sources(with_os=False))]


class GetBootSourcesV2(RPCCommand):
    """Return the boot sources and selections for the cluster, selections with ``os``."""

    since = "1.7"
    arguments = [(b"uuid", amp.Unicode())]
    response = [(b"sources", boot_sources(with_os=True))]


class GetArchiveMirrors(RPCCommand):
    """Return the main and ports Ubuntu archive mirrors."""

    since = "1.7"
    arguments = []
    response = [(b"main", ParsedURL()), (b"ports", ParsedURL())]


class GetProxies(RPCCommand):
    """Return the HTTP and HTTPS proxies the cluster should use, if any."""

    since = "1.6"
    arguments = []
    response = [(b"http", ParsedURL(optional=True)), (b"https", ParsedURL(optional=True))]


# -- DHCP and interfaces -----------------------------------------------------


class UpdateLeases(RPCCommand):
    """Replace the region's record of the cluster's DHCP leases."""

    since = "1.7"
    arguments = [
        (b"uuid", amp.Unicode()),
        (b"mappings", CompressedAmpList([(b"ip", amp.Unicode()), (b"mac", amp.Unicode())])),
    ]
    response = []
    errors = declare(NoSuchCluster)


class ReportForeignDHCPServer(RPCCommand):
    """Report a DHCP server not run by MAAS on one of the cluster's interfaces."""

    since = "1.7"
    arguments = [
        (b"cluster_uuid", amp.Unicode()),
        (b"interface_name", amp.Unicode()),
        # Absent when no foreign server was seen.
        (b"foreign_dhcp_ip", amp.Unicode(optional=True)),
    ]
    response = []


class GetClusterInterfaces(RPCCommand):
    """Return the interfaces the region knows for the cluster."""

    since = "1.7"
    arguments = [(b"cluster_uuid", amp.Unicode())]
    response = [
        (
            b"interfaces",
            amp.AmpList(
                [(b"name", amp.Unicode()), (b"interface", amp.Unicode()), (b"ip", amp.Unicode())]
            ),
        )
    ]


# -- Nodes and power ---------------------------------------------------------


class ListNodePowerParameters(RPCCommand):
    """Return the next nodes of the cluster whose power state should be queried."""

    since = "1.7"
    arguments = [(b"uuid", amp.Unicode())]
    # In priority order, cut to fit one AMP value (rpc.arguments.fitting_prefix);
    # an empty list means "nothing is due: ask again later".
    response = [
        (
            b"nodes",
            amp.AmpList(
                [
                    (b"system_id", amp.Unicode()),
                    (b"hostname", amp.Unicode()),
                    (b"power_state", amp.Unicode()),
                    (b"power_type", amp.Unicode()),
                    # The driver's parameters: a free-form bag, hence JSON.
                    (b"context", StructureAsJSON()),
                ]
            ),
        )
    ]
    errors = declare(NoSuchCluster)


class UpdateNodePowerState(RPCCommand):
    """Record a node's observed power state (on, off, unknown, error)."""

    since = "1.7"
    arguments = [(b"system_id", amp.Unicode()), (b"power_state", amp.Unicode())]
    response = []
    errors = declare(NoSuchNode)


class UpdateNodePowerStates(RPCCommand):
    """Record many nodes' observed power states in one call (ours; see UpdateNodePowerState)."""

    since = "1.8+mt1"
    arguments = [
        # The calling cluster: only its own nodes are recorded.
        (b"uuid", amp.Unicode()),
        (
            b"states",
            CompressedAmpList(
                [
                    (b"system_id", amp.Unicode()),
                    # on, off, unknown or error (anything else refuses the whole call).
                    (b"power_state", amp.Unicode()),
                    # Milliseconds between the observation and this call (>= 0): the
                    # region dates the state from its own clock, and an observation
                    # older than the node's recorded one is ignored.
                    (b"age", amp.Integer()),
                ]
            ),
        ),
    ]
    # Reported nodes the region does not know as this cluster's (deleted, moved):
    # skipped; the others are recorded in one transaction.
    response = [(b"unknown", CompressedAmpList([(b"system_id", amp.Unicode())]))]
    errors = declare(NoSuchCluster)
    timeout = 60.0


class MarkNodeFailed(RPCCommand):
    """Mark a node as failed, with a description of what went wrong."""

    since = "1.7"
    arguments = [(b"system_id", amp.Unicode()), (b"error_description", amp.Unicode())]
    response = []
    errors = declare(NodeStateViolation, NoSuchNode)


class CreateNode(RPCCommand):
    """Create (enlist) a node found by the cluster; return its system_id."""

    since = "1.7"
    arguments = [
        (b"cluster_uuid", amp.Unicode()),
        (b"architecture", amp.Unicode()),
        (b"power_type", amp.Unicode()),
        # A JSON object, as text.
        (b"power_parameters", amp.Unicode()),
        (b"mac_addresses", amp.ListOf(amp.Unicode())),
        (b"hostname", amp.Unicode(optional=True)),
    ]
    response = [(b"system_id", amp.Unicode())]
    errors = declare(NodeAlreadyExists)


class CommissionNode(RPCCommand):
    """Start commissioning a node on behalf of a user (by username)."""

    since = "1.7"
    arguments = [(b"system_id", amp.Unicode()), (b"user", amp.Unicode())]
    response = []
    errors = declare(CommissionNodeFailed)


class RequestNodeInfoByMACAddress(RPCCommand):
    """Return what the cluster needs to boot the node that owns a MAC address."""

    since = "1.7"
    arguments = [(b"mac_address", amp.Unicode())]
    response = [
        (b"system_id", amp.Unicode()),
        (b"hostname", amp.Unicode()),
        (b"status", amp.Integer()),
        (b"boot_type", amp.Unicode()),
        (b"osystem", amp.Unicode()),
        (b"distro_series", amp.Unicode()),
        (b"architecture", amp.Unicode()),
        (b"purpose", amp.Unicode()),
    ]
    errors = declare(NoSuchNode)


class MonitorExpired(RPCCommand):
    """Tell the region that a monitor set by StartMonitors reached its deadline."""

    since = "1.7"
    # context: the one given to StartMonitors, returned unchanged.
    arguments = [(b"id", amp.Unicode()), (b"context", StructureAsJSON())]
    response = []


# -- Events ------------------------------------------------------------------


class RegisterEventType(RPCCommand):
    """Declare an event type (name, description, log level) before sending events of it."""

    since = "1.7"
    arguments = [
        (b"name", amp.Unicode()),
        (b"description", amp.Unicode()),
        (b"level", amp.Integer()),
    ]
    response = []


class _SendEvent(RPCCommand):
    """Base of the two ways of sending an event about a node."""

    response = []
    errors = declare(NoSuchNode, NoSuchEventType)


class SendEvent(_SendEvent):
    """Record an event about a node, given its system_id."""

    since = "1.7"
    arguments = [
        (b"system_id", amp.Unicode()),
        (b"type_name", amp.Unicode()),
        (b"description", amp.Unicode()),
    ]


class SendEventMACAddress(_SendEvent):
    """Record an event about a node, given one of its MAC addresses."""

    since = "1.7"
    arguments = [
        (b"mac_address", amp.Unicode()),
        (b"type_name", amp.Unicode()),
        (b"description", amp.Unicode()),
    ]
