"""msftocs: answer parsing, the port rules, settings, and a silent chassis manager."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock

from power.errors import PowerActionError, PowerConnError, PowerSettingError
from power.msftocs import NS, MicrosoftOCSPowerDriver, parse

STATE = (f"<BladeStateResponse xmlns='{NS}' xmlns:i='http://www.w3.org/2001/XMLSchema-instance'>"
         "<completionCode>Success</completionCode><apiVersion>1</apiVersion>"
         "<statusDescription/><bladeNumber>3</bladeNumber><bladeState>ON</bladeState>"
         "</BladeStateResponse>").encode()


def test_parse_success() -> None:
    root = parse(STATE, "GetBladeState")
    assert root.findtext(f"{{{NS}}}bladeState") == "ON"


def test_parse_without_namespace() -> None:
    parse(b"<BladeResponse><completionCode>Success</completionCode></BladeResponse>", "X")


@pytest.mark.parametrize(("body", "error", "words"), [
    (b"<BladeResponse><completionCode>Failure</completionCode>"
     b"<statusDescription>Blade is off</statusDescription></BladeResponse>",
     PowerActionError, "Failure: Blade is off"),
    (b"<BladeResponse><completionCode>ParameterOutOfRange</completionCode></BladeResponse>",
     PowerSettingError, "ParameterOutOfRange"),
    (b"<BladeResponse/>", PowerActionError, "no completionCode"),
    (b"not xml", PowerActionError, "not XML"),
])
def test_parse_failures(body: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        parse(body, "SetBladeOn")


@pytest.mark.parametrize(("params", "where"), [
    ({"power_address": "127.0.0.9"}, ("127.0.0.9", 8000)),
    ({"power_address": "127.0.0.9", "power_port": "8443"}, ("127.0.0.9", 8443)),
    ({"power_address": "127.0.0.9:9000", "power_port": "8443"}, ("127.0.0.9", 9000)),
])
def test_port(params: dict[str, str], where: tuple[str, int]) -> None:
    address = MicrosoftOCSPowerDriver(None).address(params)
    assert (address.host, address.port) == where


@pytest.mark.parametrize("params", [
    {"power_address": "127.0.0.9", "power_port": "http", "blade_id": "1"},
    {"power_address": "127.0.0.9", "blade_id": "0"},
    {"power_address": "127.0.0.9", "blade_id": "1;reboot"},
    {"power_address": "", "blade_id": "1"},
])
def test_bad_settings(params: dict[str, str]) -> None:
    driver = MicrosoftOCSPowerDriver(MemoryReactorClock())
    results: list[Any] = []
    Deferred.fromCoroutine(driver.off(params)).addBoth(results.append)
    assert isinstance(results[0].value, PowerSettingError)


def test_deadline_on_a_silent_chassis_manager() -> None:
    reactor = MemoryReactorClock()
    driver = MicrosoftOCSPowerDriver(reactor, timeout=20)
    results: list[Any] = []
    Deferred.fromCoroutine(driver.query({"power_address": "127.0.0.9", "blade_id": "2"})
                           ).addBoth(results.append)
    assert reactor.tcpClients[0][1] == 8000
    reactor.advance(21)
    assert isinstance(results[0].value, PowerConnError)
