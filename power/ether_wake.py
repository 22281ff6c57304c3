"""
The ``ether_wake`` power driver: Wake-on-LAN magic packets.

The magic packet is 6 bytes of ``0xFF`` then the target MAC 16 times (102
bytes), sent as one UDP datagram to a broadcast address (default
``255.255.255.255``, port 9 "discard"), exactly what the ``wakeonlan`` tool
MAAS 1.8 ran first sends.  We send it ourselves with ``listenUDP`` on an
ephemeral port: no root (``etherwake``'s raw Ethernet frames need
``CAP_NET_RAW``), no subprocess, no tool to install, and a test can receive it
on loopback.  The cluster configures the broadcast address and port per
network (e.g. the subnet's directed broadcast ``192.168.1.255``).

Wake-on-LAN can only switch a machine on: :meth:`power_off` and
:meth:`power_query` raise :class:`~power.errors.PowerNotSupportedError`
(fatal), and the registry marks the type as not queryable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import maybeDeferred
from twisted.internet.protocol import DatagramProtocol

from power.base import PowerDriver
from power.errors import PowerConnError, PowerNotSupportedError, PowerSettingError
from power.schema import normalise_mac

DEFAULT_BROADCAST = "255.255.255.255"
DEFAULT_PORT = 9


def magic_packet(mac_address: str) -> bytes:
    """The Wake-on-LAN payload for mac_address; ValueError if it is not a MAC."""
    mac = bytes.fromhex(normalise_mac(mac_address).replace(":", ""))
    return b"\xff" * 6 + mac * 16


class EtherWakePowerDriver(PowerDriver):
    """
    Wake a node by broadcasting a magic packet for its MAC address.

    :param broadcast_address: an IPv4 literal: the limited broadcast (default),
        a subnet's directed broadcast, or a unicast address (tests use loopback).
    :param port: the UDP port (9 by default; 7 is also common).
    """

    power_type = "ether_wake"
    queryable = False
    default_timeout = 10.0

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        broadcast_address: str = DEFAULT_BROADCAST,
        port: int = DEFAULT_PORT,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.broadcast_address = str(ipaddress.IPv4Address(broadcast_address))
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is not in 1-65535")
        self.port = port

    async def power_on(self, params: Mapping[str, Any]) -> None:
        mac = self.require_setting(params, "mac_address")
        try:
            packet = magic_packet(mac)
        except ValueError as error:
            raise PowerSettingError(str(error)) from None
        try:
            udp = self.reactor.listenUDP(0, DatagramProtocol(), interface="0.0.0.0")  # noqa: S104
        except Exception as error:
            raise PowerConnError(f"Cannot open a UDP socket: {error}") from None
        try:
            udp.setBroadcastAllowed(True)
            udp.write(packet, (self.broadcast_address, self.port))
        except OSError as error:
            raise PowerConnError(
                f"Cannot send the magic packet to {self.broadcast_address}:{self.port}: {error}"
            ) from None
        finally:
            await maybeDeferred(udp.stopListening)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        raise PowerNotSupportedError("There is no way to power down a node through etherwake.")

    async def power_query(self, params: Mapping[str, Any]) -> str:
        raise PowerNotSupportedError(
            "There is no way to query the power state of a node through etherwake."
        )
