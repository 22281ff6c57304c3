"""The ipmi driver against a real IPMI BMC (OpenIPMI's ipmi_sim), with each tool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from power.errors import PowerAuthError, PowerConnError
from power.ipmi import IPMIPowerDriver
from power.process import ProcessResult, find_program, run_process
from tests.integration.power.conftest import SimulatedBMC, free_udp_port

TOOLS = {"freeipmi": ("ipmipower", "ipmi-chassis-config"), "ipmitool": ("ipmitool",)}


@pytest.fixture(params=sorted(TOOLS))
def tool(request: pytest.FixtureRequest) -> str:
    missing = [name for name in TOOLS[request.param] if find_program(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (tools/system-deps.sh test)")
    return str(request.param)


class RecordingRunner:
    """The real run_process, remembering every argv and environment it was given."""

    def __init__(self) -> None:
        self.commands: list[tuple[list[str], dict[str, str]]] = []

    async def __call__(self, reactor: Any, argv: Sequence[str], **kwargs: Any) -> ProcessResult:
        self.commands.append((list(argv), dict(kwargs.get("env") or {})))
        return await run_process(reactor, argv, **kwargs)


def driver_for(reactor: Any, tool: str, **kwargs: Any) -> IPMIPowerDriver:
    return IPMIPowerDriver(reactor, tool=tool, **kwargs)


async def wait_for_power(reactor: Any, driver: IPMIPowerDriver, bmc: SimulatedBMC,
                         state: str) -> str:
    """Query until the BMC reports state (ipmi_sim powers back on ~1 s after a cycle)."""
    answer = ""
    for _ in range(50):
        answer = await driver.query(bmc.params())
        if answer == state:
            break
        await deferLater(reactor, 0.2, lambda: None)
    return answer


@pytest_twisted.ensureDeferred
async def test_query_follows_the_bmc(reactor: Any, bmc: SimulatedBMC, tool: str) -> None:
    """query reports the simulator's power state."""
    driver = driver_for(reactor, tool)
    assert await driver.query(bmc.params()) == "off"
    bmc.power = 1
    assert await driver.query(bmc.params()) == "on"


@pytest_twisted.ensureDeferred
async def test_on_sets_pxe_boot_then_powers_on(
    reactor: Any, bmc: SimulatedBMC, tool: str
) -> None:
    """on sets the one-time PXE boot device first, then powers the node on."""
    driver = driver_for(reactor, tool)
    await driver.on(bmc.params(), system_id="node-ipmi")
    calls = bmc.calls()
    assert "set boot pxe" in calls and "set power 1" in calls
    assert calls.index("set boot pxe") < calls.index("set power 1")
    assert bmc.power == 1
    assert await driver.query(bmc.params()) == "on"


@pytest_twisted.ensureDeferred
async def test_on_when_on_power_cycles(reactor: Any, bmc: SimulatedBMC, tool: str) -> None:
    """on for a node that is already on reboots it (into PXE), as 1.8's --cycle did."""
    bmc.power = 1
    driver = driver_for(reactor, tool)
    await driver.on(bmc.params())
    calls = bmc.calls()
    assert calls.index("set boot pxe") < calls.index("set power 0")
    assert await wait_for_power(reactor, driver, bmc, "on") == "on"


@pytest_twisted.ensureDeferred
async def test_off(reactor: Any, bmc: SimulatedBMC, tool: str) -> None:
    """off sets the next boot to PXE (as 1.8 did), then powers the node off (hard)."""
    bmc.power = 1
    driver = driver_for(reactor, tool)
    await driver.off(bmc.params())
    calls = bmc.calls()
    assert calls.index("set boot pxe") < calls.index("set power 0")
    assert await driver.query(bmc.params()) == "off"


@pytest_twisted.ensureDeferred
async def test_soft_off(reactor: Any, bmc: SimulatedBMC, tool: str) -> None:
    """power_off_mode=soft asks for an ACPI shutdown instead of cutting power."""
    bmc.power = 1
    driver = driver_for(reactor, tool)
    await driver.off(bmc.params(power_off_mode="soft"))
    assert "set shutdown 1" in bmc.calls()
    assert "set power 0" not in bmc.calls()
    assert await driver.query(bmc.params()) == "off"


@pytest_twisted.ensureDeferred
async def test_ipmi_15(reactor: Any, bmc: SimulatedBMC, tool: str) -> None:
    """power_driver LAN (IPMI 1.5) works too."""
    bmc.power = 1
    assert await driver_for(reactor, tool).query(bmc.params(power_driver="LAN")) == "on"


@pytest_twisted.ensureDeferred
async def test_wrong_password_is_an_auth_error(
    reactor: Any, bmc: SimulatedBMC, tool: str
) -> None:
    """A wrong password is a fatal PowerAuthError whose message does not hold it."""
    wrong = "Wrong-S3cret-99"
    with pytest.raises(PowerAuthError) as caught:
        await driver_for(reactor, tool).query(bmc.params(power_pass=wrong))
    assert wrong not in str(caught.value)
    assert bmc.power == 0


@pytest_twisted.ensureDeferred
async def test_unknown_user_is_an_auth_error(reactor: Any, bmc: SimulatedBMC, tool: str) -> None:
    """A user the BMC does not know is a PowerAuthError too."""
    with pytest.raises(PowerAuthError):
        await driver_for(reactor, tool).off(bmc.params(power_user="nobody"))


@pytest_twisted.ensureDeferred
async def test_password_never_in_argv_or_environment(
    reactor: Any, bmc: SimulatedBMC, tool: str
) -> None:
    """Every command the driver ran kept the password out of argv and the environment."""
    runner = RecordingRunner()
    driver = driver_for(reactor, tool, runner=runner)
    await driver.on(bmc.params())
    await driver.off(bmc.params())
    await driver.query(bmc.params())
    assert len(runner.commands) >= 4
    for argv, env in runner.commands:
        assert not any(bmc.password in arg for arg in argv), argv
        assert not any(bmc.password in value for value in env.values())


@pytest_twisted.ensureDeferred
async def test_unreachable_bmc_is_a_connection_error(reactor: Any, tool: str) -> None:
    """Nobody listening: a retryable PowerConnError within the driver's timeout."""
    driver = driver_for(reactor, tool, timeout=3)
    params = {"power_address": f"127.0.0.1:{free_udp_port()}", "power_user": "u",
              "power_pass": "p"}
    with pytest.raises(PowerConnError):
        await driver.query(params)
