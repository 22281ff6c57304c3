"""Cluster interfaces: every rule an interface's addresses and ranges obey."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from region.domain.interfaces import (
    DHCP,
    DHCP_AND_DNS,
    UNMANAGED,
    InterfaceErrors,
    InterfaceSettings,
    check_interface,
    check_no_overlap,
    reported_interfaces,
    unique_name,
)

MANAGED = {"name": "eth0", "interface": "eth0", "ip": "192.168.1.1",
           "subnet_mask": "255.255.255.0", "ip_range_low": "192.168.1.100",
           "ip_range_high": "192.168.1.200", "management": "1"}


def errors_of(**values: Any) -> dict[str, list[str]]:
    with pytest.raises(InterfaceErrors) as raised:
        check_interface(values)
    return raised.value.errors


def test_a_managed_interface_is_normalised() -> None:
    """A consistent managed interface comes back with canonical text and the broadcast."""
    settings = check_interface({**MANAGED, "router_ip": "192.168.1.254",
                                "static_ip_range_low": "192.168.1.10",
                                "static_ip_range_high": "192.168.1.49"})
    assert settings == InterfaceSettings(
        name="eth0", interface="eth0", ip="192.168.1.1", management=DHCP,
        subnet_mask="255.255.255.0", broadcast_ip="192.168.1.255", router_ip="192.168.1.254",
        ip_range_low="192.168.1.100", ip_range_high="192.168.1.200",
        static_ip_range_low="192.168.1.10", static_ip_range_high="192.168.1.49")
    assert settings.is_managed


def test_an_unmanaged_interface_needs_only_an_ip() -> None:
    """The least an interface has: an address; the name defaults to the interface's."""
    settings = check_interface({"interface": "eth1", "ip": " 10.0.0.1 "})
    assert (settings.name, settings.ip, settings.management) == ("eth1", "10.0.0.1", UNMANAGED)
    assert settings.subnet_mask is None and settings.broadcast_ip is None
    assert not settings.is_managed


def test_blank_values_count_as_unset() -> None:
    """Empty strings (a form's blank fields) are absent values, not bad ones."""
    settings = check_interface({"name": "lan", "ip": "10.0.0.1", "subnet_mask": "",
                                "router_ip": "", "management": ""})
    assert settings.router_ip is None and settings.management == UNMANAGED


def test_everything_wrong_is_reported_at_once() -> None:
    """Each broken rule appears under its field, in one error."""
    errors = errors_of(name="bad name", ip="nope", management="7", interface="a b")
    assert set(errors) == {"name", "ip", "management", "interface"}


@pytest.mark.parametrize("ip", ["", "10.0.0", "10.0.0.256", "::g", "10.0.0.1/24", "host"])
def test_ip_must_be_an_address(ip: str) -> None:
    assert "ip" in errors_of(name="x", ip=ip)


@pytest.mark.parametrize("management", ["3", "-1", "one", "1.5"])
def test_management_is_0_1_or_2(management: str) -> None:
    assert list(errors_of(name="x", ip="10.0.0.1", management=management)) == ["management"]


@pytest.mark.parametrize("management", [DHCP, DHCP_AND_DNS])
def test_a_managed_interface_needs_a_network_and_a_dynamic_range(management: int) -> None:
    """DHCP needs the network interface, the mask and the range it hands out."""
    errors = errors_of(name="x", ip="10.0.0.1", management=str(management))
    assert set(errors) == {"interface", "subnet_mask", "ip_range_low", "ip_range_high"}


@pytest.mark.parametrize("name", ["eth0", "eth0:1", "br-ex", "eth0.100", "vlan_9", "0"])
def test_valid_names(name: str) -> None:
    assert check_interface({"name": name, "ip": "10.0.0.1"}).name == name


@pytest.mark.parametrize("name", ["a b", "../x", ".x", "-x", "a/b", "x" * 256, "é"])
def test_invalid_names(name: str) -> None:
    assert list(errors_of(name=name, ip="10.0.0.1")) == ["name"]


@pytest.mark.parametrize("interface", ['eth0"; }', "a b", "a/b", "x" * 65, "eth0\\"])
def test_interface_names_cannot_break_the_dhcp_configuration(interface: str) -> None:
    """Quotes, spaces, slashes and overlong names are refused (dhcpd.conf quotes them)."""
    assert "interface" in errors_of(name="x", interface=interface, ip="10.0.0.1")


def test_name_or_interface_is_required() -> None:
    assert list(errors_of(ip="10.0.0.1")) == ["name"]


@pytest.mark.parametrize(("mask", "stored"), [
    ("255.255.255.0", "255.255.255.0"), ("24", "255.255.255.0"), ("/16", "255.255.0.0"),
    ("255.255.255.255", "255.255.255.255"),
])
def test_masks_and_prefix_lengths(mask: str, stored: str) -> None:
    """A mask may be given as a netmask or a prefix length; it is stored as a netmask."""
    assert check_interface({"name": "x", "ip": "10.0.0.1", "subnet_mask": mask}).subnet_mask \
        == stored


@pytest.mark.parametrize("mask", ["255.0.255.0", "0.0.0.0", "0", "33", "ffff::", "mask"])
def test_bad_masks(mask: str) -> None:
    assert list(errors_of(name="x", ip="10.0.0.1", subnet_mask=mask)) == ["subnet_mask"]


def test_ipv6_interface() -> None:
    """IPv6 works the same way, with no broadcast address."""
    settings = check_interface({"name": "v6", "interface": "eth0", "ip": "fd00::1",
                                "subnet_mask": "ffff:ffff:ffff:ffff::", "management": "1",
                                "ip_range_low": "fd00::1:0", "ip_range_high": "fd00::1:ffff"})
    assert settings.broadcast_ip is None and settings.subnet_mask == "ffff:ffff:ffff:ffff::"
    assert list(errors_of(name="v6", ip="fd00::1", subnet_mask="64",
                          broadcast_ip="fd00::ffff")) == ["broadcast_ip"]


@pytest.mark.parametrize("field", ["router_ip", "ip_range_low", "static_ip_range_low"])
def test_every_address_shares_the_ips_family(field: str) -> None:
    values = {"name": "x", "ip": "fd00::1", "subnet_mask": "64", field: "10.0.0.5"}
    if field.endswith("_low"):
        values[field.replace("_low", "_high")] = "fd00::9"
    assert field in errors_of(**values)


def test_broadcast_is_computed_or_checked() -> None:
    """broadcast_ip defaults to the subnet's; any other is refused."""
    assert check_interface({"name": "x", "ip": "10.1.2.3", "subnet_mask": "255.255.0.0"}
                           ).broadcast_ip == "10.1.255.255"
    assert check_interface({"name": "x", "ip": "10.1.2.3", "subnet_mask": "16",
                            "broadcast_ip": "10.1.255.255"}).broadcast_ip == "10.1.255.255"
    assert list(errors_of(name="x", ip="10.1.2.3", subnet_mask="16",
                          broadcast_ip="10.1.2.255")) == ["broadcast_ip"]


@pytest.mark.parametrize("field", ["broadcast_ip", "router_ip"])
def test_addresses_need_the_mask_to_be_checked(field: str) -> None:
    assert "subnet_mask" in errors_of(name="x", ip="10.0.0.1", **{field: "10.0.0.255"})


@pytest.mark.parametrize(("router", "ok"), [
    ("10.0.0.254", True), ("10.0.1.1", False), ("10.0.0.0", False), ("10.0.0.255", False),
])
def test_router_lies_inside_the_subnet(router: str, ok: bool) -> None:
    values = {"name": "x", "ip": "10.0.0.1", "subnet_mask": "24", "router_ip": router}
    if ok:
        assert check_interface(values).router_ip == router
    else:
        assert list(errors_of(**values)) == ["router_ip"]


def test_the_interfaces_own_address_cannot_be_the_subnets() -> None:
    assert list(errors_of(name="x", ip="10.0.0.0", subnet_mask="24")) == ["ip"]


@pytest.mark.parametrize(("low", "high", "field"), [
    ("10.0.0.100", None, "ip_range_high"),
    (None, "10.0.0.100", "ip_range_low"),
    ("10.0.0.200", "10.0.0.100", "ip_range_high"),
    ("10.0.0.100", "10.0.1.5", "ip_range_high"),
    ("9.255.255.250", "10.0.0.5", "ip_range_low"),
    ("10.0.0.100", "10.0.0.255", "ip_range_high"),
    ("10.0.0.1", "10.0.0.50", "ip"),
])
def test_dynamic_range_rules(low: str | None, high: str | None, field: str) -> None:
    """Both ends, inside the subnet, in order, clear of broadcast and of the interface's ip."""
    values: dict[str, Any] = {"name": "x", "ip": "10.0.0.1", "subnet_mask": "24"}
    if low is not None:
        values["ip_range_low"] = low
    if high is not None:
        values["ip_range_high"] = high
    assert field in errors_of(**values)


def test_a_range_may_be_a_single_address() -> None:
    settings = check_interface({"name": "x", "ip": "10.0.0.1", "subnet_mask": "24",
                                "ip_range_low": "10.0.0.9", "ip_range_high": "10.0.0.9"})
    assert settings.ip_range_low == settings.ip_range_high == "10.0.0.9"


def test_the_router_is_not_handed_out() -> None:
    errors = errors_of(name="x", ip="10.0.0.1", subnet_mask="24", router_ip="10.0.0.150",
                       ip_range_low="10.0.0.100", ip_range_high="10.0.0.200")
    assert list(errors) == ["router_ip"]


@pytest.mark.parametrize(("static", "overlaps"), [
    (("10.0.0.10", "10.0.0.99"), False),
    (("10.0.0.201", "10.0.0.250"), False),
    (("10.0.0.10", "10.0.0.100"), True),
    (("10.0.0.200", "10.0.0.210"), True),
    (("10.0.0.120", "10.0.0.130"), True),
    (("10.0.0.10", "10.0.0.250"), True),
])
def test_dynamic_and_static_ranges_are_disjoint(static: tuple[str, str], overlaps: bool) -> None:
    values = {**MANAGED, "ip": "10.0.0.1", "subnet_mask": "24",
              "ip_range_low": "10.0.0.100", "ip_range_high": "10.0.0.200",
              "static_ip_range_low": static[0], "static_ip_range_high": static[1]}
    if overlaps:
        assert list(errors_of(**values)) == ["static_ip_range_low"]
    else:
        assert check_interface(values).static_ip_range_low == static[0]


@given(st.integers(2, 253), st.integers(2, 253), st.integers(2, 253), st.integers(2, 253))
def test_disjointness_matches_arithmetic(a: int, b: int, c: int, d: int) -> None:
    """Whatever the ranges, they are accepted exactly when they share no address."""
    (low1, high1), (low2, high2) = sorted((a, b)), sorted((c, d))
    values = {"name": "x", "ip": "10.9.9.254", "subnet_mask": "24",
              "ip_range_low": f"10.9.9.{low1}", "ip_range_high": f"10.9.9.{high1}",
              "static_ip_range_low": f"10.9.9.{low2}", "static_ip_range_high": f"10.9.9.{high2}"}
    disjoint = high1 < low2 or high2 < low1
    try:
        check_interface(values)
        accepted = True
    except InterfaceErrors as error:
        assert list(error.errors) == ["static_ip_range_low"]
        accepted = False
    assert accepted == disjoint


def _managed(name: str, ip: str, mask: str, low: str, high: str) -> InterfaceSettings:
    return check_interface({"name": name, "interface": name, "ip": ip, "subnet_mask": mask,
                            "ip_range_low": low, "ip_range_high": high, "management": "1"})


def test_managed_subnets_of_a_cluster_do_not_overlap() -> None:
    """Two managed interfaces serving overlapping subnets are refused (dhcpd would be)."""
    first = _managed("eth0", "10.0.0.1", "16", "10.0.1.1", "10.0.1.9")
    inner = _managed("eth1", "10.0.5.1", "24", "10.0.5.10", "10.0.5.20")
    apart = _managed("eth2", "10.1.0.1", "16", "10.1.1.1", "10.1.1.9")
    with pytest.raises(InterfaceErrors) as raised:
        check_no_overlap(inner, [first])
    assert list(raised.value.errors) == ["subnet_mask"]
    check_no_overlap(apart, [first, inner])
    check_no_overlap(first, [first])  # itself, when updated
    unmanaged = check_interface({"name": "eth3", "ip": "10.0.9.1", "subnet_mask": "24"})
    check_no_overlap(unmanaged, [first])
    check_no_overlap(inner, [unmanaged])


def test_unique_name_uses_alias_suffixes() -> None:
    assert unique_name("eth0", []) == "eth0"
    assert unique_name("eth0", ["eth0"]) == "eth0:1"
    assert unique_name("eth0", ["eth0", "eth0:1", "eth0:2"]) == "eth0:3"


def test_reported_networks_become_unmanaged_interfaces() -> None:
    """One unmanaged interface per usable reported network, named after its interface."""
    found = reported_interfaces([
        {"interface": "eth0", "ip": "10.0.0.1", "subnet_mask": "255.255.0.0"},
        {"interface": "eth0", "ip": "10.1.0.1", "subnet_mask": "255.255.0.0"},
        {"interface": "eth1", "ip": "fd00::1", "subnet_mask": "ffff:ffff:ffff:ffff::"},
        {"interface": "eth2", "ip": "not-an-ip", "subnet_mask": "255.0.0.0"},
        {"interface": 'bad"name', "ip": "10.2.0.1", "subnet_mask": "255.255.0.0"},
    ])
    assert [(s.name, s.interface, s.ip, s.subnet_mask, s.broadcast_ip, s.management)
            for s in found] == [
        ("eth0", "eth0", "10.0.0.1", "255.255.0.0", "10.0.255.255", UNMANAGED),
        ("eth0:1", "eth0", "10.1.0.1", "255.255.0.0", "10.1.255.255", UNMANAGED),
        ("eth1", "eth1", "fd00::1", "ffff:ffff:ffff:ffff::", None, UNMANAGED),
    ]
    assert reported_interfaces([]) == []
