"""The Wake-on-LAN driver's magic packet, received by a real UDP listener."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol

from power.errors import PowerConnError
from power.ether_wake import EtherWakePowerDriver

#: Locally administered, so no real machine answers to it.
MAC = "02:00:5e:10:20:30"


class Listener(DatagramProtocol):
    def __init__(self) -> None:
        self.received: Deferred[tuple[bytes, Any]] = Deferred()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if not self.received.called:
            self.received.callback((datagram, addr))


def assert_magic_packet(datagram: bytes) -> None:
    assert len(datagram) == 102
    assert datagram[:6] == b"\xff" * 6
    mac = bytes.fromhex(MAC.replace(":", ""))
    assert [datagram[i : i + 6] for i in range(6, 102, 6)] == [mac] * 16


@pytest_twisted.ensureDeferred
async def test_packet_received_on_loopback(reactor: Any) -> None:
    """on sends a valid 102-byte magic packet to the configured address and port."""
    listener = Listener()
    port = reactor.listenUDP(0, listener, interface="127.0.0.1")
    try:
        driver = EtherWakePowerDriver(reactor, broadcast_address="127.0.0.1",
                                      port=port.getHost().port)
        await driver.on({"mac_address": MAC.upper()}, system_id="node-wol")
        datagram, _ = await listener.received.addTimeout(5, reactor)
    finally:
        await port.stopListening()
    assert_magic_packet(datagram)


@pytest_twisted.ensureDeferred
async def test_limited_broadcast_is_allowed(reactor: Any) -> None:
    """The default destination, 255.255.255.255, is sent without root (SO_BROADCAST)."""
    listener = Listener()
    port = reactor.listenUDP(0, listener, interface="0.0.0.0")
    try:
        driver = EtherWakePowerDriver(reactor, port=port.getHost().port)
        try:
            await driver.on({"mac_address": MAC})
        except PowerConnError as error:
            pytest.skip(f"no route for broadcasts on this machine: {error}")
        datagram, _ = await listener.received.addTimeout(5, reactor)
    finally:
        await port.stopListening()
    assert_magic_packet(datagram)
