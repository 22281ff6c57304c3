"""
The 13 power types of MAAS 1.8 (and two beyond it): one table, and the functions both daemons use.

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
    ], queryable=True, driver="power.sm15k:SM15KPowerDriver"),
    PowerType("amt", "Intel AMT", [
        Setting("mac_address", "MAC Address", field_type="mac_address"),
        _PASS,
        _ADDR,
    ], queryable=True, driver="power.amt:AMTPowerDriver"),
    PowerType("dli", "Digital Loggers, Inc. PDU", [
        Setting("system_id", "Outlet ID"), _ADDR, _USER, _PASS,
    ], queryable=True, driver="power.dli:DLIPowerDriver"),
    PowerType("ucsm", "Cisco UCS Manager", [
        Setting("uuid", "Server UUID"),
        Setting("power_address", "URL for XML API"),  # a URL, not host[:port]
        Setting("power_user", "API user"),
        _password("API password"),
    ], queryable=True, driver="power.ucsm:UCSMPowerDriver"),
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
    ], queryable=True, driver="power.msftocs:MicrosoftOCSPowerDriver"),
    PowerType("apc", "American Power Conversion (APC) PDU", [
        _address("power_address", "IP for APC PDU"),
        Setting("node_outlet", "APC PDU node outlet number (1-16)"),
        # 1.8 published this as a "password" field; it is a number, not a secret.
        Setting("power_on_delay", "Power ON outlet delay (seconds)",
                field_type="password", default="5"),
    ], driver="power.apc:APCPowerDriver"),
)

#: Power types beyond MAAS 1.8.  They validate, redact and drive like the 13
#: (``get_power_type``, ``validate_power_parameters``, ``driver_class``), but
#: ``describe_power_types()`` and ``power_type_names()`` keep 1.8's list
#: unless asked for them with ``include_extra=True``.
EXTRA_POWER_TYPES: tuple[PowerType, ...] = (
    PowerType("redfish", "Redfish (beyond MAAS 1.8)", [
        _address("power_address", "BMC address (host or host:port)"),
        _USER,
        _PASS,
        Setting("node_id", "System ID (optional if the BMC has a single system)"),
        Setting("power_protocol", "Protocol", field_type="choice",
                choices=[("https", "HTTPS"), ("http", "HTTP")], default="https"),
        Setting("power_auth", "Authentication", field_type="choice",
                choices=[("basic", "HTTP Basic"), ("session", "Redfish session")],
                default="basic"),
        # Off by default: BMCs ship self-signed certificates (power.redfish).
        Setting("power_verify_tls", "Verify the BMC's TLS certificate", field_type="choice",
                choices=[("no", "No"), ("yes", "Yes")], default="no"),
    ], queryable=True, driver="power.redfish:RedfishPowerDriver"),
    PowerType("webhook", "Webhook (beyond MAAS 1.8)", [
        Setting("power_on_uri", "Power on URI ({system_id} and other parameters allowed)"),
        Setting("power_off_uri", "Power off URI"),
        Setting("power_query_uri", "Power query URI (optional)"),
        Setting("power_method", "HTTP method for on and off", field_type="choice",
                choices=[(m, m) for m in ("POST", "PUT", "GET", "PATCH", "DELETE")],
                default="POST"),
        Setting("power_on_body", "Power on body (optional)"),
        Setting("power_off_body", "Power off body (optional)"),
        Setting("power_query_on_regex", "Regex matching an 'on' answer",
                default=r"(?i)\bon\b"),
        Setting("power_query_off_regex", "Regex matching an 'off' answer",
                default=r"(?i)\boff\b"),
        Setting("power_query_json_pointer", "JSON pointer to the state (optional)"),
        _USER,
        _PASS,
        Setting("power_headers", "Extra headers ('Name: value' lines)", secret=True),
        Setting("power_verify_tls", "Verify TLS certificates", field_type="choice",
                choices=[("yes", "Yes"), ("no", "No")], default="yes"),
    ], queryable=True, driver="power.webhook:WebhookPowerDriver"),
)

_BY_NAME = {power_type.name: power_type for power_type in (*POWER_TYPES, *EXTRA_POWER_TYPES)}

#: Every setting name that is secret in some power type: redacted whatever the type.
ALL_SECRET_NAMES = frozenset().union(
    *(t.secret_names for t in (*POWER_TYPES, *EXTRA_POWER_TYPES)))


class UnknownPowerType(LookupError):
    """No power type has this name."""


def get_power_type(name: str) -> PowerType:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownPowerType(name) from None


def _types(include_extra: bool) -> tuple[PowerType, ...]:
    return (*POWER_TYPES, *EXTRA_POWER_TYPES) if include_extra else POWER_TYPES


def power_type_names(*, include_extra: bool = False) -> list[str]:
    """1.8's 13 names (and the extra types' with ``include_extra``)."""
    return [power_type.name for power_type in _types(include_extra)]


def describe_power_types(*, include_extra: bool = False) -> list[dict[str, Any]]:
    """
    Power types as ``describe_power_types`` returns them: sorted by description.

    1.8's 13 unless ``include_extra`` (then ``redfish`` and ``webhook`` too).
    """
    return [t.describe() for t in sorted(_types(include_extra), key=lambda t: t.description)]


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
