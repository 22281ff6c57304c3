"""
Calling a cluster from an API operation, and the HTTP answer for each way
that can fail.

:func:`call` finds a live connection of the cluster (``Services.extras
["clusters"]``, a ``region.rpc.connections.ClusterConnections``) without
waiting, calls the command with a deadline no longer than the command's own,
and turns failures into API errors a person can act on:

- no connection, a cluster pending or rejected, no answer in time, the
  connection lost during the call: **503** with ``Retry-After: 10`` (1.8
  answered NoConnectionsAvailable this way; gomaasapi retries it);
- the cluster does not do this (yet) — it has no responder for the command
  (``UnhandledCommand``), or answers ``NotImplementedError`` (see
  :func:`typed_not_implemented`): **501**, the cluster's message passed on, no
  ``Retry-After`` (retrying cannot help until the cluster controller is
  upgraded);
- the cluster tried and failed (a declared error, or an undeclared failure,
  which it logged under the reference in its message): **503** without
  ``Retry-After``, with what the cluster said;
- an argument too large for one AMP value: **400**.

Arguments are never logged: they may carry passwords.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.error import ConnectionClosed
from twisted.logger import Logger
from twisted.protocols import amp

from region.api.context import RequestContext
from region.api.errors import APIError, BadRequest, ServiceUnavailable
from region.db.nodegroups import ClusterState, Nodegroup
from rpc.client import RPCClient
from rpc.errors import NoConnectionsAvailable, PayloadTooLarge, RPCError

log = Logger(namespace="region.api.cluster_calls")

#: Seconds an API request waits at most for a cluster's answer.
API_CALL_TIMEOUT = 30.0


class ClusterNotSupported(APIError):
    """The cluster controller does not (yet) do what was asked: 501."""

    status = 501


def not_connected_message(nodegroup: Nodegroup) -> str:
    """Why no call can reach this cluster now, in words a person can act on."""
    uuid = nodegroup.uuid
    if nodegroup.status == ClusterState.PENDING:
        return (f"Unable to connect to cluster {uuid}; it has not been accepted yet. An "
                "administrator accepts it with 'nodegroups op=accept'.")
    if nodegroup.status == ClusterState.REJECTED:
        return (f"Unable to connect to cluster {uuid}; it has been rejected by an "
                "administrator ('nodegroups op=accept' accepts it again).")
    return (f"Unable to connect to cluster {uuid}; no connections available. Check that "
            "its cluster controller (maas-cluster) is running and can reach the region.")


def connected_uuids(ctx: RequestContext) -> list[str]:
    """The accepted clusters this region process has a live connection to."""
    clusters = ctx.services.extras.get("clusters")
    return [] if clusters is None else list(clusters.connected_uuids())


def client_for(ctx: RequestContext, nodegroup: Nodegroup) -> RPCClient:
    """A client on a live connection of the cluster, or a 503 saying why there is none."""
    clusters = ctx.services.extras.get("clusters")
    try:
        if clusters is None:
            raise NoConnectionsAvailable(uuid=nodegroup.uuid)
        client: RPCClient = clusters.client_for(nodegroup.uuid)
    except NoConnectionsAvailable:
        raise ServiceUnavailable(not_connected_message(nodegroup)) from None
    return client


_NOT_IMPLEMENTED_CODE = b"NotImplementedError"
_typed_views: dict[type[amp.Command], type[amp.Command]] = {}


def typed_not_implemented(command: type[amp.Command]) -> type[amp.Command]:
    """
    command as this caller sees it: with ``NotImplementedError`` among its
    declared errors, so that a cluster's "I cannot do this yet" (error code
    ``NotImplementedError``, which ``cluster/`` answers to ImportBootImages and
    the enlistment probes) arrives typed, with its message, instead of as an
    unknown error.  Same command name and arguments: the wire format is the
    command's own.  Once ``rpc/`` declares the error itself, command is
    returned as it is.
    """
    if _NOT_IMPLEMENTED_CODE in getattr(command, "reverseErrors", {}):
        return command
    view = _typed_views.get(command)
    if view is None:
        view = type(command)(command.__name__, (command,), {
            "commandName": command.commandName, "__doc__": command.__doc__,
            "__module__": __name__, "errors": {NotImplementedError: _NOT_IMPLEMENTED_CODE}})
        _typed_views[command] = view
    return view


def _is_not_implemented(error: BaseException) -> bool:
    if isinstance(error, NotImplementedError | amp.UnhandledCommand):
        return True
    # An undeclared NotImplementedError arrives as an UNKNOWN error whose
    # description starts with its type (rpc.protocol).
    description = getattr(error, "description", "")
    return isinstance(error, amp.UnknownRemoteError) and str(description).startswith(
        "NotImplementedError")


def _remote_text(error: BaseException) -> str:
    text = getattr(error, "description", None)
    if text is None or isinstance(error, amp.UnhandledCommand):
        text = str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip() or type(error).__name__


async def call(ctx: RequestContext, nodegroup: Nodegroup, command: type[amp.Command], *,
               action: str, timeout: float = API_CALL_TIMEOUT,  # noqa: ASYNC109
               unsupported: str = "", **arguments: Any) -> dict[str, Any]:
    """
    Call command on the cluster and return its answer, or raise the API error
    for the failure (see the module docstring).  action completes "Cluster X
    cannot ..." in messages ("list its boot images"); unsupported is added to
    the 501 message when the cluster does not support the command yet.
    """
    client = client_for(ctx, nodegroup)
    uuid = nodegroup.uuid
    try:
        return await client.call(typed_not_implemented(command), timeout=timeout, **arguments)
    except DeferredTimeout:
        raise ServiceUnavailable(
            f"Cluster {uuid} did not answer in time when asked to {action}; "
            "try again shortly.") from None
    except (ConnectionClosed, amp.ProtocolSwitched) as error:
        log.warn("The connection to cluster {uuid} was lost during {command}: {error}",
                 uuid=uuid, command=command.__name__, error=type(error).__name__)
        raise ServiceUnavailable(
            f"The connection to cluster {uuid} was lost while asking it to {action}; "
            "try again shortly.") from None
    except PayloadTooLarge:
        raise BadRequest(f"Cannot ask cluster {uuid} to {action}: a parameter is too large "
                         "to send (64 KiB at most).") from None
    except (NotImplementedError, amp.UnhandledCommand, amp.RemoteAmpError, RPCError) as error:
        if _is_not_implemented(error):
            raise ClusterNotSupported(
                f"Cluster {uuid} cannot {action}: its cluster controller does not support "
                f"this yet ({command.__name__}: {_remote_text(error)})."
                + (f" {unsupported}" if unsupported else "")) from None
        log.warn("Cluster {uuid} failed {command}: {error}", uuid=uuid,
                 command=command.__name__, error=_remote_text(error))
        raise ServiceUnavailable(f"Cluster {uuid} could not {action}: {_remote_text(error)}",
                                 retry_after=None) from None


async def call_each(ctx: RequestContext, nodegroups: Sequence[Nodegroup],
                    command: type[amp.Command], *, action: str,
                    timeout: float = API_CALL_TIMEOUT,  # noqa: ASYNC109
                    unsupported: str = "", **arguments: Any
                    ) -> list[dict[str, Any] | APIError]:
    """
    :func:`call` on every cluster at once; in the same order, each cluster's
    answer or the API error its call raised.  Bounded by timeout overall.
    """

    async def one(nodegroup: Nodegroup) -> dict[str, Any] | APIError:
        try:
            return await call(ctx, nodegroup, command, action=action, timeout=timeout,
                              unsupported=unsupported, **arguments)
        except APIError as error:
            return error

    calls = [Deferred.fromCoroutine(one(nodegroup)) for nodegroup in nodegroups]
    results = await DeferredList(calls, fireOnOneErrback=True, consumeErrors=True)
    return [value for _, value in results]
