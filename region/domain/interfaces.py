"""
Cluster interfaces (1.8's NodeGroupInterface): the rules their addresses obey.

A cluster interface is a network a cluster controller is attached to: the
controller's own address there (``ip``), the network's mask, and, when MAAS
manages DHCP on it (``management`` 1, or 2 for DHCP and DNS), the dynamic range
DHCP hands out and the static range MAAS allocates from.  This module checks
a complete set of settings and normalises it; it knows nothing of HTTP or SQL.

The rules (each broken rule is reported under the field it concerns, all at
once, as ``{"field": ["message", ...]}``):

- ``ip`` is required: an IPv4 or IPv6 address.  Every other address must be of
  the same IP version.
- ``management`` is 0 (unmanaged, the default), 1 (DHCP) or 2 (DHCP and DNS).
  A managed interface needs ``interface`` (the network interface dhcpd
  listens on), ``subnet_mask`` and a dynamic range.
- ``subnet_mask`` is a netmask (``255.255.255.0``, ``ffff:ffff:ffff:ffff::``)
  or a prefix length (``24``), stored as a netmask; the subnet is
  ``ip & subnet_mask``.  A broadcast address, router or range can only be
  checked against a subnet, so giving one needs ``subnet_mask``.
- In an IPv4 subnet of 30 bits or fewer, no address given may be the subnet's
  own address or its broadcast address.
- ``broadcast_ip`` defaults to the subnet's broadcast address (IPv4); when
  given, it must be that address.  IPv6 has no broadcast address.
- ``router_ip``, ``ip_range_low/high``, ``static_ip_range_low/high`` lie
  inside the subnet; each range is given whole (both ends) or not at all, low
  ≤ high; the dynamic and the static range do not overlap; neither range holds
  the interface's own address or the router's (DHCP or MAAS would hand it out).
- ``name`` defaults to ``interface``; it may hold letters, digits and
  ``- _ . :`` (it appears in URLs).  ``interface`` is a network interface
  name: letters, digits and ``_ . : @ + -``, at most 64 characters (it is
  written, quoted, into dhcpd's configuration).

Two managed interfaces of one cluster may not serve overlapping subnets
(:func:`check_no_overlap`): dhcpd would refuse the configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import netaddr

UNMANAGED = 0
DHCP = 1
DHCP_AND_DNS = 2
MANAGEMENT_CHOICES = (UNMANAGED, DHCP, DHCP_AND_DNS)

#: Optional address fields, in the order errors are reported.
ADDRESS_FIELDS = ("broadcast_ip", "router_ip", "ip_range_low", "ip_range_high",
                  "static_ip_range_low", "static_ip_range_high")
#: Everything a client may set.
FIELDS = ("name", "interface", "ip", "subnet_mask", *ADDRESS_FIELDS, "management")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$")
# No quotes, spaces, ';' or braces: the name is written, quoted, into dhcpd's configuration.
_INTERFACE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,64}$")
_REQUIRED_WHEN_MANAGED = ("interface", "subnet_mask", "ip_range_low", "ip_range_high")


class InterfaceErrors(ValueError):
    """Settings that break the rules: ``errors`` maps each field to its messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in self.errors.items()))


@attrs.frozen
class InterfaceSettings:
    """A checked, normalised cluster interface (addresses as canonical text)."""

    name: str
    interface: str
    ip: str
    management: int = UNMANAGED
    subnet_mask: str | None = None
    broadcast_ip: str | None = None
    router_ip: str | None = None
    ip_range_low: str | None = None
    ip_range_high: str | None = None
    static_ip_range_low: str | None = None
    static_ip_range_high: str | None = None

    @property
    def network(self) -> netaddr.IPNetwork | None:
        if self.subnet_mask is None:
            return None
        return netaddr.IPNetwork(f"{self.ip}/{netaddr.IPAddress(self.subnet_mask).netmask_bits()}")

    @property
    def is_managed(self) -> bool:
        return self.management != UNMANAGED

    def as_input(self) -> dict[str, Any]:
        """These settings as :func:`check_interface` takes them (to apply changes on top)."""
        return attrs.asdict(self)


def _text(value: Any) -> str | None:
    """A parameter's text, None when absent or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class _Checker:
    """Collects the errors of one set of settings."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def error(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def address(self, field: str, text: str, version: int | None) -> netaddr.IPAddress | None:
        try:
            address = netaddr.IPAddress(text)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            self.error(field, f"'{text[:60]}' is not a valid IPv4 or IPv6 address.")
            return None
        if version is not None and address.version != version:
            self.error(field, f"{address} is an IPv{address.version} address; this interface "
                              f"is IPv{version} (the version of its ip).")
            return None
        return address

    def mask(self, text: str, ip: netaddr.IPAddress | None) -> netaddr.IPAddress | None:
        width = 32 if ip is None or ip.version == 4 else 128
        if text.startswith("/"):
            text = text[1:]
        if text.isdigit():
            bits = int(text)
            if not 0 < bits <= width:
                self.error("subnet_mask", f"A prefix length must be between 1 and {width}.")
                return None
            unspecified = "0.0.0.0" if width == 32 else "::"  # noqa: S104 - not a bind address
            return netaddr.IPNetwork(f"{unspecified}/{bits}").netmask
        mask = self.address("subnet_mask", text, None if ip is None else ip.version)
        if mask is None:
            return None
        if not mask.is_netmask():
            self.error("subnet_mask", f"{mask} is not a netmask (its one bits must come first).")
            return None
        if mask.netmask_bits() == 0:
            self.error("subnet_mask", f"{mask} covers every address; give the subnet's mask.")
            return None
        return mask


def _special(network: netaddr.IPNetwork, address: netaddr.IPAddress) -> str | None:
    """Why address cannot be used in network (its own or broadcast address), or None."""
    if network.version != 4 or network.prefixlen > 30:
        return None
    if address == network.network:
        return f"{address} is the address of the subnet {network.cidr} itself."
    if address == network.broadcast:
        return f"{address} is the broadcast address of the subnet {network.cidr}."
    return None


def check_interface(values: Mapping[str, Any]) -> InterfaceSettings:
    """
    Check a whole set of interface settings (text values, as a client sends
    them; blank means unset) and return them normalised.

    :raise InterfaceErrors: every rule that is broken, by field.
    """
    check = _Checker()
    interface = _text(values.get("interface")) or ""
    if interface and not _INTERFACE.match(interface):
        check.error("interface", "A network interface name has 1 to 64 letters, digits "
                                 "and '_ . : @ + -'.")
    name = _text(values.get("name")) or interface
    if not name:
        check.error("name", "This field is required (or give interface, whose name it then "
                            "takes).")
    elif not _NAME.match(name) or len(name) > 255:
        check.error("name", "Enter a name of letters, digits, '-', '_', '.' and ':' (at most "
                            "255 characters, starting with a letter or digit).")

    management = _management(check, values.get("management"))

    ip_text = _text(values.get("ip"))
    ip = None
    if ip_text is None:
        check.error("ip", "This field is required.")
    else:
        ip = check.address("ip", ip_text, None)
    version = None if ip is None else ip.version

    mask_text = _text(values.get("subnet_mask"))
    mask = None if mask_text is None else check.mask(mask_text, ip)
    given = {field: _text(values.get(field)) for field in ADDRESS_FIELDS}
    addresses: dict[str, netaddr.IPAddress] = {}
    for field, text in given.items():
        if text is not None:
            address = check.address(field, text, version)
            if address is not None:
                addresses[field] = address

    if management in (DHCP, DHCP_AND_DNS):
        present = {"interface": interface, "subnet_mask": mask_text,
                   "ip_range_low": given["ip_range_low"], "ip_range_high": given["ip_range_high"]}
        for field in _REQUIRED_WHEN_MANAGED:
            if not present[field]:
                check.error(field, "This field is required when MAAS manages DHCP on the "
                                   "interface (management 1 or 2).")
    for low, high in (("ip_range_low", "ip_range_high"),
                      ("static_ip_range_low", "static_ip_range_high")):
        if (given[low] is None) != (given[high] is None):
            missing = low if given[low] is None else high
            check.error(missing, f"Give both ends of the range ({low} and {high}) or neither.")
    if mask_text is None:
        needing = [field for field in ADDRESS_FIELDS if given[field] is not None]
        if needing:
            check.error("subnet_mask", "Give the subnet mask, so that "
                                       f"{', '.join(needing)} can be checked against the subnet.")

    network = None
    if ip is not None and mask is not None:
        network = netaddr.IPNetwork(f"{ip}/{mask.netmask_bits()}")
        _check_in_subnet(check, network, ip, addresses)
        broadcast = _broadcast(check, network, addresses.get("broadcast_ip"),
                               given["broadcast_ip"] is not None)
    else:
        broadcast = addresses.get("broadcast_ip")

    if check.errors:
        raise InterfaceErrors(check.errors)
    assert ip is not None and management is not None

    def text_of(field: str) -> str | None:
        address = addresses.get(field)
        return None if address is None else str(address)

    return InterfaceSettings(
        name=name, interface=interface, ip=str(ip), management=management,
        subnet_mask=None if mask is None else str(mask),
        broadcast_ip=None if broadcast is None else str(broadcast),
        router_ip=text_of("router_ip"),
        ip_range_low=text_of("ip_range_low"), ip_range_high=text_of("ip_range_high"),
        static_ip_range_low=text_of("static_ip_range_low"),
        static_ip_range_high=text_of("static_ip_range_high"),
    )


def _management(check: _Checker, value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return UNMANAGED
    try:
        management = int(text)
    except ValueError:
        management = None
    if management not in MANAGEMENT_CHOICES:
        check.error("management", f"'{text[:20]}' is not a management choice: 0 (unmanaged), "
                                  "1 (DHCP) or 2 (DHCP and DNS).")
        return None
    return management


def _check_in_subnet(check: _Checker, network: netaddr.IPNetwork, ip: netaddr.IPAddress,
                     addresses: Mapping[str, netaddr.IPAddress]) -> None:
    problem = _special(network, ip)
    if problem:
        check.error("ip", problem + " Give the cluster controller's own address.")
    for field in ("router_ip", "ip_range_low", "ip_range_high", "static_ip_range_low",
                  "static_ip_range_high"):
        address = addresses.get(field)
        if address is None:
            continue
        if address not in network:
            check.error(field, f"{address} is outside the subnet {network.cidr}.")
            continue
        problem = _special(network, address)
        if problem:
            check.error(field, problem)
    ranges: dict[str, netaddr.IPRange] = {}
    for label, low, high in (("dynamic", "ip_range_low", "ip_range_high"),
                             ("static", "static_ip_range_low", "static_ip_range_high")):
        first, last = addresses.get(low), addresses.get(high)
        if first is None or last is None or check.errors.get(low) or check.errors.get(high):
            continue
        if first > last:
            check.error(high, f"The {label} range ends ({last}) before it starts ({first}).")
            continue
        ranges[label] = netaddr.IPRange(first, last)
    dynamic, static = ranges.get("dynamic"), ranges.get("static")
    if dynamic is not None and static is not None and (
            dynamic.first <= static.last and static.first <= dynamic.last):
        check.error("static_ip_range_low", f"The static range {static} overlaps the dynamic "
                                           f"range {dynamic}.")
    for field, address in (("ip", ip), ("router_ip", addresses.get("router_ip"))):
        if address is None:
            continue
        for label, found in ranges.items():
            if address in found:
                whose = "the interface's own address" if field == "ip" else "the router"
                check.error(field, f"{address} ({whose}) is inside the {label} range {found}; "
                                   "it could be handed out to a node.")


def _broadcast(check: _Checker, network: netaddr.IPNetwork, given: netaddr.IPAddress | None,
               was_given: bool) -> netaddr.IPAddress | None:
    if network.version == 6:
        if was_given:
            check.error("broadcast_ip", "IPv6 has no broadcast address; leave this blank.")
        return None
    expected = network.broadcast
    if given is not None and given != expected:
        if expected is None:
            check.error("broadcast_ip", f"The subnet {network.cidr} has no broadcast address; "
                                        "leave this blank.")
        else:
            check.error("broadcast_ip", f"The broadcast address of the subnet {network.cidr} "
                                        f"is {expected}, not {given}.")
    return expected


def check_no_overlap(settings: InterfaceSettings,
                     others: Iterable[InterfaceSettings]) -> None:
    """
    Refuse a managed interface whose subnet overlaps that of another managed
    interface of the same cluster (others: the cluster's other interfaces).

    :raise InterfaceErrors: under ``subnet_mask``.
    """
    network = settings.network
    if not settings.is_managed or network is None:
        return
    for other in others:
        theirs = other.network
        if other.name == settings.name or not other.is_managed or theirs is None:
            continue
        if theirs.version == network.version and (
                network.first <= theirs.last and theirs.first <= network.last):
            raise InterfaceErrors({"subnet_mask": [
                f"The subnet {network.cidr} overlaps the subnet {theirs.cidr} of managed "
                f"interface '{other.name}' of this cluster."]})


def unique_name(base: str, taken: Iterable[str]) -> str:
    """base, or the first of ``base:1``, ``base:2``, ... not in taken (alias style)."""
    used = set(taken)
    if base not in used:
        return base
    number = 1
    while f"{base}:{number}" in used:
        number += 1
    return f"{base}:{number}"


def reported_interfaces(networks: Sequence[Mapping[str, str]]) -> list[InterfaceSettings]:
    """
    The unmanaged interfaces to create for the networks a registering cluster
    reported (``{"interface", "ip", "subnet_mask"}`` each): one per network,
    named after its network interface (``eth0``, then ``eth0:1``... for a
    second address on it), with the broadcast address computed.  Networks
    these rules refuse are left out.
    """
    created: list[InterfaceSettings] = []
    for network in networks:
        interface = str(network.get("interface", ""))
        name = unique_name(interface, (settings.name for settings in created))
        try:
            settings = check_interface({"name": name, "interface": interface,
                                        "ip": network.get("ip"),
                                        "subnet_mask": network.get("subnet_mask"),
                                        "management": UNMANAGED})
        except InterfaceErrors:
            continue
        created.append(settings)
    return created
