"""
The 13 power types of MAAS 1.8: one table, and the functions both daemons use.

The region imports this module (and only this and ``power.schema``) to
describe power types and to validate and redact ``power_parameters``; the
cluster also uses :func:`driver_class` to find a type's driver.  Names,
descriptions, labels, choices and defaults are 1.8's, byte for byte
(``docs/power-types.tsv``, a unit test checks).  Driver modules are named here
as strings and imported only on demand, so this module stays free of Twisted.

Parameter validation (:func:`validate_power_parameters`) decides:

- an unknown ``power_type`` is an error on the ``power_type`` field;
  ``""`` (1.8's ``UNKNOWN_POWER_TYPE``, "not configured") checks nothing;
- ``choice`` fields must hold one of their values, ``mac_address`` fields a
  MAC (normalised to ``aa:bb:cc:dd:ee:ff``), network-address fields
  ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address;
- **unknown keys are kept, unchanged and unchecked.**  1.8 kept everything
  when ``power_parameters_skip_check`` was true and never rejected an extra key;
  keeping them loses nothing.  They are harmless to the cluster: our drivers
  read only their own settings, and never take a tool path from parameters
  (1.8's templates ran ``{{ipmipower}}`` and friends from the node's context);
- missing keys are not filled in; a driver uses the setting's default;
- ``skip_check=True`` returns the parameters untouched, as 1.8 did.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from power.errors import PowerNotSupportedError
from power.redact import redact_params
from power.schema import ParameterErrors, PowerType, Setting

UNKNOWN_POWER_TYPE = ""


def _address(name: str, label: str) -> Setting:
    return Setting(name, label, address=True)


def _password(label: str) -> Setting:
    return Setting("power_pass", label, field_type="password", secret=True)


_USER = Setting("power_user", "Power user")
_PASS = _password("Power password")
_ADDR = _address("power_address", "Power address")

POWER_TYPES: tuple[PowerType, ...] = (
    PowerType("ether_wake", "Wake-on-LAN", [
        Setting("mac_address", "MAC Address", field_type="mac_address"),
    ], driver="power.ether_wake:EtherWakePowerDriver"),
    PowerType("virsh", "Virsh (virtual systems)", [
        Setting("power_address", "Power address"),  # a libvirt URI, not host[:port]
        Setting("power_id", "Power ID"),
        _password("Power password (optional)"),
    ], queryable=True, driver="power.virsh:VirshPowerDriver"),
    PowerType("vmware", "VMWare", [
        Setting("power_vm_name", "VM Name (if UUID unknown)"),
        Setting("power_uuid", "VM UUID (if known)"),
        _address("power_address", "VMware hostname"),
        Setting("power_user", "VMware username"),
        _password("VMware password"),
        Setting("power_port", "VMware API port (optional)"),
        Setting("power_protocol", "VMware API protocol (optional)"),
    ], queryable=True, driver="power.vmware:VMwarePowerDriver"),
    PowerType("fence_cdu", "Sentry Switch CDU", [
        _ADDR, Setting("power_id", "Power ID"), _USER, _PASS,
    ], driver="power.fence_cdu:FenceCDUPowerDriver"),
    PowerType("ipmi", "IPMI", [
        Setting("power_driver", "Power driver", field_type="choice",
                choices=[("LAN", "LAN [IPMI 1.5]"), ("LAN_2_0", "LAN_2_0 [IPMI 2.0]")],
                default="LAN_2_0"),
        _address("power_address", "IP address"),
        _USER,
        _PASS,
        Setting("mac_address", "Power MAC"),
    ], queryable=True, driver="power.ipmi:IPMIPowerDriver"),
    PowerType("moonshot", "HP Moonshot - iLO4 (IPMI)", [
        _ADDR, _USER, _PASS, Setting("power_hwaddress", "Power hardware address"),
    ], driver="power.moonshot:MoonshotPowerDriver"),
    PowerType("sm15k", "SeaMicro 15000", [
        Setting("system_id", "System ID"),
        _ADDR,
        _USER,
        _PASS,
        Setting("power_control", "Power control type", field_type="choice",
                choices=[("ipmi", "IPMI"), ("restapi", "REST API v0.9"),
                         ("restapi2", "REST API v2.0")],
                default="ipmi"),
    ], queryable=True),
    PowerType("amt", "Intel AMT", [
        Setting("mac_address", "MAC Address", field_type="mac_address"),
        _PASS,
        _ADDR,
    ], queryable=True, driver="power.amt:AMTPowerDriver"),
    PowerType("dli", "Digital Loggers, Inc. PDU", [
        Setting("system_id", "Outlet ID"), _ADDR, _USER, _PASS,
    ], queryable=True),
    PowerType("ucsm", "Cisco UCS Manager", [
        Setting("uuid", "Server UUID"),
        Setting("power_address", "URL for XML API"),  # a URL, not host[:port]
        Setting("power_user", "API user"),
        _password("API password"),
    ], queryable=True),
    PowerType("mscm", "HP Moonshot - iLO Chassis Manager", [
        _address("power_address", "IP for MSCM CLI API"),
        Setting("power_user", "MSCM CLI API user"),
        _password("MSCM CLI API password"),
        Setting("node_id", "Node ID - Must adhere to cXnY format "
                           "(X=cartridge number, Y=node number)."),
    ], queryable=True, driver="power.mscm:MSCMPowerDriver"),
    PowerType("msftocs", "Microsoft OCS - Chassis Manager", [
        _ADDR,
        Setting("power_port", "Power port"),
        _USER,
        _PASS,
        Setting("blade_id", "Blade ID (Typically 1-24)"),
    ], queryable=True),
    PowerType("apc", "American Power Conversion (APC) PDU", [
        _address("power_address", "IP for APC PDU"),
        Setting("node_outlet", "APC PDU node outlet number (1-16)"),
        # 1.8 published this as a "password" field; it is a number, not a secret.
        Setting("power_on_delay", "Power ON outlet delay (seconds)",
                field_type="password", default="5"),
    ]),
)

_BY_NAME = {power_type.name: power_type for power_type in POWER_TYPES}

#: Every setting name that is secret in some power type: redacted whatever the type.
ALL_SECRET_NAMES = frozenset().union(*(t.secret_names for t in POWER_TYPES))


class UnknownPowerType(LookupError):
    """No power type has this name."""


def get_power_type(name: str) -> PowerType:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownPowerType(name) from None


def power_type_names() -> list[str]:
    return [power_type.name for power_type in POWER_TYPES]


def describe_power_types() -> list[dict[str, Any]]:
    """All power types as ``describe_power_types`` returns them: sorted by description."""
    return [t.describe() for t in sorted(POWER_TYPES, key=lambda t: t.description)]


def validate_power_parameters(
    power_type: str, params: Mapping[str, Any], *, skip_check: bool = False
) -> dict[str, Any]:
    """
    Return the cleaned parameters, or raise ParameterErrors (field → messages).

    See the module docstring for what is checked and what is kept.
    """
    if skip_check or power_type == UNKNOWN_POWER_TYPE:
        return dict(params)
    if power_type not in _BY_NAME:
        raise ParameterErrors({"power_type": [
            f"Select a valid choice. {power_type} is not one of the available choices."
        ]})
    return _BY_NAME[power_type].clean(params)


def secret_names(power_type: str) -> frozenset[str]:
    """The keys to hide for this power type: its own secrets and any other type's."""
    known = _BY_NAME.get(power_type)
    own = known.secret_names if known is not None else frozenset()
    return own | ALL_SECRET_NAMES


def redact(power_type: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of params fit for logs and non-admin replies: secrets replaced."""
    return redact_params(params, secret_names(power_type))


def is_queryable(power_type: str) -> bool:
    known = _BY_NAME.get(power_type)
    return known is not None and known.queryable


def driver_class(power_type: str) -> type[Any]:
    """
    The driver class for power_type (imported now, not when this module loads).

    :raises UnknownPowerType: no such power type.
    :raises PowerNotSupportedError: the type exists but has no driver yet.
    """
    spec = get_power_type(power_type).driver
    if spec is None:
        raise PowerNotSupportedError(f"There is no driver for power type '{power_type}' yet.")
    module_name, _, class_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]
