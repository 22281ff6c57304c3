"""Which addresses the region advertises for its RPC service."""

from __future__ import annotations

import sys

import pytest

from region.rpc.addresses import advertisable, endpoints_for, interface_addresses


def test_advertisable_keeps_routable_ipv4_only() -> None:
    """Loopback, link-local, IPv6, unspecified and duplicate addresses are left out."""
    found = ["127.0.0.1", "10.0.0.1", "169.254.1.1", "::1", "fe80::1", "2001:db8::1",
             "0.0.0.0", "192.168.1.5", "10.0.0.1", "bogus"]
    assert advertisable(found) == ["10.0.0.1", "192.168.1.5"]


def test_wildcard_listen_advertises_the_hosts_addresses() -> None:
    """Listening on 0.0.0.0 (or ::) advertises every non-loopback IPv4 address."""
    addresses = ["127.0.0.1", "10.0.0.1", "192.168.1.5"]
    expected = [("10.0.0.1", 5250), ("192.168.1.5", 5250)]
    assert endpoints_for("0.0.0.0", 5250, addresses) == expected
    assert endpoints_for("::", 5250, addresses) == expected


def test_wildcard_listen_on_a_host_with_only_loopback_advertises_loopback() -> None:
    """With nothing else to offer, 127.0.0.1 is advertised (so loopback setups work)."""
    assert endpoints_for("0.0.0.0", 5251, ["127.0.0.1"]) == [("127.0.0.1", 5251)]
    assert endpoints_for("0.0.0.0", 5251, []) == [("127.0.0.1", 5251)]


def test_a_specific_listen_address_is_advertised_as_it_is() -> None:
    """Listening on one address advertises exactly that address."""
    assert endpoints_for("127.0.0.1", 40000, ["10.0.0.1"]) == [("127.0.0.1", 40000)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIOCGIFCONF is Linux's")
def test_interface_addresses_include_loopback() -> None:
    """The ioctl finds the addresses of the interfaces that are up (loopback at least)."""
    assert "127.0.0.1" in interface_addresses()
