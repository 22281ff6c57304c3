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
- ImportBootImages answers an error coded ``NotImplementedError`` with a
  message saying the cluster cannot import images yet, rather than pretending
  to start an import.  IsImportBootImagesRunning answers ``running=False``,
  which is simply true.  (The command declares no error for this; the
  region sees an ``UnknownRemoteError`` carrying the message.  Declaring
  ``NotImplementedError`` on ImportBootImages and the ``_Enlist`` family in
  ``rpc/`` would make it a typed error on the region too.)
- The enlistment probes (AddVirsh, AddESXi, AddSeaMicro15k, AddVMware,
  EnlistNodesFrom{MSCM,UCSM,MicrosoftOCS}) answer the same kind of error:
  the probes come with the next issue.

Commands not answered at all (DHCP, host maps, monitors, tags, preseeds,
license keys) belong to later issues; AMP answers them ``UNHANDLED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from twisted.logger import Logger
from twisted.protocols import amp

from cluster.osystems import list_architectures, list_operating_systems, release_title
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
from rpc.errors import NoSuchOperatingSystem

#: The AMP error code of "this cluster cannot do that yet".
NOT_IMPLEMENTED = b"NotImplementedError"


class PowerActions(Protocol):
    """What the responders need of ``cluster.power.service.PowerService``."""

    def change_power_state(self, system_id: str, hostname: str, power_type: str,
                           context: Mapping[str, Any], state: str) -> None: ...

    async def query_power_state(self, system_id: str, hostname: str, power_type: str,
                                context: Mapping[str, Any]) -> str: ...


class ClusterContext(Protocol):
    """What a connection's responders reach: the cluster's uuid and services."""

    uuid: str
    power: PowerActions


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

    # -- Enlistment probes (the next issue) ---------------------------------------
    # Arguments carry chassis and hypervisor passwords: never log them.

    def _refuse_probe(self, command: type[amp.Command], what: str) -> amp.RemoteAmpError:
        self.log.info("Refused {command}: probing {what} is not supported yet",
                      command=command.commandName.decode("ascii"), what=what)
        return not_supported(
            f"Cluster {self.cluster.uuid} cannot probe {what} and enlist its machines yet; "
            "the probes come with the next release of maas-twisted.")

    @AddVirsh.responder
    def add_virsh(self, **_arguments: Any) -> dict[str, Any]:
        raise self._refuse_probe(AddVirsh, "a libvirt host")

    @AddESXi.responder
    def add_esxi(self, **_arguments: Any) -> dict[str, Any]:
        raise self._refuse_probe(AddESXi, "an ESXi host")

    @AddSeaMicro15k.responder
    def add_seamicro15k(self, **_arguments: Any) -> dict[str, Any]:
        raise self._refuse_probe(AddSeaMicro15k, "a SeaMicro 15000 chassis")

    @AddVMware.responder
    def add_vmware(self, **_arguments: Any) -> dict[str, Any]:
        raise self._refuse_probe(AddVMware, "a VMware host")

    @EnlistNodesFromMSCM.responder
    def enlist_nodes_from_mscm(self, **_arguments: Any) -> dict[str, Any]:
        raise self._refuse_probe(EnlistNodesFromMSCM, "an HP Moonshot chassis manager")

    @EnlistNodesFromUCSM.responder
    def enlist_nodes_from_ucsm(self, **_arguments: Any) -> dict[str, Any]:
        raise self._refuse_probe(EnlistNodesFromUCSM, "a Cisco UCS Manager")

    @EnlistNodesFromMicrosoftOCS.responder
    def enlist_nodes_from_microsoft_ocs(self, **_arguments: Any) -> dict[str, Any]:
        raise self._refuse_probe(EnlistNodesFromMicrosoftOCS,
                                 "a Microsoft OCS chassis manager")
