"""Parsing network address settings (power.address)."""

from __future__ import annotations

import pytest

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock

from power.address import AddressError, NetworkAddress, parse_address
from power.endpoints import client_endpoint


@pytest.mark.parametrize(("text", "host", "port"), [
    ("bmc01", "bmc01", None),
    ("bmc01.example.com", "bmc01.example.com", None),
    ("bmc01.example.com.", "bmc01.example.com.", None),
    ("under_score-ok", "under_score-ok", None),
    ("10.0.0.5", "10.0.0.5", None),
    ("  10.0.0.5  ", "10.0.0.5", None),
    ("10.0.0.5:623", "10.0.0.5", 623),
    ("bmc01:16230", "bmc01", 16230),
    ("fe80::1", "fe80::1", None),
    ("2001:DB8::1", "2001:db8::1", None),
    ("fe80::1%eth0", "fe80::1%eth0", None),
    ("[fe80::1]", "fe80::1", None),
    ("[::1]:623", "::1", 623),
    ("[::ffff:10.0.0.1]:1", "::ffff:a00:1", 1),
])
def test_accepted(text: str, host: str, port: int | None) -> None:
    """host, host:port, bare IPv6 and [IPv6]:port parse to host and port."""
    assert parse_address(text) == NetworkAddress(host, port)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("   ", "empty"),
    (":623", "no host"),
    ("host:", "invalid port"),
    ("host:abc", "invalid port"),
    ("host:0", "not in 1-65535"),
    ("host:65536", "not in 1-65535"),
    ("10.0.0.256", "not a valid IPv4"),
    ("10.0.0", "not a valid IPv4"),
    ("a,b", "not a valid host name"),
    ("node[1-3]", "not a valid host name"),
    ("a b", "not a valid host name"),
    ("-bad.example", "not a valid host name"),
    ("http://host/", "invalid port"),
    ("[fe80::1", "without a closing"),
    ("[fe80::1]623", "other than ':port'"),
    ("[10.0.0.1]:623", "not a valid IPv6"),
    ("fe80::zz", "not a valid IPv6"),
    ("[::1]:", "invalid port"),
])
def test_rejected(text: str, message: str) -> None:
    """Malformed addresses raise AddressError saying what is wrong."""
    with pytest.raises(AddressError, match=message):
        parse_address(text)


@pytest.mark.parametrize(("text", "rendered"), [
    ("10.0.0.5", "10.0.0.5"),
    ("10.0.0.5:623", "10.0.0.5:623"),
    ("fe80::1", "[fe80::1]"),
    ("[::1]:623", "[::1]:623"),
])
def test_str_is_freeipmi_hostname_form(text: str, rendered: str) -> None:
    """str() gives host, host:port or [v6]:port, as FreeIPMI's -h takes it."""
    assert str(parse_address(text)) == rendered


def test_is_ipv6() -> None:
    """is_ipv6 tells IPv6 literals from names and IPv4."""
    assert parse_address("[::1]:5").is_ipv6
    assert not parse_address("10.0.0.1:5").is_ipv6


@pytest.mark.parametrize(("host", "connected"), [
    ("10.0.0.5", "10.0.0.5"),
    (b"10.0.0.5", "10.0.0.5"),
    ("fe80::1", "fe80::1"),
])
def test_an_ip_literal_is_connected_to_at_once(host: str | bytes, connected: str) -> None:
    """No name lookup (no thread): the TCP connection starts when connect() is called."""
    reactor = MemoryReactorClock()
    client_endpoint(reactor, host, 623, timeout=5).connect(Factory.forProtocol(Protocol))
    assert [(c[0], c[1], c[3]) for c in reactor.tcpClients] == [(connected, 623, 5)]


def test_a_name_is_looked_up_first() -> None:
    """A host name goes through the reactor's resolver, so nothing connects yet."""
    reactor = MemoryReactorClock()
    endpoint = client_endpoint(reactor, "bmc01.example.com", 623, timeout=5)
    assert type(endpoint).__name__ == "HostnameEndpoint"
