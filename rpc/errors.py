"""
The exceptions that cross the AMP wire, under their MAAS 1.8 wire names.

AMP sends an error as a code and a text description; the caller's side turns
the code back into an exception class through the command's ``errors`` map,
calling the class with the description as its only argument.  So every class
here can be built from one string, and its wire name (:func:`wire_name`) is its
class name, as in 1.8's ``provisioningserver/rpc/exceptions.py``.

A few classes are ours, not 1.8's, and are marked so: :class:`NotAuthenticated`
(the authentication gate of :mod:`rpc.protocol`), :class:`ClusterPending` and
:class:`ClusterRejected` (our clusters wait for an administrator's decision,
which 1.8 clusters did not), and :class:`PayloadTooLarge` (a local error, never
sent on purpose: a value would not fit AMP's 64 KiB limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.protocols import amp

#: The AMP error code of bad input that a command has no declared error for;
#: either side may answer it, with a text that says what was wrong.
INVALID_ARGUMENT = b"InvalidArgument"


def bad_argument(message: str) -> amp.RemoteAmpError:
    """A refusal of bad input, sent to the peer as it is (never logged as a bug)."""
    return amp.RemoteAmpError(INVALID_ARGUMENT, message)


class RPCError(Exception):
    """Base class for every error declared by an RPC command."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def wire_name(exception_type: type[BaseException]) -> bytes:
    """The AMP error code of exception_type: its class name, as 1.8 spells it."""
    return exception_type.__name__.encode("ascii")


# -- Connections and the handshake -------------------------------------------


class NoConnectionsAvailable(RPCError):
    """There is no connection to the cluster (or region) that was asked for."""

    def __init__(self, message: str = "", uuid: str | None = None) -> None:
        super().__init__(message)
        self.uuid = uuid


class AuthenticationFailed(RPCError):
    """The peer could not prove that it knows the shared secret."""


class NotAuthenticated(RPCError):
    """A command arrived before its sender was authenticated (ours, not 1.8's)."""


class RegistrationFailed(RPCError):
    """The region did not register this cluster; the connection is useless."""


class CannotRegisterCluster(RPCError):
    """The region refused to register the cluster (1.8: form errors)."""


class ClusterPending(CannotRegisterCluster):
    """The cluster is known but an administrator has not accepted it yet (ours)."""


class ClusterRejected(CannotRegisterCluster):
    """An administrator rejected the cluster (ours)."""


# -- Things the region reports -----------------------------------------------


class NoSuchCluster(RPCError):
    """The cluster UUID is unknown to the region."""

    @classmethod
    def from_uuid(cls, uuid: str) -> NoSuchCluster:
        return cls(f"The cluster (NodeGroup) with UUID {uuid} could not be found.")


class NoSuchNode(RPCError):
    """The node (by system_id or MAC address) is unknown to the region."""

    @classmethod
    def from_system_id(cls, system_id: str) -> NoSuchNode:
        return cls(f"Node with system_id={system_id} could not be found.")

    @classmethod
    def from_mac_address(cls, mac_address: str) -> NoSuchNode:
        return cls(f"Node with mac_address={mac_address} could not be found.")


class NoSuchEventType(RPCError):
    """The event type has not been registered with RegisterEventType."""

    @classmethod
    def from_name(cls, name: str) -> NoSuchEventType:
        return cls(f"Event type with name={name} could not be found.")


class NodeStateViolation(RPCError):
    """The node's status does not allow what was asked."""


class NodeAlreadyExists(RPCError):
    """A node with one of the given MAC addresses already exists."""


class CommissionNodeFailed(RPCError):
    """The region could not start commissioning the node."""


# -- Things a cluster reports ------------------------------------------------


class NoSuchOperatingSystem(RPCError):
    """The cluster has no operating system by that name."""


class CannotConfigureDHCP(RPCError):
    """The DHCP server's configuration could not be written or checked."""


class CannotCreateHostMap(RPCError):
    """A static DHCP host map could not be created."""


class CannotRemoveHostMap(RPCError):
    """A static DHCP host map could not be removed."""


class NoIPFoundForMACAddress(RPCError):
    """No IP address could be found (via ARP) for a MAC address."""


class PowerActionAlreadyInProgress(RPCError):
    """A power change in the other direction is already running for the node."""


class UnknownPowerType(RPCError):
    """The cluster has no driver for the power type (1.8: poweraction.py)."""


class PowerActionFail(RPCError):
    """The power driver failed (1.8: poweraction.py)."""


# -- Local errors ------------------------------------------------------------


class MultipleFailures(RPCError):
    """Several things failed at once; ``failures`` holds them (local use)."""

    def __init__(self, *failures: Any) -> None:
        text = [f for f in failures if isinstance(f, str)]
        super().__init__("; ".join(text) if text else f"{len(failures)} failures")
        self.failures: Sequence[Any] = [f for f in failures if not isinstance(f, str)]


class PayloadTooLarge(ValueError):
    """
    A value would not fit in one AMP value (at most 65,535 bytes).

    Raised before anything is written, so the stream is never corrupted: the
    caller gets this error and the connection carries on.
    """

    def __init__(self, name: str, size: int | None, limit: int) -> None:
        would_be = f"would be {size:,} bytes" if size is not None else "is too large"
        super().__init__(
            f"AMP value {name!r} {would_be}; an AMP value may be at most "
            f"{limit:,} bytes (compress it, page it or send less)"
        )
        self.name = name
        self.size = size
        self.limit = limit
