"""dli: the state comment, settings, and the deadline against a silent switch."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock

from power.dli import DLIPowerDriver, outlet_is_on
from power.errors import PowerActionError, PowerConnError, PowerSettingError
from tests.unit.power.test_ipmi import run

PAGE = "<html>\n<!-- state=81 lock=00 -->\n<table>...</table></html>"


@pytest.mark.parametrize(("outlet", "on"), [(1, True), (2, False), (7, False), (8, True)])
def test_state_bits(outlet: int, on: bool) -> None:
    assert outlet_is_on(PAGE, outlet) is on


def test_state_without_lock_and_upper_case() -> None:
    assert outlet_is_on("<!--state=0A-->", 2) and outlet_is_on("<!--state=0A-->", 4)
    assert not outlet_is_on("<!--state=0A-->", 1)


def test_page_without_state() -> None:
    with pytest.raises(PowerActionError):
        outlet_is_on("<html>login</html>", 1)


@pytest.mark.parametrize("outlet", ["0", "17", "one", ""])
def test_bad_outlet(outlet: str) -> None:
    with pytest.raises(PowerSettingError):
        run(DLIPowerDriver(MemoryReactorClock()).on(
            {"power_address": "127.0.0.3", "system_id": outlet}))


def test_deadline_on_a_silent_switch() -> None:
    reactor = MemoryReactorClock()
    driver = DLIPowerDriver(reactor, timeout=45, request_timeout=100, connect_timeout=60)
    results: list[Any] = []
    Deferred.fromCoroutine(driver.query({"power_address": "127.0.0.3:8080", "system_id": "2",
                                         "power_pass": "pw"})).addBoth(results.append)
    assert reactor.tcpClients[0][1] == 8080
    reactor.advance(44)
    assert results == []
    reactor.advance(2)
    # Ended at the driver's 45 s, not the request's 100 s (power.http words the
    # message after its own timeout: a cancelled connect reads as "did not answer").
    assert isinstance(results[0].value, PowerConnError)


def test_request_timeout_on_a_silent_switch() -> None:
    reactor = MemoryReactorClock()
    driver = DLIPowerDriver(reactor, timeout=100, request_timeout=30)
    results: list[Any] = []
    Deferred.fromCoroutine(driver.on({"power_address": "127.0.0.3", "system_id": "2"})
                           ).addBoth(results.append)
    reactor.advance(31)
    assert isinstance(results[0].value, PowerConnError)
    assert "did not answer within 30" in str(results[0].value)
