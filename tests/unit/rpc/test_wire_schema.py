"""
The wire schema of every command, frozen.

The table below was transcribed from the MAAS 1.8 reference (maas18.md §6.5,
§6.6), not from our declarations, so a typo on either side shows up here.  A
shipped command never changes: add a V2 instead, and a row for it.
"""

from __future__ import annotations

import pytest
from twisted.protocols import amp

from rpc.arguments import Choice, CompressedAmpList
from rpc.commands import cluster, common, region
from rpc.errors import NotAuthenticated
from rpc.testing import commands_of


def describe_argument(argument: amp.Argument) -> str:
    if isinstance(argument, CompressedAmpList):
        text = f"CompressedAmpList[{describe_schema(argument.subargs)}]"
    elif isinstance(argument, amp.AmpList):
        text = f"AmpList[{describe_schema(argument.subargs)}]"
    elif isinstance(argument, amp.ListOf):
        text = f"ListOf[{describe_argument(argument.elementType)}]"
    elif isinstance(argument, Choice):
        text = "Choice[" + "|".join(sorted(v.decode() for v in argument.choices.values())) + "]"
    else:
        text = type(argument).__name__
    return text + ("?" if argument.optional else "")


def describe_schema(schema: list[tuple[bytes, amp.Argument]]) -> str:
    return " ".join(f"{name.decode()}:{describe_argument(arg)}" for name, arg in schema)


def describe(command: type[amp.Command]) -> tuple[str, str, str]:
    errors = sorted(e.__name__ for e in command.allErrors if e is not NotAuthenticated)
    return describe_schema(command.arguments), describe_schema(command.response), " ".join(errors)


SOURCES = (
    "sources:AmpList[url:Unicode keyring_data:Bytes selections:AmpList[{os}release:Unicode "
    "arches:ListOf[Unicode] subarches:ListOf[Unicode] labels:ListOf[Unicode]]]"
)
IMAGE = (
    "osystem:Unicode architecture:Unicode subarchitecture:Unicode release:Unicode "
    "label:Unicode purpose:Unicode xinstall_type:Unicode xinstall_path:Unicode"
)
REGISTER = (
    "uuid:Unicode networks:AmpList[interface:Unicode ip:Unicode subnet_mask:Unicode]? "
    "url:ParsedURL?"
)
POWER = "system_id:Unicode hostname:Unicode power_type:Unicode context:StructureAsJSON"
POWER_ERRORS = "NotImplementedError PowerActionAlreadyInProgress PowerActionFail UnknownPowerType"
# Declared by us on ImportBootImages and the enlistment probes (1.8 declared no error
# there; a declaration changes no argument): the region gets the error typed.
NOT_IMPLEMENTED = "NotImplementedError"
DHCP = (
    "omapi_key:Unicode subnet_configs:AmpList[subnet:Unicode subnet_mask:Unicode "
    "subnet_cidr:Unicode broadcast_ip:Unicode interface:Unicode router_ip:Unicode "
    "dns_servers:Unicode ntp_server:Unicode domain_name:Unicode ip_range_low:Unicode "
    "ip_range_high:Unicode]"
)
OSYSTEMS = (
    "osystems:AmpList[name:Unicode title:Unicode releases:AmpList[name:Unicode title:Unicode "
    "requires_license_key:Boolean can_commission:Boolean] default_release:Unicode? "
    "default_commissioning_release:Unicode?]"
)

COMMON = {
    "Identify": ("", "ident:Unicode", ""),
    "Authenticate": ("message:String", "digest:String salt:String", ""),
}

REGION = {
    "Register": (REGISTER, "", "CannotRegisterCluster"),
    "RegisterV2": (REGISTER, "status:Choice[ACCEPTED|PENDING]",
                   "CannotRegisterCluster ClusterRejected"),
    "ReportBootImages": (
        "uuid:Unicode images:AmpList[architecture:Unicode subarchitecture:Unicode "
        "release:Unicode purpose:Unicode]", "", ""),
    "GetBootSources": ("uuid:Unicode", SOURCES.format(os=""), ""),
    "GetBootSourcesV2": ("uuid:Unicode", SOURCES.format(os="os:Unicode "), ""),
    "UpdateLeases": ("uuid:Unicode mappings:CompressedAmpList[ip:Unicode mac:Unicode]", "",
                     "NoSuchCluster"),
    "GetArchiveMirrors": ("", "main:ParsedURL ports:ParsedURL", ""),
    "GetProxies": ("", "http:ParsedURL? https:ParsedURL?", ""),
    "GetClusterStatus": ("uuid:Unicode", "status:Choice[ACCEPTED|PENDING|REJECTED]",
                         "NoSuchCluster"),
    "MarkNodeFailed": ("system_id:Unicode error_description:Unicode", "",
                       "NoSuchNode NodeStateViolation"),
    "ListNodePowerParameters": (
        "uuid:Unicode", "nodes:AmpList[system_id:Unicode hostname:Unicode power_state:Unicode "
        "power_type:Unicode context:StructureAsJSON]", "NoSuchCluster"),
    "UpdateNodePowerState": ("system_id:Unicode power_state:Unicode", "", "NoSuchNode"),
    "UpdateNodePowerStates": (
        "uuid:Unicode states:CompressedAmpList[system_id:Unicode power_state:Unicode "
        "age:Integer]", "unknown:CompressedAmpList[system_id:Unicode]", "NoSuchCluster"),
    "RegisterEventType": ("name:Unicode description:Unicode level:Integer", "", ""),
    "SendEvent": ("system_id:Unicode type_name:Unicode description:Unicode", "",
                  "NoSuchEventType NoSuchNode"),
    "SendEventMACAddress": ("mac_address:Unicode type_name:Unicode description:Unicode", "",
                            "NoSuchEventType NoSuchNode"),
    "ReportForeignDHCPServer": (
        "cluster_uuid:Unicode interface_name:Unicode foreign_dhcp_ip:Unicode?", "", ""),
    "GetClusterInterfaces": (
        "cluster_uuid:Unicode",
        "interfaces:AmpList[name:Unicode interface:Unicode ip:Unicode]",
        "",
    ),
    "CreateNode": (
        "cluster_uuid:Unicode architecture:Unicode power_type:Unicode power_parameters:Unicode "
        "mac_addresses:ListOf[Unicode] hostname:Unicode?",
        "system_id:Unicode",
        "NodeAlreadyExists",
    ),
    "CommissionNode": ("system_id:Unicode user:Unicode", "", "CommissionNodeFailed"),
    "MonitorExpired": ("id:Unicode context:StructureAsJSON", "", ""),
    "ReloadCluster": ("cluster_uuid:Unicode", "", ""),
    "RequestNodeInfoByMACAddress": (
        "mac_address:Unicode", "system_id:Unicode hostname:Unicode status:Integer "
        "boot_type:Unicode osystem:Unicode distro_series:Unicode architecture:Unicode "
        "purpose:Unicode", "NoSuchNode"),
}

CLUSTER = {
    "ListBootImages": ("", f"images:AmpList[{IMAGE}]", ""),
    "ListBootImagesV2": ("", f"images:CompressedAmpList[{IMAGE}]", ""),
    "DescribePowerTypes": ("", "power_types:StructureAsJSON", ""),
    "ListSupportedArchitectures": (
        "", "architectures:AmpList[name:Unicode description:Unicode]", ""),
    "ListOperatingSystems": ("", OSYSTEMS, ""),
    "GetOSReleaseTitle": ("osystem:Unicode release:Unicode", "title:Unicode",
                          "NoSuchOperatingSystem"),
    "ValidateLicenseKey": ("osystem:Unicode release:Unicode key:Unicode", "is_valid:Boolean",
                           "NoSuchOperatingSystem"),
    "GetPreseedData": (
        "osystem:Unicode preseed_type:Unicode node_system_id:Unicode node_hostname:Unicode "
        "consumer_key:Unicode token_key:Unicode token_secret:Unicode metadata_url:ParsedURL",
        "data:StructureAsJSON", "NoSuchOperatingSystem NotImplementedError"),
    "ComposeCurtinNetworkPreseed": (
        "osystem:Unicode config:StructureAsJSON disable_ipv4:Boolean", "data:StructureAsJSON",
        "NoSuchOperatingSystem"),
    "PowerOn": (POWER, "", POWER_ERRORS),
    "PowerOff": (POWER, "", POWER_ERRORS),
    "PowerQuery": (POWER, "state:Unicode", POWER_ERRORS),
    "ConfigureDHCPv4": (DHCP, "", "CannotConfigureDHCP"),
    "ConfigureDHCPv6": (DHCP, "", "CannotConfigureDHCP"),
    "CreateHostMaps": (
        "mappings:AmpList[ip_address:Unicode mac_address:Unicode] shared_key:Unicode", "",
        "CannotCreateHostMap"),
    "RemoveHostMaps": ("ip_addresses:ListOf[Unicode] shared_key:Unicode", "",
                       "CannotRemoveHostMap"),
    "ImportBootImages": (
        SOURCES.format(os="os:Unicode ") + " http_proxy:ParsedURL? https_proxy:ParsedURL?", "",
        NOT_IMPLEMENTED),
    "IsImportBootImagesRunning": ("", "running:Boolean", ""),
    "StartMonitors": (
        "monitors:AmpList[deadline:DateTime context:StructureAsJSON id:Unicode]", "", ""),
    "CancelMonitor": ("id:Unicode", "", ""),
    "EvaluateTag": (
        "tag_name:Unicode tag_definition:Unicode tag_nsmap:AmpList[prefix:Unicode uri:Unicode] "
        "credentials:Unicode", "", ""),
    "AddVirsh": (
        "user:Unicode poweraddr:Unicode password:Unicode? prefix_filter:Unicode? "
        "accept_all:Boolean?", "", NOT_IMPLEMENTED),
    "AddESXi": (
        "user:Unicode poweruser:Unicode poweraddr:Unicode password:Unicode "
        "prefix_filter:Unicode? accept_all:Boolean", "", NOT_IMPLEMENTED),
    "AddSeaMicro15k": (
        "user:Unicode mac:Unicode username:Unicode password:Unicode power_control:Unicode? "
        "accept_all:Boolean?", "", "NoIPFoundForMACAddress NotImplementedError"),
    "AddVMware": (
        "user:Unicode host:Unicode username:Unicode password:Unicode port:Integer? "
        "protocol:Unicode? prefix_filter:Unicode? accept_all:Boolean?", "", NOT_IMPLEMENTED),
    "EnlistNodesFromMSCM": (
        "user:Unicode host:Unicode username:Unicode password:Unicode accept_all:Boolean?", "",
        NOT_IMPLEMENTED),
    "EnlistNodesFromUCSM": (
        "user:Unicode url:Unicode username:Unicode password:Unicode accept_all:Boolean?", "",
        NOT_IMPLEMENTED),
    "EnlistNodesFromMicrosoftOCS": (
        "user:Unicode ip:Unicode port:Unicode username:Unicode password:Unicode "
        "accept_all:Boolean?", "", NOT_IMPLEMENTED),
}

FROZEN = [(common, COMMON), (region, {**COMMON, **REGION}), (cluster, {**COMMON, **CLUSTER})]


@pytest.mark.parametrize(("module", "table"), FROZEN, ids=lambda x: getattr(x, "__name__", ""))
def test_module_declares_exactly_the_frozen_commands(module: object, table: dict) -> None:
    """Each module declares the commands of the table, no more, no fewer."""
    assert sorted(c.__name__ for c in commands_of(module)) == sorted(table)


@pytest.mark.parametrize(
    ("command", "expected"),
    [(getattr(m, name), row) for m, table in FROZEN for name, row in table.items()],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_wire_schema_is_frozen(command: type[amp.Command], expected: tuple[str, str, str]) -> None:
    """Argument names, types, optionality, response and errors are as shipped."""
    assert describe(command) == expected


def test_every_command_may_be_refused_before_authentication() -> None:
    """NotAuthenticated is declared on every command (through the base class)."""
    for module, _ in FROZEN:
        for command in commands_of(module):
            assert NotAuthenticated in command.allErrors
