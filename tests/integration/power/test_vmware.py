"""The vmware driver speaking vim25 SOAP to a fake vCenter, over HTTP and self-signed HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from power.errors import PowerAuthError, PowerConnError, PowerSettingError
from power.vmware import VMwarePowerDriver, list_machines
from tests.fakes.vsphere import VM, FakeVSphere
from tests.integration.power.conftest import free_udp_port

USER, PASSWORD = "administrator@vsphere.local", "Vm<ware>&'\"pw"


def machines() -> list[VM]:
    return [
        VM("vm-11", "node1", "4211a3c7-0000-0000-0000-000000000011",
           "5011a3c7-0000-0000-0000-000000000011", "ubuntu64Guest", ["00:50:56:00:00:11"]),
        VM("vm-12", "node2", "4211a3c7-0000-0000-0000-000000000012",
           "5011a3c7-0000-0000-0000-000000000012", "ubuntuGuest",
           ["00:50:56:00:00:12", "00:50:56:00:00:13"]),
        VM("vm-13", "node3", "4211a3c7-0000-0000-0000-000000000013",
           "5011a3c7-0000-0000-0000-000000000013", "otherGuest64", []),
    ]


@pytest.fixture(scope="module", params=["http", "https+unverified"])
def server(request: pytest.FixtureRequest, reactor: Any) -> Iterator[tuple[FakeVSphere, dict]]:
    device = FakeVSphere(USER, PASSWORD, machines())
    if request.param == "http":
        port = reactor.listenTCP(0, device.site(), interface="127.0.0.1")
    else:
        from twisted.internet import ssl

        certificate = ssl.KeyPair.generate(size=2048).selfSignedCert(1, CN="vcenter.test")
        port = reactor.listenSSL(0, device.site(), certificate.options(), interface="127.0.0.1")
    base = {"power_address": f"127.0.0.1:{port.getHost().port}", "power_user": USER,
            "power_pass": PASSWORD, "power_protocol": request.param}
    yield device, base
    port.stopListening()


@pytest.fixture
def vc(server: tuple[FakeVSphere, dict]) -> tuple[FakeVSphere, dict]:
    device, base = server
    device.calls.clear()
    for vm, fresh in zip(device.vms.values(), machines(), strict=True):
        vm.power_state = fresh.power_state
    return device, base


@pytest_twisted.ensureDeferred
async def test_query_by_uuid(reactor: Any, vc: tuple[FakeVSphere, dict]) -> None:
    device, base = vc
    driver = VMwarePowerDriver(reactor)
    params = {**base, "power_uuid": "5011a3c7-0000-0000-0000-000000000012"}  # instance UUID
    assert await driver.query(params) == "off"
    device.vm("node2").power_state = "suspended"
    assert await driver.query(params) == "on"  # 1.8: suspended counts as on
    assert device.methods()[:3] == ["RetrieveServiceContent", "Login", "FindByUuid"]
    assert device.methods()[-1] == "Logout"
    # A BIOS UUID is found at the second FindByUuid (instanceUuid false).
    device.calls.clear()
    await driver.query({**base, "power_uuid": "4211a3c7-0000-0000-0000-000000000013"})
    assert [a["instanceUuid"] for m, a in device.calls if m == "FindByUuid"] == ["true", "false"]


@pytest_twisted.ensureDeferred
async def test_on_off_by_name(reactor: Any, vc: tuple[FakeVSphere, dict]) -> None:
    device, base = vc
    driver = VMwarePowerDriver(reactor, task_poll=0.01)
    params = {**base, "power_vm_name": "node3"}
    await driver.on(params, system_id="node-vmware")
    assert device.vm("node3").power_state == "poweredOn"
    assert "CreateContainerView" in device.methods()
    assert "ContinueRetrievePropertiesEx" in device.methods()  # 3 VMs, pages of 2
    assert "PowerOnVM_Task" in device.methods()
    assert device.views == set()  # the view was destroyed
    device.calls.clear()
    await driver.on(params)  # already on: no task
    assert "PowerOnVM_Task" not in device.methods()
    await driver.off(params)
    assert device.vm("node3").power_state == "poweredOff"
    assert device.vm("node1").power_state == "poweredOff"


@pytest_twisted.ensureDeferred
async def test_unknown_vm(reactor: Any, vc: tuple[FakeVSphere, dict]) -> None:
    _, base = vc
    with pytest.raises(PowerSettingError, match="no VM named 'ghost'"):
        await VMwarePowerDriver(reactor).query({**base, "power_vm_name": "ghost"})


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, vc: tuple[FakeVSphere, dict]) -> None:
    device, base = vc
    with pytest.raises(PowerAuthError) as caught:
        await VMwarePowerDriver(reactor).query(
            {**base, "power_pass": "Wrong-Pass-7", "power_vm_name": "node1"})
    assert "Wrong-Pass-7" not in str(caught.value)
    assert device.methods() == ["RetrieveServiceContent", "Login"]


@pytest_twisted.ensureDeferred
async def test_list_machines(reactor: Any, vc: tuple[FakeVSphere, dict]) -> None:
    device, base = vc
    device.vm("node1").power_state = "poweredOn"
    host = base["power_address"]
    found = {m.name: m for m in await list_machines(
        reactor, host, USER, PASSWORD, protocol=base["power_protocol"])}
    assert set(found) == {"node1", "node2", "node3"}
    assert found["node2"].macs == ("00:50:56:00:00:12", "00:50:56:00:00:13")
    assert found["node2"].uuid == "5011a3c7-0000-0000-0000-000000000012"
    assert found["node1"].architecture == "amd64/generic"
    assert found["node2"].architecture == "i386/generic"
    assert found["node1"].power_state == "on" and found["node3"].power_state == "off"


@pytest_twisted.ensureDeferred
async def test_verified_https_refuses_a_self_signed_certificate(
    reactor: Any, vc: tuple[FakeVSphere, dict]
) -> None:
    _, base = vc
    if base["power_protocol"] != "https+unverified":
        pytest.skip("HTTPS only")
    with pytest.raises(PowerConnError):
        await VMwarePowerDriver(reactor).query(
            {**base, "power_protocol": "https", "power_vm_name": "node1"})


@pytest_twisted.ensureDeferred
async def test_power_port_overrides(reactor: Any, vc: tuple[FakeVSphere, dict]) -> None:
    _, base = vc
    host, _, port = base["power_address"].partition(":")
    params = {**base, "power_address": host, "power_port": port, "power_vm_name": "node1"}
    assert await VMwarePowerDriver(reactor).query(params) == "off"
    with pytest.raises(PowerConnError):
        await VMwarePowerDriver(reactor).query({**params, "power_port": str(free_udp_port())})
