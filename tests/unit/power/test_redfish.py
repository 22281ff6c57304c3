"""redfish: error bodies, the reset action, settings, and a silent BMC."""

from __future__ import annotations

import json
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock

from power.errors import PowerConnError, PowerSettingError
from power.http import HTTPResponse
from power.redfish import RedfishPowerDriver, error_message


def response(status: int, body: Any) -> HTTPResponse:
    return HTTPResponse(status, {}, json.dumps(body).encode() if body is not None else b"")


def test_error_message_prefers_extended_info() -> None:
    body = {"error": {"code": "Base.1.8.GeneralError", "message": "See ExtendedInfo",
                      "@Message.ExtendedInfo": [{"MessageId": "Base.1.8.PropertyValueNotInList",
                                                 "Message": "The value Bogus is not allowed."}]}}
    assert error_message(response(400, body)) == "HTTP 400: The value Bogus is not allowed."
    assert error_message(response(501, {"error": {"message": "Not here"}})) == \
        "HTTP 501: Not here"
    assert error_message(HTTPResponse(500, {}, b"<html>")) == "HTTP 500"


def test_reset_target() -> None:
    system = {"Actions": {"#ComputerSystem.Reset": {
        "target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        "ResetType@Redfish.AllowableValues": ["On", "ForceOff"]}}}
    assert RedfishPowerDriver.reset_target(system, "/redfish/v1/Systems/1") == (
        "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", ["On", "ForceOff"])
    assert RedfishPowerDriver.reset_target({}, "/redfish/v1/Systems/2/") == (
        "/redfish/v1/Systems/2/Actions/ComputerSystem.Reset", None)


def outcome(reactor: MemoryReactorClock, params: dict[str, str], **kwargs: Any) -> list[Any]:
    results: list[Any] = []
    driver = RedfishPowerDriver(reactor, **kwargs)
    Deferred.fromCoroutine(driver.query(params)).addBoth(results.append)
    return results


@pytest.mark.parametrize("params", [
    {"power_address": "https://bmc"}, {"power_address": ""},
    {"power_address": "127.0.0.12", "power_protocol": "ftp"},
    {"power_address": "127.0.0.12", "power_auth": "kerberos"},
])
def test_bad_settings(params: dict[str, str]) -> None:
    results = outcome(MemoryReactorClock(), params)
    assert isinstance(results[0].value, PowerSettingError)


def test_https_by_default_and_deadline() -> None:
    reactor = MemoryReactorClock()
    results = outcome(reactor, {"power_address": "127.0.0.12", "power_pass": "pw"}, timeout=30)
    assert reactor.tcpClients[0][1] == 443 or reactor.sslClients[0][1] == 443
    reactor.advance(31)
    assert isinstance(results[0].value, PowerConnError)


def test_port_and_http() -> None:
    reactor = MemoryReactorClock()
    outcome(reactor, {"power_address": "127.0.0.12:8000", "power_protocol": "http"})
    assert reactor.tcpClients[0][1] == 8000
