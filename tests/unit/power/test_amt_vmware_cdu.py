"""amt, vmware, fence_cdu and mscm: pure parts (state tables, requests, parameters, errors)."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree
from twisted.internet.task import Clock

from power.amt import AMTPowerDriver, envelope, power_state
from power.address import parse_address
from power.errors import PowerActionError, PowerAuthError, PowerSettingError
from power.fence_cdu import FenceCDUPowerDriver, classify, stdin_options
from power.mscm import check_node_id
from power.process import ProcessResult
from power.vmware import endpoint
from tests.unit.power.test_ipmi import run


@pytest.mark.parametrize("value", ["2", "3", "4", "5", "7", "9", "10", "14", "15", "16"])
def test_amt_on_states(value: str) -> None:
    assert power_state(value) == "on"


@pytest.mark.parametrize("value", ["6", "8", "12", "13"])
def test_amt_off_states(value: str) -> None:
    assert power_state(value) == "off"


def test_amt_unknown_state() -> None:
    with pytest.raises(PowerActionError):
        power_state("1")


def test_amt_url_and_envelope() -> None:
    assert AMTPowerDriver.url(parse_address("10.0.0.5")) == "http://10.0.0.5:16992/wsman"
    assert AMTPowerDriver.url(parse_address("10.0.0.5:16993")) == "https://10.0.0.5:16993/wsman"
    assert AMTPowerDriver.url(parse_address("[fe80::1]:8080")) == "http://[fe80::1]:8080/wsman"
    data = envelope("http://h:16992/wsman", "urn:x/Do", "urn:x", [], {"Name": "A&B"})
    root = etree.fromstring(data)
    ns = {"s": "http://www.w3.org/2003/05/soap-envelope",
          "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
          "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"}
    assert root.findtext("s:Header/wsa:Action", namespaces=ns) == "urn:x/Do"
    assert root.findtext("s:Header/wsa:To", namespaces=ns) == "http://h:16992/wsman"
    assert root.find("s:Header/wsman:SelectorSet/wsman:Selector", ns).text == "A&B"


def test_amt_needs_an_address() -> None:
    with pytest.raises(PowerSettingError):
        AMTPowerDriver(None, clock=Clock()).address({"power_pass": "x"})


@pytest.mark.parametrize(("params", "url", "verify"), [
    ({"power_address": "vc.example.com"}, "https://vc.example.com/sdk", True),
    ({"power_address": "vc:8443", "power_protocol": "https+unverified"},
     "https://vc:8443/sdk", False),
    ({"power_address": "vc:8443", "power_port": "9443", "power_protocol": "http"},
     "http://vc:9443/sdk", True),
    ({"power_address": "fe80::5"}, "https://[fe80::5]/sdk", True),
])
def test_vmware_endpoint(params: dict[str, str], url: str, verify: bool) -> None:
    target = endpoint({**params, "power_user": "u", "power_pass": "Secret-1"})
    assert (target.url, target.verify_tls) == (url, verify)
    assert "Secret-1" not in repr(target)


@pytest.mark.parametrize("params", [
    {"power_address": ""}, {"power_address": "vc", "power_protocol": "ftp"},
    {"power_address": "vc", "power_port": "http"}, {"power_address": "a b"},
])
def test_vmware_endpoint_refused(params: dict[str, str]) -> None:
    with pytest.raises(PowerSettingError):
        endpoint(params)


def test_fence_stdin_quotes_every_value() -> None:
    assert stdin_options({"password": ' "p" ', "plug": "n1"}) == b'password=" "p" "\nplug="n1"\n'
    with pytest.raises(PowerSettingError):
        stdin_options({"password": "a\nport=9"})


@pytest.mark.parametrize(("output", "error"), [
    ("2026 ERROR: Unable to connect/login to fencing device", PowerAuthError),
    ("Failed: Unable to obtain correct plug status or plug is not available",
     PowerSettingError),
    ("Failed: Timed out waiting to power ON", PowerActionError),
])
def test_fence_classify(output: str, error: type) -> None:
    assert type(classify(ProcessResult(1, None, b"", output.encode()), [], "n1")) is error


def test_fence_only_acts_when_the_state_differs() -> None:
    calls: list[bytes] = []

    async def runner(reactor: Any, argv: list[str], **kwargs: Any) -> ProcessResult:
        calls.append(kwargs["stdin"])
        if b'action="status"' in kwargs["stdin"]:
            return ProcessResult(2, None, b"Status: OFF\n", b"")
        return ProcessResult(0, None, b"Success: Powered ON\n", b"")

    async def reachable(*args: Any) -> None:
        return None

    driver = FenceCDUPowerDriver(None, clock=Clock(), fence_cdu="/fake/fence_cdu",
                                 telnet="/fake/telnet", runner=runner, probe=reachable)
    params = {"power_address": "cdu:2323", "power_id": "n1", "power_user": "admn",
              "power_pass": "pw"}
    run(driver.off(params))
    assert len(calls) == 1  # already off: status only
    run(driver.on(params))
    assert b'action="on"' in calls[-1] and b'ipport="2323"' in calls[-1]
    assert b'ip="cdu"' in calls[-1]


@pytest.mark.parametrize("node_id", ["c1n1", "c45n2"])
def test_mscm_node_id(node_id: str) -> None:
    assert check_node_id(node_id) == node_id


@pytest.mark.parametrize("node_id", ["c1", "1n1", "c1n1 ; x", "C1N1", "c1n1\n"])
def test_mscm_bad_node_id(node_id: str) -> None:
    with pytest.raises(PowerSettingError):
        check_node_id(node_id)
