"""Effective power parameters (reference §7.2) and what a power type can do."""

from __future__ import annotations

from region.domain.lifecycle import NodeStatus
from region.domain.power_parameters import (
    can_be_started,
    can_be_stopped,
    effective_power_parameters,
)


def effective(power_type: str = "ipmi", params: dict | None = None,
              status: NodeStatus = NodeStatus.READY, mac: str | None = "00:16:3e:00:00:01"
              ) -> dict:
    return effective_power_parameters(system_id="node-1", power_type=power_type,
                                      power_parameters=params, status=int(status),
                                      primary_mac=mac)


def test_defaults_fill_what_the_node_does_not_set() -> None:
    """Unset parameters take 1.8's defaults; the node's own values win."""
    params = effective(params={"power_address": "10.0.0.9", "power_user": "u",
                               "power_pass": "p"})
    assert params == {
        "power_address": "10.0.0.9", "power_user": "u", "power_pass": "p",
        "system_id": "node-1", "fence_cdu": "/usr/sbin/fence_cdu",
        "ipmipower": "/usr/sbin/ipmipower", "ipmitool": "/usr/bin/ipmitool",
        "ipmi_chassis_config": "/usr/sbin/ipmi-chassis-config", "ipmi_config": "ipmi.conf",
        "username": "", "power_id": "node-1", "power_driver": "", "power_off_mode": "",
        "mac_address": "00:16:3e:00:00:01", "boot_mode": "pxe",
    }


def test_virsh_defaults_to_the_local_hypervisor() -> None:
    """A virsh node without power_address gets qemu://localhost/system."""
    assert effective("virsh")["power_address"] == "qemu://localhost/system"
    assert effective("virsh", {"power_address": "qemu+ssh://h/system"})["power_address"] == (
        "qemu+ssh://h/system")


def test_primary_mac_only_when_none_is_set() -> None:
    """mac_address falls back to the primary MAC; a set one is kept."""
    assert effective(params={"mac_address": "00:11:22:33:44:55"})["mac_address"] == (
        "00:11:22:33:44:55")
    assert "mac_address" not in effective(mac=None)


def test_boot_mode_is_local_when_deployed() -> None:
    """boot_mode is local for a DEPLOYED node, pxe otherwise."""
    assert effective(status=NodeStatus.DEPLOYED)["boot_mode"] == "local"
    assert effective(status=NodeStatus.DEPLOYING)["boot_mode"] == "pxe"


def test_what_power_types_can_do() -> None:
    """Wake-on-LAN starts only with a MAC and never stops; no power type does neither."""
    assert can_be_started("ipmi", {})
    assert can_be_started("ether_wake", {"mac_address": "00:11:22:33:44:55"})
    assert not can_be_started("ether_wake", {"mac_address": ""})
    assert not can_be_started("", {})
    assert can_be_stopped("ipmi")
    assert not can_be_stopped("ether_wake")
    assert not can_be_stopped("")
