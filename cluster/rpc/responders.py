"""
The cluster's answers to the commands of ``rpc.commands.cluster``.

:class:`ClusterResponders` is mixed into the cluster's protocol
(``cluster.rpc.protocol.ClusterClientProtocol``).  Responders stay thin:
decode, call the power service or a catalogue, encode.  Identify and
Authenticate are answered by ``rpc.protocol.RPCProtocol`` itself, and the
authentication gate there refuses everything else until the region has
proved it knows the shared secret.

Not done yet, and how each says so:

- ListBootImages / ListBootImagesV2 answer an empty list: the cluster has no
  image store until the boot-images issue.
- ImportBootImages answers an error coded ``NotImplementedError`` (declared
  by the command) with a message saying the cluster cannot import images
  yet, rather than pretending to start an import.  IsImportBootImagesRunning
  answers ``running=False``, which is simply true.

The enlistment probes (AddVirsh, AddESXi, AddSeaMicro15k, AddVMware,
EnlistNodesFrom{MSCM,UCSM,MicrosoftOCS}) are answered as soon as the request
is checked; the probe runs in the background (``cluster.probes``).  A
request that cannot work (a malformed address) is answered with an error
coded ``InvalidArgument`` saying why; AddSeaMicro15k answers
``NoIPFoundForMACAddress`` when the chassis' MAC is not in the ARP cache.

Commands not answered at all (DHCP, host maps, monitors, tags, preseeds,
license keys) belong to later issues; AMP answers them ``UNHANDLED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.protocols import amp

from cluster.osystems import list_architectures, list_operating_systems, release_title
from cluster.probes import ProbeRefused, ProbeReport, ProbeRequest
from power.registry import describe_power_types
from rpc.commands.cluster import (
    AddESXi,
    AddSeaMicro15k,
    AddVirsh,
    AddVMware,
    DescribePowerTypes,
    EnlistNodesFromMicrosoftOCS,
    EnlistNodesFromMSCM,
    EnlistNodesFromUCSM,
    GetOSReleaseTitle,
    ImportBootImages,
    IsImportBootImagesRunning,
    ListBootImages,
    ListBootImagesV2,
    ListOperatingSystems,
    ListSupportedArchitectures,
    PowerOff,
    PowerOn,
    PowerQuery,
)
from rpc.errors import NoSuchOperatingSystem, bad_argument

#: The AMP error code of "this cluster cannot do that yet".
NOT_IMPLEMENTED = b"NotImplementedError"


class PowerActions(Protocol):
    """What the responders need of ``cluster.power.service.PowerService``."""

    def change_power_state(self, system_id: str, hostname: str, power_type: str,
                           context: Mapping[str, Any], state: str) -> None: ...

    async def query_power_state(self, system_id: str, hostname: str, power_type: str,
                                context: Mapping[str, Any]) -> str: ...


class Probes(Protocol):
    """What the responders need of ``cluster.probes.ProbeService``."""

    def start(self, request: ProbeRequest) -> Deferred[ProbeReport]: ...


class ClusterContext(Protocol):
    """What a connection's responders reach: the cluster's uuid and services."""

    uuid: str
    power: PowerActions
    #: The probe service (None: this cluster answers the probes "not supported").
    probes: Probes | None


def not_supported(message: str) -> amp.RemoteAmpError:
    """An error answer for what this cluster cannot do yet (not logged as a bug)."""
    return amp.RemoteAmpError(NOT_IMPLEMENTED, message)


class ClusterResponders(amp.AMP):
    """Responders for the region's commands; the protocol sets ``cluster``."""

    log = Logger(namespace="cluster.rpc.responders")
    cluster: ClusterContext

    # -- Power -------------------------------------------------------------------

    @DescribePowerTypes.responder
    def describe_power_types(self) -> dict[str, Any]:
        return {"power_types": describe_power_types()}

    @PowerOn.responder
    def power_on(self, system_id: str, hostname: str, power_type: str,
                 context: dict[str, Any]) -> dict[str, Any]:
        self.cluster.power.change_power_state(system_id, hostname, power_type, context, "on")
        return {}

    @PowerOff.responder
    def power_off(self, system_id: str, hostname: str, power_type: str,
                  context: dict[str, Any]) -> dict[str, Any]:
        self.cluster.power.change_power_state(system_id, hostname, power_type, context, "off")
        return {}

    @PowerQuery.responder
    async def power_query(self, system_id: str, hostname: str, power_type: str,
                          context: dict[str, Any]) -> dict[str, Any]:
        state = await self.cluster.power.query_power_state(
            system_id, hostname, power_type, context)
        return {"state": state}

    # -- Boot images (a later issue) ---------------------------------------------

    @ListBootImages.responder
    def list_boot_images(self) -> dict[str, Any]:
        return {"images": []}  # no image store yet (the boot-images issue)

    @ListBootImagesV2.responder
    def list_boot_images_v2(self) -> dict[str, Any]:
        return {"images": []}  # no image store yet (the boot-images issue)

    @ImportBootImages.responder
    def import_boot_images(self, sources: list[dict[str, Any]], http_proxy: Any = None,
                           https_proxy: Any = None) -> dict[str, Any]:
        self.log.info("Refused ImportBootImages: this cluster cannot import boot images yet")
        raise not_supported(
            f"Cluster {self.cluster.uuid} cannot import boot images yet; image import on "
            "the cluster comes with a later release of maas-twisted.")

    @IsImportBootImagesRunning.responder
    def is_import_boot_images_running(self) -> dict[str, Any]:
        return {"running": False}

    # -- What the cluster can boot -----------------------------------------------

    @ListSupportedArchitectures.responder
    def list_supported_architectures(self) -> dict[str, Any]:
        return {"architectures": list_architectures()}

    @ListOperatingSystems.responder
    def list_operating_systems(self) -> dict[str, Any]:
        return {"osystems": list_operating_systems()}

    @GetOSReleaseTitle.responder
    def get_os_release_title(self, osystem: str, release: str) -> dict[str, Any]:
        title = release_title(osystem, release)
        if title is None:
            raise NoSuchOperatingSystem(f"Unknown operating system or release: {osystem} "
                                        f"{release}.")
        return {"title": title}

    # -- Enlistment probes ---------------------------------------------------------
    # Arguments carry chassis and hypervisor passwords: never log them.

    def _probe(self, request: ProbeRequest) -> dict[str, Any]:
        probes = self.cluster.probes
        if probes is None:
            raise not_supported(f"Cluster {self.cluster.uuid} has no probe service.")
        try:
            probes.start(request)
        except ProbeRefused as refused:
            self.log.info("Refused to probe {model} hardware: {reason}", model=request.model,
                          reason=str(refused))
            raise bad_argument(str(refused)) from None
        return {}

    @AddVirsh.responder
    def add_virsh(self, user: str, poweraddr: str, password: str | None = None,
                  prefix_filter: str | None = None,
                  accept_all: bool | None = None) -> dict[str, Any]:
        return self._probe(ProbeRequest(
            "virsh", user, poweraddr, password=password or "",
            prefix_filter=prefix_filter or "", accept_all=bool(accept_all)))

    @AddESXi.responder
    def add_esxi(self, user: str, poweruser: str, poweraddr: str, password: str,
                 accept_all: bool, prefix_filter: str | None = None) -> dict[str, Any]:
        return self._probe(ProbeRequest(
            "esxi", user, poweraddr, username=poweruser, password=password,
            prefix_filter=prefix_filter or "", accept_all=bool(accept_all)))

    @AddSeaMicro15k.responder
    def add_seamicro15k(self, user: str, mac: str, username: str, password: str,
                        power_control: str | None = None,
                        accept_all: bool | None = None) -> dict[str, Any]:
        # The chassis' address is found from mac (ARP); NoIPFoundForMACAddress if not.
        return self._probe(ProbeRequest(
            "seamicro15k", user, "", username=username, password=password, mac=mac,
            power_control=power_control or "", accept_all=bool(accept_all)))

    @AddVMware.responder
    def add_vmware(self, user: str, host: str, username: str, password: str,
                   port: int | None = None, protocol: str | None = None,
                   prefix_filter: str | None = None,
                   accept_all: bool | None = None) -> dict[str, Any]:
        return self._probe(ProbeRequest(
            "vmware", user, host, username=username, password=password,
            port="" if port is None else str(port), protocol=protocol or "",
            prefix_filter=prefix_filter or "", accept_all=bool(accept_all)))

    @EnlistNodesFromMSCM.responder
    def enlist_nodes_from_mscm(self, user: str, host: str, username: str, password: str,
                               accept_all: bool | None = None) -> dict[str, Any]:
        return self._probe(ProbeRequest("mscm", user, host, username=username,
                                        password=password, accept_all=bool(accept_all)))

    @EnlistNodesFromUCSM.responder
    def enlist_nodes_from_ucsm(self, user: str, url: str, username: str, password: str,
                               accept_all: bool | None = None) -> dict[str, Any]:
        return self._probe(ProbeRequest("ucsm", user, url, username=username,
                                        password=password, accept_all=bool(accept_all)))

    @EnlistNodesFromMicrosoftOCS.responder
    def enlist_nodes_from_microsoft_ocs(self, user: str, ip: str, port: str, username: str,
                                        password: str,
                                        accept_all: bool | None = None) -> dict[str, Any]:
        return self._probe(ProbeRequest("msftocs", user, ip, username=username,
                                        password=password, port=port,
                                        accept_all=bool(accept_all)))
