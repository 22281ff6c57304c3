"""
This host's IPv4 interfaces, as a cluster reports them when it registers.

Read with two ioctls (``SIOCGIFCONF`` for the names and addresses,
``SIOCGIFNETMASK`` for each netmask): a few system calls that never wait on
the network, so safe in the reactor thread, and no ``ip`` child process to
parse.  Linux only; elsewhere the list is empty (registering without networks
is allowed).  Loopback and link-local addresses are left out, as 1.8 did.
"""

from __future__ import annotations

import array
import fcntl
import ipaddress
import socket
import struct
import sys
from collections.abc import Callable, Iterable

_SIOCGIFCONF = 0x8912
_SIOCGIFNETMASK = 0x891B
_IFNAMSIZ = 16
#: sizeof(struct ifreq) on 64-bit Linux; 32 on 32-bit.
_IFREQ_SIZE = 40 if sys.maxsize > 2**32 else 32

#: One interface address: (interface name, IPv4 address, netmask).
Interface = tuple[str, str, str]


def read_interfaces(max_interfaces: int = 512) -> list[Interface]:
    """Every IPv4 address on an interface that is up, with its netmask."""
    if not sys.platform.startswith("linux"):
        return []
    size = max_interfaces * _IFREQ_SIZE
    buffer = array.array("B", bytes(size))
    address, _ = buffer.buffer_info()
    found: list[Interface] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        result = fcntl.ioctl(sock.fileno(), _SIOCGIFCONF, struct.pack("iL", size, address))
        used = struct.unpack("iL", result)[0]
        data = buffer.tobytes()[:used]
        for offset in range(0, used, _IFREQ_SIZE):
            raw_name = data[offset:offset + _IFNAMSIZ]
            name = raw_name.split(b"\0", 1)[0].decode("utf-8", "replace")
            # struct sockaddr_in after the name: family(2) port(2) addr(4).
            ip = socket.inet_ntoa(data[offset + 20:offset + 24])
            try:
                request = struct.pack("16s16x", raw_name)
                answer = fcntl.ioctl(sock.fileno(), _SIOCGIFNETMASK, request)
            except OSError:
                continue  # the interface went away meanwhile
            netmask = socket.inet_ntoa(answer[20:24])
            found.append((name, ip, netmask))
    return found


def reportable(interfaces: Iterable[Interface]) -> list[dict[str, str]]:
    """The ``networks`` argument of Register/RegisterV2: no loopback, no link-local."""
    networks: list[dict[str, str]] = []
    for name, ip, netmask in interfaces:
        try:
            address = ipaddress.IPv4Address(ip)
        except ValueError:
            continue
        if address.is_loopback or address.is_link_local or address.is_unspecified:
            continue
        networks.append({"interface": name, "ip": ip, "subnet_mask": netmask})
    return networks


def discover_networks(read: Callable[[], list[Interface]] = read_interfaces,
                      ) -> list[dict[str, str]]:
    """This host's networks to report; empty (never an error) if they cannot be read."""
    try:
        return reportable(read())
    except OSError:
        return []
