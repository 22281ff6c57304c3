"""The ucsm driver against a fake UCS Manager XML API (Twisted web) over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from power.errors import PowerActionError, PowerAuthError, PowerConnError, PowerSettingError
from power.ucsm import UCSMPowerDriver, list_machines
from tests.fakes.ucsm import FakeServer, FakeUCSM
from tests.fakes.webbase import listen
from tests.integration.power.conftest import free_udp_port

USER, PASSWORD = "ucs-admin", "p<&>\"w'd"
UUID1 = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
UUID2 = "1b4e28ba-2fa1-11d2-883f-0016d3cca428"


def fresh_servers() -> list[FakeServer]:
    return [
        FakeServer("sys/chassis-1/blade-1", UUID1, "org-root/ls-node1",
                   ["00:25:B5:00:00:01", "00:25:b5:00:00:02"]),
        FakeServer("sys/chassis-1/blade-2", UUID2, "org-root/ls-node2", ["00:25:b5:00:00:03"]),
        FakeServer("sys/chassis-1/blade-3", "1b4e28ba-2fa1-11d2-883f-0016d3cca429", "", []),
    ]


@pytest.fixture(scope="module")
def device(reactor: Any) -> Iterator[FakeUCSM]:
    ucsm = FakeUCSM(USER, PASSWORD, fresh_servers())
    port, address = listen(reactor, ucsm)
    ucsm.url = f"http://{address}/"  # type: ignore[attr-defined]
    yield ucsm
    port.stopListening()


@pytest.fixture
def ucsm(device: FakeUCSM) -> FakeUCSM:
    device.servers = fresh_servers()
    device.calls.clear()
    device.cookies.clear()
    return device


def params(ucsm: FakeUCSM, uuid: str = UUID1, **overrides: str) -> dict[str, str]:
    values = {"power_address": ucsm.url, "power_user": USER,  # type: ignore[attr-defined]
              "power_pass": PASSWORD, "uuid": uuid}
    values.update(overrides)
    return values


@pytest_twisted.ensureDeferred
async def test_on_sends_admin_up_and_logs_out(reactor: Any, ucsm: FakeUCSM) -> None:
    await UCSMPowerDriver(reactor).on(params(ucsm), system_id="node-ucs")
    assert ucsm.servers[0].state == "up"
    assert ucsm.names() == ["aaaLogin", "configResolveClass", "configResolveChildren",
                            "configConfMo", "aaaLogout"]
    login = ucsm.calls[0][1]
    assert login == {"inName": USER, "inPassword": PASSWORD}
    cookie = ucsm.calls[1][1]["cookie"]
    assert all(attrs.get("cookie") == cookie for _, attrs, _ in ucsm.calls[1:4])
    assert ucsm.calls[4][1] == {"inCookie": cookie}
    assert b'<eq class="computeItem" property="uuid" value="%s"/>' % UUID1.encode() \
        in ucsm.calls[1][2]
    assert ucsm.calls[2][1]["inDn"] == "org-root/ls-node1"
    assert ucsm.calls[2][1]["classId"] == "lsPower"
    assert ucsm.calls[3][1]["dn"] == "org-root/ls-node1/power"
    assert b'<lsPower dn="org-root/ls-node1/power" state="admin-up"/>' in ucsm.calls[3][2]
    assert ucsm.cookies == set()


@pytest_twisted.ensureDeferred
async def test_on_when_up_cycles(reactor: Any, ucsm: FakeUCSM) -> None:
    ucsm.servers[0].state = "up"
    await UCSMPowerDriver(reactor).on(params(ucsm))
    assert b'state="cycle-immediate"' in ucsm.calls[3][2]
    assert ucsm.servers[0].cycles == 1


@pytest_twisted.ensureDeferred
async def test_off_and_query(reactor: Any, ucsm: FakeUCSM) -> None:
    driver = UCSMPowerDriver(reactor)
    ucsm.servers[1].state = "up"
    assert await driver.query(params(ucsm, UUID2)) == "on"
    await driver.off(params(ucsm, UUID2))
    assert b'state="admin-down"' in ucsm.calls[-2][2]
    assert await driver.query(params(ucsm, UUID2)) == "off"
    assert ucsm.servers[0].state == "down"
    assert ucsm.cookies == set()


@pytest_twisted.ensureDeferred
async def test_bare_host_port_address(reactor: Any, ucsm: FakeUCSM) -> None:
    address = ucsm.url.removeprefix("http://").rstrip("/")  # type: ignore[attr-defined]
    assert await UCSMPowerDriver(reactor).query(params(ucsm, power_address=address)) == "off"


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, ucsm: FakeUCSM) -> None:
    with pytest.raises(PowerAuthError, match="Authentication failed") as caught:
        await UCSMPowerDriver(reactor).on(params(ucsm, power_pass="Bad-Secret-9"))
    assert "Bad-Secret-9" not in str(caught.value)
    assert ucsm.names() == ["aaaLogin"]


@pytest_twisted.ensureDeferred
async def test_unknown_uuid_still_logs_out(reactor: Any, ucsm: FakeUCSM) -> None:
    with pytest.raises(PowerSettingError, match="no servers"):
        await UCSMPowerDriver(reactor).on(params(ucsm, "00000000-0000-0000-0000-000000000000"))
    assert ucsm.names()[-1] == "aaaLogout" and ucsm.cookies == set()


@pytest_twisted.ensureDeferred
async def test_server_without_service_profile(reactor: Any, ucsm: FakeUCSM) -> None:
    with pytest.raises(PowerSettingError, match="service profile"):
        await UCSMPowerDriver(reactor).query(params(ucsm, ucsm.servers[2].uuid))


@pytest_twisted.ensureDeferred
async def test_unknown_state(reactor: Any, ucsm: FakeUCSM) -> None:
    ucsm.servers[0].state = "soft-shut-down"
    with pytest.raises(PowerActionError, match="soft-shut-down"):
        await UCSMPowerDriver(reactor).query(params(ucsm))


@pytest_twisted.ensureDeferred
async def test_list_machines(reactor: Any, ucsm: FakeUCSM) -> None:
    servers = await list_machines(reactor, ucsm.url, USER, PASSWORD)  # type: ignore[attr-defined]
    assert [(s.uuid, s.macs, s.service_profile) for s in servers] == [
        (UUID1, ("00:25:b5:00:00:01", "00:25:b5:00:00:02"), "org-root/ls-node1"),
        (UUID2, ("00:25:b5:00:00:03",), "org-root/ls-node2"),
    ]
    assert ucsm.names()[0] == "aaaLogin" and ucsm.names()[-1] == "aaaLogout"
    assert b"<inFilter/>" in ucsm.calls[1][2]
    assert ucsm.cookies == set()


@pytest_twisted.ensureDeferred
async def test_nobody_listening(reactor: Any) -> None:
    with pytest.raises(PowerConnError):
        await UCSMPowerDriver(reactor).query({
            "power_address": f"http://127.0.0.1:{free_udp_port()}/", "uuid": UUID1})
