"""The fence_cdu driver running fence-agents' real fence_cdu against a fake Sentry CDU on telnet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted

from power.errors import PowerAuthError, PowerConnError, PowerSettingError
from power.fence_cdu import FenceCDUPowerDriver
from power.process import ProcessResult, find_program, run_process
from tests.fakes.sentry_cdu import SentryCDU
from tests.integration.power.test_ipmi import RecordingRunner

USER = "admn"
PASSWORD = "pa ss\"wo'rd "  # quotes and a trailing space must survive the stdin format


@pytest.fixture(scope="module", params=[6, 8], ids=["firmware6", "firmware8"])
def device(request: pytest.FixtureRequest, reactor: Any) -> Iterator[SentryCDU]:
    missing = [name for name in ("fence_cdu", "telnet") if find_program(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (fence-agents, telnet: "
                    "tools/system-deps.sh test)")
    cdu = SentryCDU(USER, PASSWORD, {"node1": "Off", "node2": "On", "rack-3": "Off"},
                    version=request.param)
    port = reactor.listenTCP(0, cdu, interface="127.0.0.1")
    cdu.address = f"127.0.0.1:{port.getHost().port}"  # type: ignore[attr-defined]
    yield cdu
    port.stopListening()


@pytest.fixture
def cdu(device: SentryCDU) -> SentryCDU:
    device.reset()
    for outlet in device.outlets.values():
        outlet[1] = "On" if outlet[0] == "node2" else "Off"
    return device


def params(cdu: SentryCDU, outlet: str, **overrides: str) -> dict[str, str]:
    values = {"power_address": cdu.address, "power_id": outlet,  # type: ignore[attr-defined]
              "power_user": USER, "power_pass": PASSWORD}
    values.update(overrides)
    return values


def switched(cdu: SentryCDU) -> list[str]:
    return [c for c in cdu.commands if c.split()[0].lower() in ("on", "off")]


@pytest_twisted.ensureDeferred
async def test_query(reactor: Any, cdu: SentryCDU) -> None:
    driver = FenceCDUPowerDriver(reactor)
    assert await driver.power_query(params(cdu, "node1")) == "off"
    assert await driver.power_query(params(cdu, "node2")) == "on"
    assert cdu.logins and all(ok for _, ok in cdu.logins)
    assert switched(cdu) == []


@pytest_twisted.ensureDeferred
async def test_on_switches_only_when_off(reactor: Any, cdu: SentryCDU) -> None:
    driver = FenceCDUPowerDriver(reactor)
    await driver.on(params(cdu, "node1"), system_id="node-cdu")
    assert cdu.state("node1") == "on"
    prefix = ".A" if cdu.version == 6 else "AA"
    assert switched(cdu) == [f"on {prefix}1"]
    cdu.reset()
    await driver.on(params(cdu, "node1"))  # already on: only a status
    assert switched(cdu) == []
    assert cdu.state("rack-3") == "off"


@pytest_twisted.ensureDeferred
async def test_off(reactor: Any, cdu: SentryCDU) -> None:
    driver = FenceCDUPowerDriver(reactor)
    await driver.off(params(cdu, "node2"))
    assert cdu.state("node2") == "off"
    prefix = ".A" if cdu.version == 6 else "AA"
    assert switched(cdu) == [f"off {prefix}2"]


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_fatal(reactor: Any, cdu: SentryCDU) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await FenceCDUPowerDriver(reactor).on(params(cdu, "node1", power_pass="Wrong-Pass-9"))
    assert "Wrong-Pass-9" not in str(caught.value)
    assert cdu.logins and not any(ok for _, ok in cdu.logins)
    assert cdu.state("node1") == "off"


@pytest_twisted.ensureDeferred
async def test_unknown_outlet_is_a_setting_error(reactor: Any, cdu: SentryCDU) -> None:
    with pytest.raises(PowerSettingError, match="no outlet named 'nosuch'"):
        await FenceCDUPowerDriver(reactor).on(params(cdu, "nosuch"))


@pytest_twisted.ensureDeferred
async def test_password_only_on_stdin(reactor: Any, cdu: SentryCDU) -> None:
    commands: list[tuple[list[str], dict[str, str], bytes]] = []

    async def runner(reactor: Any, argv: list[str], **kwargs: Any) -> ProcessResult:
        commands.append((list(argv), dict(kwargs["env"]), kwargs["stdin"]))
        return await run_process(reactor, argv, **kwargs)

    await FenceCDUPowerDriver(reactor, runner=runner).off(params(cdu, "node2"))
    assert len(commands) == 2
    for argv, env, stdin in commands:
        assert len(argv) == 1 and argv[0].endswith("fence_cdu")
        assert not any(PASSWORD in value for value in env.values())
        assert f'password="{PASSWORD}"'.encode() in stdin


@pytest_twisted.ensureDeferred
async def test_nobody_listening_is_retryable(reactor: Any) -> None:
    if find_program("fence_cdu") is None:
        pytest.skip("fence_cdu not installed")
    from tests.integration.power.conftest import free_udp_port

    runner = RecordingRunner()
    with pytest.raises(PowerConnError):
        await FenceCDUPowerDriver(reactor, runner=runner).on(
            {"power_address": f"127.0.0.1:{free_udp_port()}", "power_id": "x",
             "power_user": "u", "power_pass": "p"})
    assert runner.commands == []  # the agent is not even started
