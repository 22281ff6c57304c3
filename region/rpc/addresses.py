"""
The IPv4 addresses of this host, for advertising the RPC endpoint.

Read with the ``SIOCGIFCONF`` ioctl (one system call, nothing that can block
on the network), so it is safe in the reactor thread.  Linux only; elsewhere
the list is empty and the caller falls back to loopback.
"""

from __future__ import annotations

import array
import fcntl
import ipaddress
import socket
import struct
import sys
from collections.abc import Iterable

_SIOCGIFCONF = 0x8912
#: sizeof(struct ifreq) on 64-bit Linux; 32 on 32-bit.
_IFREQ_SIZE = 40 if sys.maxsize > 2**32 else 32


def interface_addresses(max_interfaces: int = 512) -> list[str]:
    """Every IPv4 address configured on an interface that is up (loopback included)."""
    if not sys.platform.startswith("linux"):
        return []
    size = max_interfaces * _IFREQ_SIZE
    buffer = array.array("B", bytes(size))
    address, _ = buffer.buffer_info()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("iL", size, address)
        result = fcntl.ioctl(sock.fileno(), _SIOCGIFCONF, request)
    used = struct.unpack("iL", result)[0]
    data = buffer.tobytes()[:used]
    found = []
    for offset in range(0, used, _IFREQ_SIZE):
        # struct ifreq: char name[16]; struct sockaddr_in: family(2) port(2) addr(4) ...
        found.append(socket.inet_ntoa(data[offset + 20:offset + 24]))
    return found


def advertisable(addresses: Iterable[str]) -> list[str]:
    """The addresses worth advertising to clusters: IPv4, not loopback, not
    link-local (as 1.8), without duplicates, in order."""
    kept: list[str] = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if (address.version != 4 or address.is_loopback or address.is_link_local
                or address.is_unspecified or text in kept):
            continue
        kept.append(str(address))
    return kept


def endpoints_for(listen_host: str, port: int,
                  host_addresses: Iterable[str] | None = None) -> list[tuple[str, int]]:
    """
    The (address, port) pairs to advertise for an RPC service listening on
    listen_host:port: the host's advertisable addresses when it listens on
    every address (``0.0.0.0`` or ``::``), 127.0.0.1 when it has none;
    otherwise the listen address itself.
    """
    if listen_host in ("0.0.0.0", "::", ""):  # noqa: S104 - the wildcard is the question
        found = advertisable(interface_addresses() if host_addresses is None
                             else host_addresses)
        return [(address, port) for address in (found or ["127.0.0.1"])]
    return [(listen_host, port)]
