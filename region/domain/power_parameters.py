"""
The power parameters a driver is given (1.8's ``get_effective_power_parameters``,
reference §7.2), and whether a node's power type can start or stop it.

Pure functions: the region computes these before calling PowerOn, PowerOff
or PowerQuery on a node's cluster, and for ListNodePowerParameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from region.domain.lifecycle import NodeStatus

VIRSH_DEFAULT_ADDRESS = "qemu://localhost/system"
_TOOL_DEFAULTS = {
    "fence_cdu": "/usr/sbin/fence_cdu",
    "ipmipower": "/usr/sbin/ipmipower",
    "ipmitool": "/usr/bin/ipmitool",
    "ipmi_chassis_config": "/usr/sbin/ipmi-chassis-config",
    "ipmi_config": "ipmi.conf",
}


def effective_power_parameters(*, system_id: str, power_type: str,
                               power_parameters: Mapping[str, Any] | None, status: int,
                               primary_mac: str | None) -> dict[str, Any]:
    """
    What a power driver is given: the node's power parameters, with 1.8's
    defaults for those not set (``system_id``, tool paths, ``power_address``
    — ``qemu://localhost/system`` for virsh —, ``username``, ``power_id`` =
    system_id, ``power_driver``, ``power_pass``, ``power_off_mode``), the
    primary MAC as ``mac_address`` when none is set, and ``boot_mode``
    (``local`` when DEPLOYED, else ``pxe``).
    """
    params: dict[str, Any] = dict(power_parameters or {})
    defaults: dict[str, Any] = {
        "system_id": system_id,
        **_TOOL_DEFAULTS,
        "power_address": VIRSH_DEFAULT_ADDRESS if power_type == "virsh" else "",
        "username": "",
        "power_id": system_id,
        "power_driver": "",
        "power_pass": "",
        "power_off_mode": "",
    }
    for name, value in defaults.items():
        params.setdefault(name, value)
    if not params.get("mac_address") and primary_mac:
        params["mac_address"] = primary_mac
    params["boot_mode"] = "local" if status == NodeStatus.DEPLOYED else "pxe"
    return params


def can_be_started(power_type: str, params: Mapping[str, Any]) -> bool:
    """1.8: any power type can start a node, except Wake-on-LAN without a MAC."""
    if not power_type:
        return False
    return not (power_type == "ether_wake" and not params.get("mac_address"))


def can_be_stopped(power_type: str) -> bool:
    """1.8: any power type can stop a node, except Wake-on-LAN."""
    return bool(power_type) and power_type != "ether_wake"
