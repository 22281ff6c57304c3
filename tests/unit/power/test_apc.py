"""apc: settings, the off/delay/on sequence on a Clock, state mapping, SNMP error classes."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from power import apc, snmp
from power.address import parse_address
from power.apc import OUTLET_COMMAND_OID, APCPowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerNotSupportedError,
    PowerSettingError,
)
from tests.unit.power.test_ipmi import run


class FakeSNMP:
    """Stands in for power.snmp's two calls, answering at once."""

    def __init__(self, value: int = 1) -> None:
        self.value = value
        self.calls: list[tuple[Any, ...]] = []

    async def set_integer(self, target: Any, community: str, oid: str, value: int,
                          **kwargs: Any) -> int:
        self.calls.append(("set", str(target), community, oid, value, kwargs))
        return value

    async def get_integer(self, target: Any, community: str, oid: str, **kwargs: Any) -> int:
        self.calls.append(("get", str(target), community, oid, kwargs))
        return self.value


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSNMP:
    fake = FakeSNMP()
    monkeypatch.setattr(apc.snmp, "set_integer", fake.set_integer)
    monkeypatch.setattr(apc.snmp, "get_integer", fake.get_integer)
    return fake


PARAMS = {"power_address": "127.0.0.7:1161", "node_outlet": "4"}


def test_on_is_off_then_on_after_the_delay(fake: FakeSNMP) -> None:
    clock = Clock()
    d = Deferred.fromCoroutine(APCPowerDriver(None, clock=clock).on(
        {**PARAMS, "power_on_delay": "5"}))
    done: list[Any] = []
    d.addBoth(done.append)
    assert [c[4] for c in fake.calls] == [2]
    clock.advance(4.9)
    assert [c[4] for c in fake.calls] == [2] and not done
    clock.advance(0.2)
    assert [c[4] for c in fake.calls] == [2, 1] and done == [None]
    for call in fake.calls:
        assert call[1:4] == ("127.0.0.7:1161", "private", OUTLET_COMMAND_OID + ".4")
        assert call[5] == {"timeout": 2.0, "retries": 2}


def test_default_delay_is_5(fake: FakeSNMP) -> None:
    clock = Clock()
    d = Deferred.fromCoroutine(APCPowerDriver(None, clock=clock).on(PARAMS))
    clock.advance(4.99)
    assert len(fake.calls) == 1
    clock.advance(0.02)
    assert len(fake.calls) == 2 and d.called


def test_off(fake: FakeSNMP) -> None:
    run(APCPowerDriver(None, clock=Clock()).off(PARAMS))
    assert [(c[0], c[2], c[4]) for c in fake.calls] == [("set", "private", 2)]


@pytest.mark.parametrize(("value", "state"), [(1, "on"), (2, "off")])
def test_power_query_reads_with_public(fake: FakeSNMP, value: int, state: str) -> None:
    fake.value = value
    assert run(APCPowerDriver(None, clock=Clock()).power_query(PARAMS)) == state
    assert fake.calls[0][:4] == ("get", "127.0.0.7:1161", "public", OUTLET_COMMAND_OID + ".4")


def test_power_query_strange_value(fake: FakeSNMP) -> None:
    fake.value = 3
    with pytest.raises(PowerActionError):
        run(APCPowerDriver(None, clock=Clock()).power_query(PARAMS))


def test_not_polled_as_in_18() -> None:
    with pytest.raises(PowerNotSupportedError):
        run(APCPowerDriver(None, clock=Clock()).query(PARAMS))


@pytest.mark.parametrize("changes", [
    {"node_outlet": "0"}, {"node_outlet": "65"}, {"node_outlet": "x"}, {"node_outlet": ""},
    {"power_on_delay": "-1"}, {"power_on_delay": "61"}, {"power_on_delay": "soon"},
    {"power_address": ""}, {"power_address": "pdu 1"},
])
def test_bad_settings_are_fatal(fake: FakeSNMP, changes: dict[str, str]) -> None:
    with pytest.raises(PowerSettingError):
        run(APCPowerDriver(None, clock=Clock()).on({**PARAMS, **changes}))
    assert fake.calls == []


@pytest.mark.parametrize(("status", "error"), [
    (2, PowerSettingError), (4, PowerSettingError), (7, PowerSettingError),
    (17, PowerSettingError), (6, PowerAuthError), (16, PowerAuthError),
    (5, PowerActionError), (1, PowerActionError), (13, PowerActionError),
])
def test_snmp_status_classes(status: int, error: type[Exception]) -> None:
    found = snmp.status_error(status, "1.2.3", parse_address("127.0.0.7"))
    assert type(found) is error
    assert snmp.STATUS_NAMES[status] in str(found) and "127.0.0.7:161" in str(found)



def test_snmp_outside_the_asyncio_reactor_says_why() -> None:
    """With no running asyncio loop (another reactor), SNMP fails at once with a clear error."""
    import subprocess
    import sys

    code = (
        "from power import snmp\n"
        "from power.address import parse_address\n"
        "from power.errors import PowerToolError\n"
        "try:\n"
        "    snmp.bridge(snmp._request('get', parse_address('127.0.0.1'), 'public', '1.3', None,"
        " version=1, timeout=1, retries=0))\n"
        "except PowerToolError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert "asyncio reactor" in out
