"""The Wake-on-LAN driver (power.ether_wake) with a fake UDP reactor."""

from __future__ import annotations

import re
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from power.errors import PowerConnError, PowerNotSupportedError, PowerSettingError
from power.ether_wake import EtherWakePowerDriver, magic_packet

MAC = "52:54:00:12:34:56"


class FakeUDPPort:
    def __init__(self, fail: BaseException | None) -> None:
        self.fail = fail
        self.broadcast = False
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.stopped = False

    def setBroadcastAllowed(self, enabled: bool) -> None:
        self.broadcast = enabled

    def write(self, data: bytes, address: tuple[str, int]) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((data, address))

    def stopListening(self) -> None:
        self.stopped = True


class FakeUDPReactor(Clock):
    """listenUDP that records what is sent instead of opening a socket."""

    def __init__(self, fail: BaseException | None = None) -> None:
        super().__init__()
        self.ports: list[FakeUDPPort] = []
        self.fail = fail

    def listenUDP(self, port: int, protocol: Any, interface: str = "") -> FakeUDPPort:
        udp = FakeUDPPort(self.fail)
        self.ports.append(udp)
        return udp


def result_of(coroutine: Any) -> Any:
    results: list[Any] = []
    Deferred.fromCoroutine(coroutine).addBoth(results.append)
    assert results
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


def test_magic_packet() -> None:
    """6 bytes of 0xFF then the MAC 16 times: 102 bytes."""
    packet = magic_packet("52-54-00-12-34-56")
    assert len(packet) == 102
    assert packet[:6] == b"\xff" * 6
    assert packet[6:] == bytes.fromhex("525400123456") * 16


def test_on_broadcasts_the_packet() -> None:
    """on sends one magic packet to the broadcast address and port, then closes the socket."""
    reactor = FakeUDPReactor()
    result_of(EtherWakePowerDriver(reactor).on({"mac_address": MAC}))
    [udp] = reactor.ports
    assert udp.broadcast and udp.stopped
    assert udp.sent == [(magic_packet(MAC), ("255.255.255.255", 9))]


def test_configurable_destination() -> None:
    """The cluster can choose a directed broadcast address and port."""
    reactor = FakeUDPReactor()
    driver = EtherWakePowerDriver(reactor, broadcast_address="192.168.1.255", port=7)
    result_of(driver.on({"mac_address": MAC}))
    assert reactor.ports[0].sent[0][1] == ("192.168.1.255", 7)


def test_bad_destination_is_refused_at_construction() -> None:
    """The broadcast address must be an IPv4 literal and the port valid."""
    with pytest.raises(ValueError):
        EtherWakePowerDriver(FakeUDPReactor(), broadcast_address="everyone")
    with pytest.raises(ValueError):
        EtherWakePowerDriver(FakeUDPReactor(), port=0)


@pytest.mark.parametrize("params", [{}, {"mac_address": ""}])
def test_missing_mac_is_a_setting_error(params: dict[str, str]) -> None:
    """Without a MAC address there is nothing to wake: PowerSettingError."""
    with pytest.raises(PowerSettingError, match="mac_address"):
        result_of(EtherWakePowerDriver(FakeUDPReactor()).on(params))


def test_bad_mac_is_a_setting_error() -> None:
    """A malformed MAC is a PowerSettingError (from schema validation)."""
    with pytest.raises(PowerSettingError, match="not a valid MAC"):
        result_of(EtherWakePowerDriver(FakeUDPReactor()).on({"mac_address": "52:54:00"}))


def test_send_failure_is_a_connection_error() -> None:
    """A socket error while sending is retryable, and the socket is still closed."""
    reactor = FakeUDPReactor(fail=OSError(101, "Network is unreachable"))
    with pytest.raises(PowerConnError, match="unreachable"):
        result_of(EtherWakePowerDriver(reactor).on({"mac_address": MAC}))
    assert reactor.ports[0].stopped


def test_off_is_not_supported() -> None:
    """Wake-on-LAN cannot power off: a fatal error with 1.8's message."""
    message = "There is no way to power down a node through etherwake."
    with pytest.raises(PowerNotSupportedError, match=re.escape(message)):
        result_of(EtherWakePowerDriver(FakeUDPReactor()).off({"mac_address": MAC}))


def test_query_is_not_supported() -> None:
    """Wake-on-LAN cannot query: a fatal error, and nothing is sent."""
    reactor = FakeUDPReactor()
    with pytest.raises(PowerNotSupportedError):
        result_of(EtherWakePowerDriver(reactor).query({"mac_address": MAC}))
    assert reactor.ports == []
