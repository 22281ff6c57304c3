"""The msftocs driver against a fake OCS Chassis Manager (Twisted web) over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from power.errors import PowerActionError, PowerAuthError, PowerConnError, PowerSettingError
from power.msftocs import MicrosoftOCSPowerDriver, list_machines
from tests.fakes.ocs import FakeBlade, FakeOCS
from tests.fakes.webbase import listen
from tests.integration.power.conftest import free_udp_port

USER, PASSWORD = "cmadmin", "Ocs&P@ss<1>"


def fresh_blades() -> dict[str, FakeBlade]:
    return {"1": FakeBlade(["F4:52:14:D6:70:98", "F4:52:14:D6:70:99"]),
            "2": FakeBlade(["f4:52:14:d6:71:00"]),
            "3": FakeBlade([])}  # an empty slot: no NICs


@pytest.fixture(scope="module")
def device(reactor: Any) -> Iterator[FakeOCS]:
    ocs = FakeOCS(USER, PASSWORD, fresh_blades())
    port, address = listen(reactor, ocs)
    ocs.host, ocs.port = address.split(":")  # type: ignore[attr-defined]
    yield ocs
    port.stopListening()


@pytest.fixture
def ocs(device: FakeOCS) -> FakeOCS:
    device.blades = fresh_blades()
    device.requests.clear()
    return device


def params(ocs: FakeOCS, blade: str = "1", **overrides: str) -> dict[str, str]:
    values = {"power_address": ocs.host, "power_port": ocs.port,  # type: ignore[attr-defined]
              "power_user": USER, "power_pass": PASSWORD, "blade_id": blade}
    values.update(overrides)
    return values


@pytest_twisted.ensureDeferred
async def test_query(reactor: Any, ocs: FakeOCS) -> None:
    driver = MicrosoftOCSPowerDriver(reactor)
    assert await driver.query(params(ocs)) == "off"
    ocs.blades["1"].on = True
    assert await driver.query(params(ocs)) == "on"
    assert ocs.requests == [("GetBladeState", {"bladeid": "1"})] * 2


@pytest_twisted.ensureDeferred
async def test_on_from_off(reactor: Any, ocs: FakeOCS) -> None:
    """Persistent boot from disk, PXE once, then on: the blade boots PXE, later boots disk."""
    await MicrosoftOCSPowerDriver(reactor).on(params(ocs, "2"), system_id="node-ocs")
    assert ocs.requests == [
        ("GetBladeState", {"bladeid": "2"}),
        ("SetNextBoot", {"bladeid": "2", "bootType": "3", "uefi": "false", "persistent": "true"}),
        ("SetNextBoot", {"bladeid": "2", "bootType": "2", "uefi": "false",
                         "persistent": "false"}),
        ("SetBladeOn", {"bladeid": "2"}),
    ]
    blade = ocs.blades["2"]
    assert blade.on and blade.boots == ["ForcePxe"]
    assert blade.persistent_boot == "ForceDefaultHdd"


@pytest_twisted.ensureDeferred
async def test_on_when_on_powers_off_first(reactor: Any, ocs: FakeOCS) -> None:
    ocs.blades["1"].on = True
    await MicrosoftOCSPowerDriver(reactor).on(params(ocs))
    assert ocs.commands() == ["GetBladeState", "SetBladeOff", "SetNextBoot", "SetNextBoot",
                              "SetBladeOn"]
    assert ocs.blades["1"].boots == ["ForcePxe"]


@pytest_twisted.ensureDeferred
async def test_off(reactor: Any, ocs: FakeOCS) -> None:
    ocs.blades["1"].on = True
    await MicrosoftOCSPowerDriver(reactor).off(params(ocs))
    assert ocs.requests == [("SetBladeOff", {"bladeid": "1"})]
    assert not ocs.blades["1"].on


@pytest_twisted.ensureDeferred
async def test_host_port_in_power_address(reactor: Any, ocs: FakeOCS) -> None:
    """power_address host:port wins over power_port."""
    values = params(ocs, power_address=f"{ocs.host}:{ocs.port}",  # type: ignore[attr-defined]
                    power_port="1")
    assert await MicrosoftOCSPowerDriver(reactor).query(values) == "off"


@pytest_twisted.ensureDeferred
async def test_blade_the_chassis_lacks(reactor: Any, ocs: FakeOCS) -> None:
    with pytest.raises(PowerSettingError, match="ParameterOutOfRange"):
        await MicrosoftOCSPowerDriver(reactor).off(params(ocs, "9"))


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, ocs: FakeOCS) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await MicrosoftOCSPowerDriver(reactor).query(params(ocs, power_pass="Bad-Secret-3"))
    assert "Bad-Secret-3" not in str(caught.value)
    assert ocs.requests == []


@pytest_twisted.ensureDeferred
async def test_list_machines(reactor: Any, ocs: FakeOCS) -> None:
    """GetChassisInfo for the blades, GetBladeInfo for their MACs; empty slots skipped."""
    blades = await list_machines(reactor, ocs.host, ocs.port, USER,  # type: ignore[attr-defined]
                                 PASSWORD)
    assert [(b.blade_id, b.macs) for b in blades] == [
        ("1", ("f4:52:14:d6:70:98", "f4:52:14:d6:70:99")),
        ("2", ("f4:52:14:d6:71:00",)),
    ]
    assert ocs.commands() == ["GetChassisInfo", "GetBladeInfo", "GetBladeInfo", "GetBladeInfo"]


@pytest_twisted.ensureDeferred
async def test_list_machines_wrong_password(reactor: Any, ocs: FakeOCS) -> None:
    with pytest.raises(PowerAuthError):
        await list_machines(reactor, ocs.host, ocs.port, USER, "nope")  # type: ignore[attr-defined]


@pytest_twisted.ensureDeferred
async def test_nobody_listening(reactor: Any) -> None:
    with pytest.raises(PowerConnError):
        await MicrosoftOCSPowerDriver(reactor).query({
            "power_address": "127.0.0.1", "power_port": str(free_udp_port()), "blade_id": "1"})


def test_failure_completion_code_is_retryable() -> None:
    from power.msftocs import parse
    from tests.fakes.ocs import document

    with pytest.raises(PowerActionError, match="Timeout: busy"):
        parse(document("BladeResponse", "Timeout", "busy"), "SetBladeOn")
