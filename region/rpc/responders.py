"""
The region's answers to the commands of ``rpc.commands.region``.

:class:`RegionResponders` is mixed into the region's protocol
(``region.rpc.service.RegionServerProtocol``); each responder decodes its
arguments, calls ``region.rpc.clusterops`` / ``registration`` and encodes the
reply.  It also adds a second gate behind the authentication gate of
``rpc.protocol``: until its cluster is registered and ACCEPTED, a connection
may only Register (or RegisterV2) and ask GetClusterStatus; anything else is
refused with NotAuthenticated (declared by every command), and so is a
command naming another cluster's uuid than the connection's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.protocols import amp

from region.db.pool import Database
from region.nodeops import NodeOps
from region.rpc import clusterops, registration
from region.rpc.clusterops import PowerMonitorPolicy
from region.rpc.connections import ClusterConnections
from rpc.commands.common import Authenticate, Identify
from rpc.commands.region import (
    ClusterStatus,
    CommissionNode,
    CreateNode,
    GetArchiveMirrors,
    GetBootSources,
    GetBootSourcesV2,
    GetClusterInterfaces,
    GetClusterStatus,
    GetProxies,
    ListNodePowerParameters,
    MarkNodeFailed,
    MonitorExpired,
    Register,
    RegisterEventType,
    RegisterV2,
    ReloadCluster,
    ReportBootImages,
    ReportForeignDHCPServer,
    RequestNodeInfoByMACAddress,
    SendEvent,
    SendEventMACAddress,
    UpdateLeases,
    UpdateNodePowerState,
    UpdateNodePowerStates,
)
from rpc.errors import (
    CannotRegisterCluster,
    ClusterPending,
    ClusterRejected,
    NoSuchCluster,
    NotAuthenticated,
    wire_name,
)

#: Commands any authenticated connection may send, registered and accepted or not.
OPEN_COMMANDS = frozenset(command.commandName for command in (
    Identify, Authenticate, Register, RegisterV2, GetClusterStatus))
#: Argument names that carry a cluster's uuid.
_UUID_ARGUMENTS = (b"uuid", b"cluster_uuid")


class RegionServices(Protocol):
    """What the responders need of the region (``region.rpc.service.RegionRPC``)."""

    db: Database
    clusters: ClusterConnections
    clock: IReactorTime
    maas_url: str
    power_policy: PowerMonitorPolicy

    @property
    def nodeops(self) -> NodeOps: ...


def refusal(message: str) -> amp.RemoteAmpError:
    """A NotAuthenticated answer (every command declares it), not logged as a bug."""
    return amp.RemoteAmpError(wire_name(NotAuthenticated), message)


class RegionResponders(amp.AMP):
    """
    Responders for a cluster's commands.  The protocol that mixes this in sets
    ``region`` (:class:`RegionServices`) and ``cluster_uuid`` (the registered
    cluster, or None), and provides ``when_identified()`` (its peer's
    Identify answer).
    """

    log = Logger()
    region: RegionServices
    cluster_uuid: str | None

    def when_identified(self) -> Deferred[str]:
        raise NotImplementedError

    # -- The registration gate -----------------------------------------------

    def locateResponder(self, name: bytes) -> Callable[[amp.AmpBox], Any] | None:
        responder: Callable[[amp.AmpBox], Any] | None = super().locateResponder(name)
        if responder is None or name in OPEN_COMMANDS:
            return responder
        return lambda box: self._admit(name, responder, box)

    def _admit(self, name: bytes, responder: Callable[[amp.AmpBox], Any],
               box: amp.AmpBox) -> Deferred[Any]:
        uuid = self.cluster_uuid
        if uuid is None:
            return fail(self._refuse(name, "this connection's cluster has not registered; "
                                           "send Register or RegisterV2 first"))
        for key in _UUID_ARGUMENTS:
            named = box.get(key)
            if named is not None and named.decode("utf-8", "replace") != uuid:
                return fail(self._refuse(name, f"this connection is cluster {uuid}'s; it "
                                               "cannot act for another cluster"))
        if self.region.clusters.status_of(uuid) is ClusterStatus.ACCEPTED:
            return maybeDeferred(responder, box)
        # Not accepted as far as this process knows: an administrator may
        # have accepted it since (perhaps through another region process).
        return Deferred.fromCoroutine(self._admit_after_check(name, responder, box, uuid))

    async def _admit_after_check(self, name: bytes, responder: Callable[[amp.AmpBox], Any],
                                 box: amp.AmpBox, uuid: str) -> Any:
        status = await registration.cluster_status(self.region.db, uuid)
        if status is not None:
            self.region.clusters.set_status(uuid, status)
        if status is ClusterStatus.ACCEPTED:
            return await maybeDeferred(responder, box)
        state = "unknown to the region" if status is None else status.value.lower()
        raise self._refuse(name, f"cluster {uuid} is {state}; only an accepted cluster is "
                                 "given work (an administrator accepts it with "
                                 "'nodegroups op=accept')")

    def _refuse(self, name: bytes, reason: str) -> amp.RemoteAmpError:
        command = name.decode("ascii", "replace")
        self.log.warn("Refused {command} from cluster {uuid}: {reason}",
                      command=command, uuid=self.cluster_uuid, reason=reason)
        return refusal(f"{command} refused: {reason}.")

    # -- Registration ----------------------------------------------------------

    async def _register(self, uuid: str, networks: list[dict[str, str]] | None,
                        url: Any) -> ClusterStatus:
        try:
            ident = await self.when_identified()
        except Exception:
            raise CannotRegisterCluster(
                "The region could not identify this connection's cluster (Identify "
                "failed); reconnect and try again.") from None
        if ident != uuid:
            raise CannotRegisterCluster(
                f"This connection identified itself as cluster {ident!r}; it cannot "
                f"register as {uuid!r}.")
        if self.cluster_uuid is not None and self.cluster_uuid != uuid:
            raise CannotRegisterCluster(
                f"This connection is registered as cluster {self.cluster_uuid}.")
        status = await registration.register_cluster(self.region.db, uuid, networks, url)
        self.cluster_uuid = uuid
        self.region.clusters.add(uuid, self, status)
        self.log.info("Cluster {uuid} registered: {status}", uuid=uuid, status=status.value)
        return status

    @Register.responder
    async def register(self, uuid: str, networks: list[dict[str, str]] | None = None,
                       url: Any = None) -> dict[str, Any]:
        status = await self._register(uuid, networks, url)
        if status is ClusterStatus.REJECTED:
            raise ClusterRejected(rejected_message(uuid))
        if status is ClusterStatus.PENDING:
            raise ClusterPending(pending_message(uuid))
        return {}

    @RegisterV2.responder
    async def register_v2(self, uuid: str, networks: list[dict[str, str]] | None = None,
                          url: Any = None) -> dict[str, Any]:
        status = await self._register(uuid, networks, url)
        if status is ClusterStatus.REJECTED:
            raise ClusterRejected(rejected_message(uuid))
        return {"status": status}

    @GetClusterStatus.responder
    async def get_cluster_status(self, uuid: str) -> dict[str, Any]:
        status = await registration.cluster_status(self.region.db, uuid)
        if status is None:
            raise NoSuchCluster.from_uuid(uuid)
        self.region.clusters.set_status(uuid, status)
        return {"status": status}

    @ReloadCluster.responder
    def reload_cluster(self, cluster_uuid: str) -> dict[str, Any]:
        # The region keeps no per-cluster state to send again yet (1.8 declared
        # this command and answered nothing either).
        return {}

    # -- Power -------------------------------------------------------------------

    @ListNodePowerParameters.responder
    async def list_node_power_parameters(self, uuid: str) -> dict[str, Any]:
        nodes = await clusterops.list_power_parameters(self.region.db, uuid,
                                                       self.region.power_policy)
        return {"nodes": nodes}

    @UpdateNodePowerState.responder
    async def update_node_power_state(self, system_id: str, power_state: str) -> dict[str, Any]:
        await clusterops.update_power_state(self.region.db, system_id, power_state)
        return {}

    @UpdateNodePowerStates.responder
    async def update_node_power_states(self, uuid: str,
                                       states: list[dict[str, Any]]) -> dict[str, Any]:
        unknown = await clusterops.update_power_states(self.region.db, uuid, states)
        if unknown:
            self.log.info("Cluster {uuid} reported the power of {count} node(s) it does not "
                          "have, e.g. {example}", uuid=uuid, count=len(unknown),
                          example=unknown[0])
        return {"unknown": [{"system_id": system_id} for system_id in unknown]}

    # -- Nodes ---------------------------------------------------------------

    @MarkNodeFailed.responder
    async def mark_node_failed(self, system_id: str, error_description: str) -> dict[str, Any]:
        await clusterops.mark_failed(self.region.nodeops, system_id, error_description)
        return {}

    @CreateNode.responder
    async def create_node(self, cluster_uuid: str, architecture: str, power_type: str,
                          power_parameters: str, mac_addresses: list[str],
                          hostname: str | None = None) -> dict[str, Any]:
        system_id = await clusterops.create_node(
            self.region.db, cluster_uuid=cluster_uuid, architecture=architecture,
            power_type=power_type, power_parameters=power_parameters,
            mac_addresses=mac_addresses, hostname=hostname)
        return {"system_id": system_id}

    @CommissionNode.responder
    async def commission_node(self, system_id: str, user: str) -> dict[str, Any]:
        await clusterops.commission_node(self.region.db, self.region.nodeops, system_id, user)
        return {}

    @MonitorExpired.responder
    async def monitor_expired(self, id: str, context: Any) -> dict[str, Any]:
        await clusterops.monitor_expired(self.region.db, id, context)
        return {}

    @RequestNodeInfoByMACAddress.responder
    async def request_node_info(self, mac_address: str) -> dict[str, Any]:
        return await clusterops.node_info_by_mac(self.region.db, mac_address)

    # -- Events --------------------------------------------------------------

    @RegisterEventType.responder
    async def register_event_type(self, name: str, description: str,
                                  level: int) -> dict[str, Any]:
        await clusterops.register_event_type(self.region.db, name, description, level)
        return {}

    @SendEvent.responder
    async def send_event(self, system_id: str, type_name: str,
                         description: str) -> dict[str, Any]:
        await clusterops.send_event(self.region.db, system_id, type_name, description)
        return {}

    @SendEventMACAddress.responder
    async def send_event_mac_address(self, mac_address: str, type_name: str,
                                     description: str) -> dict[str, Any]:
        await clusterops.send_event_mac(self.region.db, mac_address, type_name, description)
        return {}

    # -- Boot images and configuration -----------------------------------------

    @ReportBootImages.responder
    def report_boot_images(self, uuid: str, images: list[dict[str, str]]) -> dict[str, Any]:
        return {}  # a no-op, as in 1.8

    @GetBootSources.responder
    def get_boot_sources(self, uuid: str) -> dict[str, Any]:
        return {"sources": clusterops.boot_sources(self.region.maas_url, with_os=False)}

    @GetBootSourcesV2.responder
    def get_boot_sources_v2(self, uuid: str) -> dict[str, Any]:
        return {"sources": clusterops.boot_sources(self.region.maas_url, with_os=True)}

    @GetArchiveMirrors.responder
    async def get_archive_mirrors(self) -> dict[str, Any]:
        return await clusterops.archive_mirrors(self.region.db)

    @GetProxies.responder
    async def get_proxies(self) -> dict[str, Any]:
        return await clusterops.proxies(self.region.db)

    # -- Networks and DHCP ---------------------------------------------------

    @GetClusterInterfaces.responder
    async def get_cluster_interfaces(self, cluster_uuid: str) -> dict[str, Any]:
        return {"interfaces": await clusterops.cluster_interfaces(self.region.db, cluster_uuid)}

    @UpdateLeases.responder
    async def update_leases(self, uuid: str, mappings: list[dict[str, str]]) -> dict[str, Any]:
        await clusterops.update_leases(self.region.db, uuid, mappings)
        return {}

    @ReportForeignDHCPServer.responder
    async def report_foreign_dhcp_server(self, cluster_uuid: str, interface_name: str,
                                         foreign_dhcp_ip: str | None = None) -> dict[str, Any]:
        await clusterops.report_foreign_dhcp(self.region.db, cluster_uuid, interface_name,
                                             foreign_dhcp_ip)
        return {}


def pending_message(uuid: str) -> str:
    return (f"Cluster {uuid} is registered but waits for an administrator to accept it "
            "('maas <profile> nodegroups accept uuid=...'); it gets no work until then.")


def rejected_message(uuid: str) -> str:
    return (f"Cluster {uuid} has been rejected by an administrator; the region will not "
            "use it unless it is accepted ('nodegroups op=accept').")
