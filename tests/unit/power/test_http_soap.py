"""power.http (Digest, timeouts) and power.soap (envelopes, faults)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.testing import MemoryReactorClock

from power import soap
from power.errors import PowerConnError
from power.http import DigestAuth, parse_challenges, request
from power.mscm import MSCMPowerDriver
from power.ssh import HostKeys, run_command
from power.address import parse_address


def test_parse_challenges() -> None:
    found = parse_challenges([
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe", '
        'Basic realm="x\\"y"'])
    assert found[0] == ("digest", {"realm": "http-auth@example.org", "qop": "auth, auth-int",
                                   "algorithm": "SHA-256",
                                   "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                                   "opaque": "FQhe"})
    assert found[1] == ("basic", {"realm": 'x"y'})


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess"])
def test_digest_response(algorithm: str) -> None:
    """The response is RFC 7616's formula (RFC example credentials), recomputed here."""
    auth = DigestAuth("Mufasa", "Circle of Life")
    assert auth.accept([("digest", {"realm": "http-auth@example.org", "qop": "auth",
                                    "algorithm": algorithm, "nonce": "n0nce", "opaque": "op"})])
    header = auth.header("GET", "/dir/index.html").decode()
    fields = dict(parse_challenges([header])[0][1])
    h = hashlib.sha256 if algorithm.startswith("SHA") else hashlib.md5

    def d(text: str) -> str:
        return h(text.encode()).hexdigest()

    ha1 = d("Mufasa:http-auth@example.org:Circle of Life")
    if algorithm.endswith("-sess"):
        ha1 = d(f"{ha1}:n0nce:{fields['cnonce']}")
    expected = d(f"{ha1}:n0nce:00000001:{fields['cnonce']}:auth:{d('GET:/dir/index.html')}")
    assert fields["response"] == expected
    assert (fields["nc"], fields["qop"], fields["opaque"], fields["uri"]) == (
        "00000001", "auth", "op", "/dir/index.html")
    assert "Circle of Life" not in header and "Circle" not in repr(auth)
    auth.header("GET", "/")
    assert auth.nonce_count == 2


def test_digest_refuses_unknown_algorithm() -> None:
    assert not DigestAuth("u", "p").accept([("digest", {"nonce": "n", "algorithm": "SHA-512"})])


def outcome(d: Deferred[Any]) -> list[Any]:
    results: list[Any] = []
    d.addBoth(results.append)
    return results


def test_http_request_times_out_on_a_silent_peer() -> None:
    """style.md §2.6: a Clock, a peer that never answers, the clock past the timeout."""
    reactor = MemoryReactorClock()
    d = Deferred.fromCoroutine(request(reactor, "POST", "http://127.0.0.1:16992/wsman",
                                       body=b"x", timeout=30))
    results = outcome(d)
    assert reactor.tcpClients or not results  # a connection was attempted, nothing came back
    reactor.advance(29)
    assert results == []
    reactor.advance(2)
    assert results and isinstance(results[0].value, PowerConnError)
    assert "did not answer within 30" in str(results[0].value)


@pytest.mark.parametrize(("url", "host", "port"), [
    ("http://10.1.2.3:8080/power", "10.1.2.3", 8080),
    ("http://[fd00::5]/power", "fd00::5", 80),
    ("https://10.1.2.3/redfish/v1", "10.1.2.3", 443),
])
def test_an_ip_literal_is_connected_to_without_a_name_lookup(url: str, host: str,
                                                             port: int) -> None:
    """The TCP connect starts at once: no resolver (and no thread) in between."""
    reactor = MemoryReactorClock()
    d = Deferred.fromCoroutine(request(reactor, "GET", url, timeout=30))
    assert [(client[0], client[1]) for client in reactor.tcpClients] == [(host, port)]
    d.cancel()
    outcome(d)


def test_a_cancelled_request_is_cancelled_not_a_connection_error() -> None:
    """A caller that stops waiting (a cluster shutting down) gets CancelledError: no
    device failed, so nothing may report or log one."""
    reactor = MemoryReactorClock()
    d = Deferred.fromCoroutine(request(reactor, "GET", "http://127.0.0.1:16992/x", timeout=30))
    results = outcome(d)
    d.cancel()
    assert results and results[0].check(CancelledError)
    assert reactor.getDelayedCalls() == []


def test_ssh_command_times_out_on_a_silent_peer() -> None:
    reactor = MemoryReactorClock()
    d = Deferred.fromCoroutine(run_command(
        reactor, parse_address("127.0.0.1:2222"), "u", "p", "show node list",
        host_keys=HostKeys(), timeout=20))
    results = outcome(d)
    reactor.advance(21)
    assert results and isinstance(results[0].value, PowerConnError)


def test_mscm_driver_deadline_with_a_clock() -> None:
    """The driver's deadline (45 s) ends a call whose TCP connect never completes."""
    reactor = MemoryReactorClock()
    driver = MSCMPowerDriver(reactor, timeout=45, command_timeout=100, connect_timeout=60)
    results = outcome(Deferred.fromCoroutine(driver.query(
        {"power_address": "127.0.0.1:2222", "power_user": "u", "power_pass": "password",
         "node_id": "c1n1"})))
    reactor.advance(44)
    assert results == []
    reactor.advance(2)
    assert results and isinstance(results[0].value, PowerConnError)
    assert "Timed out after 45" in str(results[0].value)


def test_soap11_fault() -> None:
    data = (b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            b"<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Cannot complete"
            b' login</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" '
            b'xsi:type="InvalidLogin"/></detail></soapenv:Fault></soapenv:Body>'
            b"</soapenv:Envelope>")
    with pytest.raises(soap.SOAPFault) as caught:
        soap.payload(data)
    assert caught.value.mentions("InvalidLogin") and caught.value.reason == "Cannot complete login"


def test_soap12_fault_subcode() -> None:
    data = (b'<a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope"><a:Body><a:Fault>'
            b"<a:Code><a:Value>a:Sender</a:Value><a:Subcode><a:Value>wsman:AccessDenied"
            b"</a:Value></a:Subcode></a:Code><a:Reason><a:Text>denied</a:Text></a:Reason>"
            b"</a:Fault></a:Body></a:Envelope>")
    with pytest.raises(soap.SOAPFault) as caught:
        soap.payload(data)
    assert caught.value.subcodes == ["wsman:AccessDenied"] and caught.value.mentions("accessdenied")


@pytest.mark.parametrize("data", [b"", b"<html>nope</html>", b"not xml",
                                  b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'])
def test_not_soap(data: bytes) -> None:
    with pytest.raises(soap.SOAPError):
        soap.payload(data)
