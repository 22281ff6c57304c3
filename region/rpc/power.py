"""
ClusterPowerControl: switching nodes on and off through their cluster.

It implements ``region.nodeops.PowerControl``: ``power_on(node)`` and
``power_off(node, mode)`` send PowerOn/PowerOff, with the node's power type
and effective power parameters, to a connection of the node's cluster
(``ClusterConnections.client_for``) and return True once the cluster has
accepted the action (the cluster carries it out and reports back).  They
return False, sending nothing, when the node's power type cannot do it (no
power type, Wake-on-LAN without a MAC, or stopping a Wake-on-LAN node):
the node is then started or stopped by hand, as in 1.8.

``query_power_state(node)`` asks PowerQuery (bounded by a deadline),
records the answer as UpdateNodePowerState would, and returns it.

Whenever the cluster cannot act — not connected, pending or rejected, a
power action already in progress, no driver for the power type, no answer
in time — they raise :class:`PowerUnavailable`, an API error with status
503 (``api_status``), ``Retry-After`` and a message a person understands.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.logger import Logger
from twisted.protocols import amp

from power.registry import is_queryable
from region.api.errors import ServiceUnavailable
from region.db import nodes as db_nodes
from region.db import power as db_power
from region.db.pool import Database, Tx
from region.domain.power_parameters import (
    can_be_started,
    can_be_stopped,
    effective_power_parameters,
)
from region.rpc.clusterops import record_power_state
from region.rpc.connections import ClusterConnections
from rpc.client import RPCClient
from rpc.commands.cluster import PowerOff, PowerOn, PowerQuery
from rpc.commands.region import ClusterStatus
from rpc.errors import (
    NoConnectionsAvailable,
    PowerActionAlreadyInProgress,
    PowerActionFail,
    UnknownPowerType,
)

log = Logger(namespace="region.rpc.power")


class PowerUnavailable(ServiceUnavailable):
    """The node's cluster cannot carry out a power action now (HTTP 503)."""

    api_status = 503


def _describe(node: db_nodes.Node) -> str:
    return f"node {node.system_id} ({node.hostname})"


class ClusterPowerControl:
    """
    Power actions through the node's cluster.

    :param db: for the node's primary MAC and for recording queried states.
    :param clusters: the connected clusters.
    :param connect_wait: seconds to wait for the cluster to connect before
        giving up (0: fail at once, the default; an API call never hangs).
    :param query_timeout: deadline of a PowerQuery, at most the command's own.
    """

    def __init__(self, db: Database, clusters: ClusterConnections, *,
                 connect_wait: float = 0.0, query_timeout: float = 45.0) -> None:
        self.db = db
        self.clusters = clusters
        self.connect_wait = connect_wait
        self.query_timeout = query_timeout

    # -- PowerControl ------------------------------------------------------------

    async def power_on(self, node: db_nodes.Node) -> bool:
        context = await self.context_for(node)
        if not can_be_started(node.power_type, context):
            log.info("{system_id}: its power type cannot start it; start it by hand",
                     system_id=node.system_id)
            return False
        await self._send(PowerOn, node, context, "on")
        return True

    async def power_off(self, node: db_nodes.Node, mode: str = "hard") -> bool:
        if not can_be_stopped(node.power_type):
            log.info("{system_id}: its power type cannot stop it; stop it by hand",
                     system_id=node.system_id)
            return False
        context = await self.context_for(node)
        context["power_off_mode"] = "soft" if mode == "soft" else "hard"
        await self._send(PowerOff, node, context, "off")
        return True

    async def query_power_state(self, node: db_nodes.Node) -> str:
        """Ask the node's power driver for its state; record and return it."""
        if not node.power_type:
            raise PowerUnavailable(
                f"Cannot query the power state of {_describe(node)}: it has no power type.",
                retry_after=None)
        if not is_queryable(node.power_type):
            raise PowerUnavailable(
                f"Cannot query the power state of {_describe(node)}: power type "
                f"{node.power_type!r} cannot report it.", retry_after=None)
        context = await self.context_for(node)
        answer = await self._call(PowerQuery, node, context, "query", self.query_timeout)
        state = str(answer.get("state", ""))
        if state not in db_power.POWER_STATES:
            raise PowerUnavailable(
                f"The power driver of {_describe(node)} answered {state[:40]!r}, which is not "
                "a power state.")
        await self.db.transaction(lambda tx: record_power_state(tx, node.system_id, state))
        return state

    # -- Helpers -----------------------------------------------------------------

    async def context_for(self, node: db_nodes.Node) -> dict[str, Any]:
        """The node's effective power parameters (reference §7.2)."""

        async def primary(tx: Tx) -> str | None:
            return await db_power.primary_mac(tx, node.id)

        mac = await self.db.transaction(primary)
        return effective_power_parameters(
            system_id=node.system_id, power_type=node.power_type,
            power_parameters=node.power_parameters, status=node.status, primary_mac=mac)

    async def client_for(self, node: db_nodes.Node, action: str) -> RPCClient:
        """A client for the node's cluster, or PowerUnavailable saying why there is none."""
        uuid = node.nodegroup_uuid
        try:
            if self.connect_wait > 0:
                return await self.clusters.wait_for_client(uuid, self.connect_wait)
            return self.clusters.client_for(uuid)
        except NoConnectionsAvailable:
            status = self.clusters.status_of(uuid)
            if status is ClusterStatus.PENDING:
                why = (f"its cluster {uuid} has not been accepted yet (an administrator "
                       "accepts it with 'nodegroups op=accept')")
            elif status is ClusterStatus.REJECTED:
                why = f"its cluster {uuid} has been rejected by an administrator"
            else:
                why = (f"its cluster {uuid} is not connected to the region; check that the "
                       "cluster controller (maas-cluster) is running and can reach the region")
            raise PowerUnavailable(f"Cannot {action} {_describe(node)}: {why}.") from None

    async def _send(self, command: type[amp.Command], node: db_nodes.Node,
                    context: dict[str, Any], state: str) -> None:
        await self._call(command, node, context, f"power {state}", None)
        log.info("{system_id}: asked cluster {uuid} to power it {state}",
                 system_id=node.system_id, uuid=node.nodegroup_uuid, state=state)

    async def _call(self, command: type[amp.Command], node: db_nodes.Node,
                    context: dict[str, Any], action: str,
                    timeout: float | None) -> dict[str, Any]:  # noqa: ASYNC109
        client = await self.client_for(node, action)
        try:
            return await client.call(command, timeout=timeout, system_id=node.system_id,
                                     hostname=node.hostname, power_type=node.power_type,
                                     context=context)
        except PowerActionAlreadyInProgress as error:
            raise PowerUnavailable(
                f"Cannot {action} {_describe(node)}: another power action is in progress "
                f"for it ({error}); try again when it has finished.") from None
        except (UnknownPowerType, NotImplementedError) as error:
            raise PowerUnavailable(
                f"Cannot {action} {_describe(node)}: its cluster {node.nodegroup_uuid} "
                f"cannot drive power type {node.power_type!r} ({error}).") from None
        except PowerActionFail as error:
            raise PowerUnavailable(
                f"Cannot {action} {_describe(node)}: the power driver failed: {error}") from None
        except DeferredTimeout:
            raise PowerUnavailable(
                f"Cannot {action} {_describe(node)}: its cluster {node.nodegroup_uuid} did "
                "not answer in time.") from None
        except Exception as error:  # lost connection, refused, a failure on the cluster
            log.warn("{command} for {system_id} failed on cluster {uuid}: {error}",
                     command=command.__name__, system_id=node.system_id,
                     uuid=node.nodegroup_uuid, error=f"{type(error).__name__}: {error}")
            raise PowerUnavailable(
                f"Cannot {action} {_describe(node)}: the call to its cluster "
                f"{node.nodegroup_uuid} failed ({type(error).__name__}).") from None
