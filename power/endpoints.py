"""
TCP client endpoints for devices and regions: :func:`client_endpoint`.

Kept apart from :mod:`power.address` so that the region can parse and check
addresses without importing Twisted's endpoint machinery.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint


def client_endpoint(reactor: Any, host: str | bytes, port: int, *,
                    timeout: float) -> IStreamClientEndpoint:
    """
    A TCP client endpoint for host (a name, or an IPv4/IPv6 literal without
    brackets).  Literals, the usual way a BMC is addressed, are connected to
    directly: Twisted's HostnameEndpoint would send even ``10.0.0.5`` through
    ``getaddrinfo`` in the reactor's thread pool, a thread hop per connection.
    Names go through HostnameEndpoint (which tries every address it finds).
    """
    text = host.decode("idna") if isinstance(host, bytes) else host
    if isIPAddress(text):
        return TCP4ClientEndpoint(reactor, text, port, timeout=timeout)
    if isIPv6Address(text):
        return TCP6ClientEndpoint(reactor, text, port, timeout=timeout)
    return HostnameEndpoint(reactor, text.encode("idna"), port, timeout=timeout)
