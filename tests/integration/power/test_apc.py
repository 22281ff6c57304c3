"""The apc driver against a real SNMP agent (snmpd + an APC outlet table via pass_persist)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from power.apc import APCPowerDriver
from power.errors import PowerConnError, PowerSettingError
from tests.fakes.snmpd import SNMPAgent, find_snmpd, free_udp_port


@pytest.fixture(scope="module")
def agent(reactor: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SNMPAgent]:
    program = find_snmpd()
    if program is None:
        pytest.skip("snmpd is not installed (Debian package snmpd: tools/system-deps.sh test)")
    snmpd = SNMPAgent(tmp_path_factory.mktemp("snmpd"), program)
    try:
        deadline = time.monotonic() + 10
        while not snmpd.ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"snmpd did not listen:\n{snmpd.log()}")
            pytest_twisted.blockon(deferLater(reactor, 0.05, lambda: None))
        yield snmpd
    finally:
        snmpd.stop()


@pytest.fixture
def pdu(agent: SNMPAgent) -> SNMPAgent:
    agent.reset()
    return agent


def params(pdu: SNMPAgent, outlet: int = 3, **overrides: str) -> dict[str, str]:
    values = {"power_address": pdu.address, "node_outlet": str(outlet), "power_on_delay": "0"}
    values.update(overrides)
    return values


@pytest_twisted.ensureDeferred
async def test_off_sets_2(reactor: Any, pdu: SNMPAgent) -> None:
    pdu.set_outlet(3, 1)
    await APCPowerDriver(reactor).off(params(pdu))
    assert pdu.sets() == [(3, 2)]
    assert pdu.outlet(3) == 2


@pytest_twisted.ensureDeferred
async def test_on_is_off_delay_on(reactor: Any, pdu: SNMPAgent) -> None:
    """As 1.8: SET 2, wait power_on_delay seconds, SET 1."""
    pdu.set_outlet(5, 1)
    started = reactor.seconds()
    await APCPowerDriver(reactor).on(params(pdu, outlet=5, power_on_delay="0.3"))
    assert reactor.seconds() - started >= 0.3
    assert pdu.sets() == [(5, 2), (5, 1)]
    assert pdu.outlet(5) == 1
    assert pdu.outlet(3) == 2  # the other outlets are left alone


@pytest_twisted.ensureDeferred
async def test_query_reads_the_outlet(reactor: Any, pdu: SNMPAgent) -> None:
    """power_query GETs with the read-only community (the type is not polled, as in 1.8)."""
    driver = APCPowerDriver(reactor)
    assert await driver.power_query(params(pdu)) == "off"
    pdu.set_outlet(3, 1)
    assert await driver.power_query(params(pdu)) == "on"
    assert pdu.sets() == []


@pytest_twisted.ensureDeferred
async def test_on_then_query_round_trip(reactor: Any, pdu: SNMPAgent) -> None:
    driver = APCPowerDriver(reactor)
    await driver.on(params(pdu, outlet=8))
    assert await driver.power_query(params(pdu, outlet=8)) == "on"
    await driver.off(params(pdu, outlet=8))
    assert await driver.power_query(params(pdu, outlet=8)) == "off"


@pytest_twisted.ensureDeferred
async def test_set_through_the_read_only_community_is_fatal(
    reactor: Any, pdu: SNMPAgent
) -> None:
    """snmpd answers a v1 SET via 'public' with noSuchName: a setting error, not a retry."""
    driver = APCPowerDriver(reactor, set_community="public")
    with pytest.raises(PowerSettingError, match="noSuchName"):
        await driver.off(params(pdu))
    assert pdu.sets() == []


@pytest_twisted.ensureDeferred
async def test_outlet_the_pdu_does_not_have(reactor: Any, pdu: SNMPAgent) -> None:
    with pytest.raises(PowerSettingError):
        await APCPowerDriver(reactor).off(params(pdu, outlet=12))


@pytest_twisted.ensureDeferred
async def test_unknown_community_times_out_as_a_connection_error(
    reactor: Any, pdu: SNMPAgent
) -> None:
    """An SNMPv1 agent ignores an unknown community: 3 tries of 0.2 s, then PowerConnError."""
    driver = APCPowerDriver(reactor, set_community="nope", snmp_timeout=0.2)
    started = reactor.seconds()
    with pytest.raises(PowerConnError, match="No SNMP response"):
        await driver.off(params(pdu))
    assert 0.5 <= reactor.seconds() - started < 5


@pytest_twisted.ensureDeferred
async def test_nobody_listening(reactor: Any) -> None:
    driver = APCPowerDriver(reactor, snmp_timeout=0.1, snmp_retries=1)
    with pytest.raises(PowerConnError):
        await driver.off({"power_address": f"127.0.0.1:{free_udp_port()}", "node_outlet": "1"})


@pytest_twisted.ensureDeferred
async def test_driver_deadline_cancels_the_snmp_request(reactor: Any) -> None:
    """The overall deadline ends a call whose SNMP retries would take longer."""
    driver = APCPowerDriver(reactor, timeout=0.5, snmp_timeout=2)
    started = reactor.seconds()
    with pytest.raises(PowerConnError, match=r"Timed out after 0\.5"):
        await driver.off({"power_address": f"127.0.0.1:{free_udp_port()}", "node_outlet": "1"})
    assert reactor.seconds() - started < 2
