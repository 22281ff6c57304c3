"""ucsm: the endpoint URL, method XML, error answers, and a silent UCS Manager."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock

from power.errors import PowerActionError, PowerConnError, PowerSettingError
from power.ucsm import UCSMError, UCSMPowerDriver, api_url, check, method


@pytest.mark.parametrize(("address", "url"), [
    ("https://ucsm.example.com/", "https://ucsm.example.com/nuova"),
    ("https://ucsm.example.com", "https://ucsm.example.com/nuova"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/nuova"),
    ("127.0.0.1:8080", "http://127.0.0.1:8080/nuova"),
    ("ucsm", "http://ucsm/nuova"),
])
def test_api_url(address: str, url: str) -> None:
    assert api_url(address) == url


@pytest.mark.parametrize("address", ["ftp://ucsm/", "http://", "ucsm manager", "ucsm:99999"])
def test_bad_api_url(address: str) -> None:
    with pytest.raises(PowerSettingError):
        api_url(address)


def test_method_escapes_attributes() -> None:
    data = method("aaaLogin", {"inName": "admin", "inPassword": 'a"<&>\''})
    root = etree.fromstring(data)
    assert root.tag == "aaaLogin" and root.get("inPassword") == 'a"<&>\''
    child = etree.Element("inConfig")
    etree.SubElement(child, "lsPower", {"dn": "org-root/ls-x/power", "state": "admin-up"})
    assert method("configConfMo", {"dn": "d"}, [child]) == (
        b'<configConfMo dn="d"><inConfig><lsPower dn="org-root/ls-x/power" state="admin-up"/>'
        b"</inConfig></configConfMo>")


def test_check() -> None:
    assert check(b'<aaaLogin response="yes" outCookie="c"/>', "aaaLogin").get("outCookie") == "c"
    with pytest.raises(UCSMError, match=r"Authorization required.*552"):
        check(b'<configResolveClass response="yes" errorCode="552" '
              b'errorDescr="Authorization required"/>', "configResolveClass")
    with pytest.raises(PowerActionError, match="not XML"):
        check(b"<html", "aaaLogin")
    with pytest.raises(PowerActionError, match="answered aaaLogin with <other>"):
        check(b"<other/>", "aaaLogin")
    with pytest.raises(PowerActionError):
        check(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><aaaLogin a="&e;"/>',
              "aaaLogin")


def test_deadline_on_a_silent_ucsm() -> None:
    reactor = MemoryReactorClock()
    driver = UCSMPowerDriver(reactor, timeout=40, request_timeout=100)
    results: list[Any] = []
    Deferred.fromCoroutine(driver.query({
        "power_address": "https://127.0.0.5/", "uuid": "u", "power_pass": "pw",
    })).addBoth(results.append)
    reactor.advance(39)
    assert results == []
    reactor.advance(2)
    assert isinstance(results[0].value, PowerConnError)
