"""The amt driver speaking WS-Management to a fake AMT (Twisted's Digest auth) over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from power.amt import AMTPowerDriver
from power.errors import PowerActionError, PowerAuthError, PowerConnError
from tests.fakes.amt import FakeAMT
from tests.integration.power.conftest import free_udp_port

PASSWORD = "P@ssw0rd-\"amt\""


@pytest.fixture(scope="module")
def device(reactor: Any) -> Iterator[FakeAMT]:
    amt = FakeAMT(PASSWORD)
    port = reactor.listenTCP(0, amt.site(), interface="127.0.0.1")
    amt.address = f"127.0.0.1:{port.getHost().port}"  # type: ignore[attr-defined]
    yield amt
    port.stopListening()


@pytest.fixture
def amt(device: FakeAMT) -> FakeAMT:
    device.reset()
    device.lag = 0
    return device


def params(amt: FakeAMT, **overrides: str) -> dict[str, str]:
    values = {"power_address": amt.address, "power_pass": PASSWORD,  # type: ignore[attr-defined]
              "mac_address": "00:16:3e:00:00:01"}
    values.update(overrides)
    return values


def driver(reactor: Any, **kwargs: Any) -> AMTPowerDriver:
    return AMTPowerDriver(reactor, settle_waits=(0.05,) * 10, **kwargs)


@pytest_twisted.ensureDeferred
async def test_query(reactor: Any, amt: FakeAMT) -> None:
    assert await driver(reactor).query(params(amt)) == "off"
    for state, expected in ((2, "on"), (3, "on"), (7, "on"), (16, "on"), (6, "off"), (13, "off")):
        amt.power_state = state
        assert await driver(reactor).query(params(amt)) == expected
    assert amt.methods() == ["Enumerate"] * 7
    assert all(details["optimized"] for _, details in amt.calls)


@pytest_twisted.ensureDeferred
async def test_on_sets_pxe_then_powers_on(reactor: Any, amt: FakeAMT) -> None:
    amt.lag = 2  # the node reports on only at the third query after the change
    await driver(reactor).on(params(amt), system_id="node-amt")
    assert amt.is_on
    assert amt.methods()[:4] == ["Enumerate", "ChangeBootOrder", "SetBootConfigRole",
                                 "RequestPowerStateChange"]
    assert amt.calls[3][1] == {"PowerState": "2"}
    assert amt.boot_source == "Intel(r) AMT: Force PXE Boot" and amt.boot_role == "1"
    assert amt.methods()[4:] == ["Enumerate"] * 3


@pytest_twisted.ensureDeferred
async def test_on_when_on_restarts(reactor: Any, amt: FakeAMT) -> None:
    amt.power_state = 2
    await driver(reactor).on(params(amt))
    assert ("RequestPowerStateChange", {"PowerState": "10"}) in amt.calls
    assert amt.reboots == 1 and amt.is_on


@pytest_twisted.ensureDeferred
async def test_off(reactor: Any, amt: FakeAMT) -> None:
    amt.power_state = 2
    await driver(reactor).off(params(amt))
    assert amt.power_state == 8
    assert ("RequestPowerStateChange", {"PowerState": "8"}) in amt.calls
    amt.calls.clear()
    await driver(reactor).off(params(amt))  # already off: only the query
    assert amt.methods() == ["Enumerate"]


@pytest_twisted.ensureDeferred
async def test_node_that_never_comes_up(reactor: Any, amt: FakeAMT) -> None:
    amt.lag = 100
    with pytest.raises(PowerActionError, match="did not power on"):
        await driver(reactor).on(params(amt))


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, amt: FakeAMT) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await driver(reactor).query(params(amt, power_pass="Wrong-Secret-1"))
    assert "Wrong-Secret-1" not in str(caught.value)
    assert amt.calls == []


@pytest_twisted.ensureDeferred
async def test_ip_address_when_no_power_address(reactor: Any, amt: FakeAMT) -> None:
    """As 1.8: the address the cluster found for mac_address through ARP."""
    values = params(amt, power_address="")
    values["ip_address"] = amt.address  # type: ignore[attr-defined]
    assert await driver(reactor).query(values) == "off"


@pytest_twisted.ensureDeferred
async def test_nobody_listening(reactor: Any) -> None:
    with pytest.raises(PowerConnError):
        await driver(reactor).query({"power_address": f"127.0.0.1:{free_udp_port()}",
                                     "power_pass": "x"})
