"""
Commands a cluster answers: what the region calls on a cluster.

Names of commands and of their arguments are MAAS 1.8's, byte for byte
(``provisioningserver/rpc/cluster.py``); only the Python side is ours.
Families share a private base that holds what they have in common (errors,
timeout, arguments): ``_Power``, ``_ConfigureDHCP``, ``_OperatingSystem``,
``_Enlist``.
"""

from __future__ import annotations

from twisted.protocols import amp

from rpc.arguments import CompressedAmpList, ParsedURL, StructureAsJSON
from rpc.commands.base import RPCCommand, boot_sources, declare
from rpc.commands.common import Authenticate, Identify
from rpc.errors import (
    CannotConfigureDHCP,
    CannotCreateHostMap,
    CannotRemoveHostMap,
    NoIPFoundForMACAddress,
    NoSuchOperatingSystem,
    PowerActionAlreadyInProgress,
    PowerActionFail,
    UnknownPowerType,
)

__all__ = [
    "AddESXi",
    "AddSeaMicro15k",
    "AddVMware",
    "AddVirsh",
    "Authenticate",
    "CancelMonitor",
    "ComposeCurtinNetworkPreseed",
    "ConfigureDHCPv4",
    "ConfigureDHCPv6",
    "CreateHostMaps",
    "DescribePowerTypes",
    "EnlistNodesFromMSCM",
    "EnlistNodesFromMicrosoftOCS",
    "EnlistNodesFromUCSM",
    "EvaluateTag",
    "GetOSReleaseTitle",
    "GetPreseedData",
    "Identify",
    "ImportBootImages",
    "IsImportBootImagesRunning",
    "ListBootImages",
    "ListBootImagesV2",
    "ListOperatingSystems",
    "ListSupportedArchitectures",
    "PowerOff",
    "PowerOn",
    "PowerQuery",
    "RemoveHostMaps",
    "StartMonitors",
    "ValidateLicenseKey",
]

#: Seconds the region waits for DHCP work (config write, host maps).
DHCP_TIMEOUT = 30.0
#: Seconds the region waits for a power command to be accepted or answered.
POWER_TIMEOUT = 60.0


# -- Boot images -------------------------------------------------------------


def _boot_image_fields() -> list[tuple[bytes, amp.Argument]]:
    names = [b"osystem", b"architecture", b"subarchitecture", b"release", b"label",
             b"purpose", b"xinstall_type", b"xinstall_path"]
    return [(name, amp.Unicode()) for name in names]


class ListBootImages(RPCCommand):
    """List the boot images this cluster has."""

    since = "1.5"
    arguments = []
    response = [(b"images", amp.AmpList(_boot_image_fields()))]


class ListBootImagesV2(RPCCommand):
    """List the boot images this cluster has, compressed so that more of them fit."""

    since = "1.7.6"
    arguments = []
    response = [(b"images", CompressedAmpList(_boot_image_fields()))]


class ImportBootImages(RPCCommand):
    """Start importing boot images from the given sources; return at once."""

    since = "1.7"
    arguments = [
        (b"sources", boot_sources(with_os=True)),
        (b"http_proxy", ParsedURL(optional=True)),
        (b"https_proxy", ParsedURL(optional=True)),
    ]
    response = []
    # NotImplementedError: this cluster cannot import boot images (yet).  Ours,
    # not 1.8's declaration; it changes no argument, only how the error is typed.
    errors = declare(NotImplementedError)


class IsImportBootImagesRunning(RPCCommand):
    """Say whether a boot-image import is running on this cluster."""

    since = "1.7"
    arguments = []
    response = [(b"running", amp.Boolean())]


# -- What the cluster supports -----------------------------------------------


class DescribePowerTypes(RPCCommand):
    """Return this cluster's power types and their parameter schemas (JSON)."""

    since = "1.5"
    arguments = []
    # A list of {"name", "description", "fields"}.
    response = [(b"power_types", StructureAsJSON())]


class ListSupportedArchitectures(RPCCommand):
    """List the architectures this cluster can boot."""

    since = "1.5"
    arguments = []
    response = [
        (b"architectures", amp.AmpList([(b"name", amp.Unicode()), (b"description", amp.Unicode())]))
    ]


class ListOperatingSystems(RPCCommand):
    """List the operating systems this cluster can deploy, with their releases."""

    since = "1.7"
    arguments = []
    response = [
        (
            b"osystems",
            amp.AmpList(
                [
                    (b"name", amp.Unicode()),
                    (b"title", amp.Unicode()),
                    (
                        b"releases",
                        amp.AmpList(
                            [
                                (b"name", amp.Unicode()),
                                (b"title", amp.Unicode()),
                                (b"requires_license_key", amp.Boolean()),
                                (b"can_commission", amp.Boolean()),
                            ]
                        ),
                    ),
                    (b"default_release", amp.Unicode(optional=True)),
                    (b"default_commissioning_release", amp.Unicode(optional=True)),
                ]
            ),
        )
    ]


class _OperatingSystem(RPCCommand):
    """Base of the commands that ask an operating-system driver something."""

    errors = declare(NoSuchOperatingSystem)


class GetOSReleaseTitle(_OperatingSystem):
    """Return the human title of an operating system's release."""

    since = "1.7"
    arguments = [(b"osystem", amp.Unicode()), (b"release", amp.Unicode())]
    response = [(b"title", amp.Unicode())]


class ValidateLicenseKey(_OperatingSystem):
    """Say whether a license key is valid for an operating system's release."""

    since = "1.7"
    arguments = [(b"osystem", amp.Unicode()), (b"release", amp.Unicode()), (b"key", amp.Unicode())]
    response = [(b"is_valid", amp.Boolean())]


class GetPreseedData(_OperatingSystem):
    """Return an operating system's own preseed data for a node."""

    since = "1.7"
    arguments = [
        (b"osystem", amp.Unicode()),
        (b"preseed_type", amp.Unicode()),
        (b"node_system_id", amp.Unicode()),
        (b"node_hostname", amp.Unicode()),
        (b"consumer_key", amp.Unicode()),
        (b"token_key", amp.Unicode()),
        (b"token_secret", amp.Unicode()),
        (b"metadata_url", ParsedURL()),
    ]
    response = [(b"data", StructureAsJSON())]
    # NotImplementedError: the OS has no preseed of its own; use the default.
    errors = declare(NotImplementedError)


class ComposeCurtinNetworkPreseed(_OperatingSystem):
    """Return the curtin network preseed an operating system wants for a node."""

    since = "1.7"
    arguments = [
        (b"osystem", amp.Unicode()),
        (b"config", StructureAsJSON()),
        (b"disable_ipv4", amp.Boolean()),
    ]
    response = [(b"data", StructureAsJSON())]


# -- Power -------------------------------------------------------------------


class _Power(RPCCommand):
    """Base of the power commands: which node, which driver, the driver's parameters."""

    timeout = POWER_TIMEOUT
    arguments = [
        (b"system_id", amp.Unicode()),
        (b"hostname", amp.Unicode()),
        (b"power_type", amp.Unicode()),
        # The driver's parameters: a free-form bag, hence JSON.
        (b"context", StructureAsJSON()),
    ]
    response = []
    errors = declare(
        UnknownPowerType, NotImplementedError, PowerActionFail, PowerActionAlreadyInProgress
    )


class PowerOn(_Power):
    """Turn a node on; returns once the change is scheduled, not done."""

    since = "1.7"


class PowerOff(_Power):
    """Turn a node off; returns once the change is scheduled, not done."""

    since = "1.7"


class PowerQuery(_Power):
    """Ask the node's power driver for its state: on, off or unknown."""

    since = "1.7"
    response = [(b"state", amp.Unicode())]


# -- DHCP --------------------------------------------------------------------


class _ConfigureDHCP(RPCCommand):
    """Base of the commands that write and restart a DHCP server's configuration."""

    timeout = DHCP_TIMEOUT
    arguments = [
        (b"omapi_key", amp.Unicode()),
        (
            b"subnet_configs",
            amp.AmpList(
                [
                    (name, amp.Unicode())
                    for name in (
                        b"subnet", b"subnet_mask", b"subnet_cidr", b"broadcast_ip",
                        b"interface", b"router_ip", b"dns_servers", b"ntp_server",
                        b"domain_name", b"ip_range_low", b"ip_range_high",
                    )
                ]
            ),
        ),
    ]
    response = []
    errors = declare(CannotConfigureDHCP)


class ConfigureDHCPv4(_ConfigureDHCP):
    """Configure (and restart) the cluster's DHCPv4 server."""

    since = "1.7"


class ConfigureDHCPv6(_ConfigureDHCP):
    """Configure (and restart) the cluster's DHCPv6 server."""

    since = "1.7"


class CreateHostMaps(RPCCommand):
    """Add static IP-to-MAC host maps to the DHCP server, over OMAPI."""

    since = "1.7"
    timeout = DHCP_TIMEOUT
    arguments = [
        (
            b"mappings",
            amp.AmpList([(b"ip_address", amp.Unicode()), (b"mac_address", amp.Unicode())]),
        ),
        (b"shared_key", amp.Unicode()),
    ]
    response = []
    errors = declare(CannotCreateHostMap)


class RemoveHostMaps(RPCCommand):
    """Remove static host maps (by IP address) from the DHCP server, over OMAPI."""

    since = "1.7"
    timeout = DHCP_TIMEOUT
    arguments = [(b"ip_addresses", amp.ListOf(amp.Unicode())), (b"shared_key", amp.Unicode())]
    response = []
    errors = declare(CannotRemoveHostMap)


# -- Monitors and tags -------------------------------------------------------


class StartMonitors(RPCCommand):
    """Start deadline monitors; each calls MonitorExpired on the region if it fires."""

    since = "1.7"
    arguments = [
        (
            b"monitors",
            amp.AmpList(
                [
                    (b"deadline", amp.DateTime()),
                    (b"context", StructureAsJSON()),
                    (b"id", amp.Unicode()),
                ]
            ),
        )
    ]
    response = []


class CancelMonitor(RPCCommand):
    """Cancel a monitor started by StartMonitors."""

    since = "1.7"
    arguments = [(b"id", amp.Unicode())]
    response = []


class EvaluateTag(RPCCommand):
    """Evaluate a tag's XPath definition against the cluster's nodes' details."""

    since = "1.7"
    arguments = [
        (b"tag_name", amp.Unicode()),
        (b"tag_definition", amp.Unicode()),
        (b"tag_nsmap", amp.AmpList([(b"prefix", amp.Unicode()), (b"uri", amp.Unicode())])),
        # The API key (consumer:token:secret) of the cluster's worker user.
        (b"credentials", amp.Unicode()),
    ]
    response = []


# -- Enlisting machines from chassis and hypervisors -------------------------


class _Enlist(RPCCommand):
    """Base of the probes that find machines behind a chassis or hypervisor and enlist them."""

    response = []
    # NotImplementedError: this cluster cannot probe such hardware.  Ours, not
    # 1.8's declaration; it changes no argument, only how the error is typed.
    errors = declare(NotImplementedError)


class AddVirsh(_Enlist):
    """Probe a libvirt host for virtual machines and enlist them."""

    since = "1.7"
    arguments = [
        (b"user", amp.Unicode()),
        (b"poweraddr", amp.Unicode()),
        (b"password", amp.Unicode(optional=True)),
        (b"prefix_filter", amp.Unicode(optional=True)),
        (b"accept_all", amp.Boolean(optional=True)),
    ]


class AddESXi(_Enlist):
    """Probe an ESXi host (through libvirt) for virtual machines and enlist them."""

    since = "1.8"
    arguments = [
        (b"user", amp.Unicode()),
        (b"poweruser", amp.Unicode()),
        (b"poweraddr", amp.Unicode()),
        (b"password", amp.Unicode()),
        (b"prefix_filter", amp.Unicode(optional=True)),
        (b"accept_all", amp.Boolean()),
    ]


class AddSeaMicro15k(_Enlist):
    """Probe a SeaMicro 15000 chassis for servers and enlist them."""

    since = "1.7"
    arguments = [
        (b"user", amp.Unicode()),
        (b"mac", amp.Unicode()),
        (b"username", amp.Unicode()),
        (b"password", amp.Unicode()),
        (b"power_control", amp.Unicode(optional=True)),
        (b"accept_all", amp.Boolean(optional=True)),
    ]
    errors = declare(NoIPFoundForMACAddress)


class AddVMware(_Enlist):
    """Probe a VMware host for virtual machines and enlist them."""

    since = "1.8"
    arguments = [
        (b"user", amp.Unicode()),
        (b"host", amp.Unicode()),
        (b"username", amp.Unicode()),
        (b"password", amp.Unicode()),
        (b"port", amp.Integer(optional=True)),
        (b"protocol", amp.Unicode(optional=True)),
        (b"prefix_filter", amp.Unicode(optional=True)),
        (b"accept_all", amp.Boolean(optional=True)),
    ]


class EnlistNodesFromMSCM(_Enlist):
    """Probe an HP Moonshot chassis manager for cartridges and enlist them."""

    since = "1.7"
    arguments = [
        (b"user", amp.Unicode()),
        (b"host", amp.Unicode()),
        (b"username", amp.Unicode()),
        (b"password", amp.Unicode()),
        (b"accept_all", amp.Boolean(optional=True)),
    ]


class EnlistNodesFromUCSM(_Enlist):
    """Probe a Cisco UCS Manager for servers and enlist them."""

    since = "1.7"
    arguments = [
        (b"user", amp.Unicode()),
        (b"url", amp.Unicode()),
        (b"username", amp.Unicode()),
        (b"password", amp.Unicode()),
        (b"accept_all", amp.Boolean(optional=True)),
    ]


class EnlistNodesFromMicrosoftOCS(_Enlist):
    """Probe a Microsoft OCS chassis manager for blades and enlist them."""

    since = "1.8"
    arguments = [
        (b"user", amp.Unicode()),
        (b"ip", amp.Unicode()),
        (b"port", amp.Unicode()),
        (b"username", amp.Unicode()),
        (b"password", amp.Unicode()),
        (b"accept_all", amp.Boolean(optional=True)),
    ]
