"""The sm15k driver: REST v0.9 and v2.0 against a fake chassis, IPMI against ipmi_sim."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import pytest_twisted

from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerSettingError,
)
from power.process import ProcessResult, find_program, run_process
from power.sm15k import RAW_POWER, SM15KPowerDriver, list_machines
from tests.fakes.seamicro import FakeCard, FakeSeaMicro
from tests.fakes.webbase import listen
from tests.integration.power.conftest import SimulatedBMC, free_udp_port

USER, PASSWORD = "admin", "sea&micro?=pw"


def fresh_cards() -> dict[str, FakeCard]:
    return {"0": FakeCard(["00:22:99:ec:00:00", "00:22:99:ec:00:01"]),
            "5": FakeCard(["00:22:99:EC:05:00"]),
            "12": FakeCard(["00:22:99:ec:0c:00"])}


@pytest.fixture(scope="module")
def device(reactor: Any) -> Iterator[FakeSeaMicro]:
    chassis = FakeSeaMicro(USER, PASSWORD, fresh_cards())
    port, chassis.address = listen(reactor, chassis)  # type: ignore[attr-defined]
    yield chassis
    port.stopListening()


@pytest.fixture
def chassis(device: FakeSeaMicro) -> FakeSeaMicro:
    device.cards = fresh_cards()
    device.requests.clear()
    device.tokens.clear()
    device.busy = 0
    device.v2 = True
    return device


def params(chassis: FakeSeaMicro, control: str, card: str = "5",
           **overrides: str) -> dict[str, str]:
    values = {"power_address": chassis.address,  # type: ignore[attr-defined]
              "power_user": USER, "power_pass": PASSWORD, "system_id": card,
              "power_control": control}
    values.update(overrides)
    return values


def driver(reactor: Any, **kwargs: Any) -> SM15KPowerDriver:
    return SM15KPowerDriver(reactor, login_wait=0.01, **kwargs)


# -- REST v0.9 ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_v09_on_pxe_boots_the_cards_server(reactor: Any, chassis: FakeSeaMicro) -> None:
    await driver(reactor).on(params(chassis, "restapi", "12"), system_id="node-sm")
    assert chassis.cards["12"].active and chassis.cards["12"].pxe_boots == 1
    method, path, args, _ = chassis.requests[0]
    assert (method, path, args) == ("GET", "/v0.9/login", [USER, PASSWORD])
    assert chassis.paths()[1:] == ["GET /v0.9/servers", "PUT /v0.9/servers/2",
                                   "GET /v0.9/logout"]
    token = chassis.requests[1][2]
    assert chassis.requests[2][2] == ["action=Power-On", "using-pxe=true", *token]


@pytest_twisted.ensureDeferred
async def test_v09_off_is_forced(reactor: Any, chassis: FakeSeaMicro) -> None:
    chassis.cards["0"].active = True
    await driver(reactor).off(params(chassis, "restapi", "0"))
    assert not chassis.cards["0"].active and chassis.cards["0"].forced_offs == 1
    assert chassis.requests[2][1:3][0] == "/v0.9/servers/0"
    assert chassis.requests[2][2][:2] == ["action=Power-Off", "force=true"]


@pytest_twisted.ensureDeferred
async def test_v09_retries_while_another_session_holds_the_login(
    reactor: Any, chassis: FakeSeaMicro
) -> None:
    chassis.busy = 2
    await driver(reactor).on(params(chassis, "restapi"))
    assert chassis.cards["5"].active
    assert chassis.paths().count("GET /v0.9/login") == 3


@pytest_twisted.ensureDeferred
async def test_v09_query_is_unknown(reactor: Any, chassis: FakeSeaMicro) -> None:
    assert await driver(reactor).query(params(chassis, "restapi")) == "unknown"
    assert chassis.requests == []


@pytest_twisted.ensureDeferred
async def test_v09_wrong_password(reactor: Any, chassis: FakeSeaMicro) -> None:
    with pytest.raises(PowerAuthError):
        await driver(reactor).on(params(chassis, "restapi", power_pass="Bad-Secret-5"))
    assert not chassis.cards["5"].active


@pytest_twisted.ensureDeferred
async def test_v09_unknown_card(reactor: Any, chassis: FakeSeaMicro) -> None:
    with pytest.raises(PowerSettingError, match="no server 7/0"):
        await driver(reactor).on(params(chassis, "restapi", "7"))
    assert chassis.paths()[-1] == "GET /v0.9/logout"


# -- REST v2.0 ------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_v2_on_off_query(reactor: Any, chassis: FakeSeaMicro) -> None:
    sm = driver(reactor)
    assert await sm.query(params(chassis, "restapi2")) == "off"
    await sm.on(params(chassis, "restapi2"))
    assert chassis.cards["5"].pxe_boots == 1
    assert await sm.query(params(chassis, "restapi2")) == "on"
    await sm.off(params(chassis, "restapi2"))
    assert chassis.cards["5"].forced_offs == 1
    assert await sm.query(params(chassis, "restapi2")) == "off"
    login = chassis.requests[0]
    assert login[:2] == ("POST", "/v2.0/login")
    assert login[3] == {"username": USER, "password": PASSWORD}
    put = next(r for r in chassis.requests if r[0] == "PUT")
    assert put[1] == "/v2.0/servers/5/0"
    assert put[3]["action"] == "power-on" and put[3]["using-pxe"] is True
    assert put[3]["authtoken"].startswith("OpaqueRef:")
    get = next(r for r in chassis.requests if r[0] == "GET")
    assert get[2]["authtoken"].startswith("OpaqueRef:")


@pytest_twisted.ensureDeferred
async def test_v2_wrong_password(reactor: Any, chassis: FakeSeaMicro) -> None:
    with pytest.raises(PowerAuthError):
        await driver(reactor).query(params(chassis, "restapi2", power_pass="nope"))


@pytest_twisted.ensureDeferred
async def test_v2_unknown_card(reactor: Any, chassis: FakeSeaMicro) -> None:
    with pytest.raises(PowerSettingError):
        await driver(reactor).query(params(chassis, "restapi2", "9"))


# -- probes ----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_list_machines_v2(reactor: Any, chassis: FakeSeaMicro) -> None:
    found = await list_machines(reactor, chassis.address, USER, PASSWORD,  # type: ignore
                                "restapi2")
    assert [(s.system_id, s.macs) for s in found] == [
        ("0", ("00:22:99:ec:00:00", "00:22:99:ec:00:01")),
        ("5", ("00:22:99:ec:05:00",)),
        ("12", ("00:22:99:ec:0c:00",)),
    ]


@pytest_twisted.ensureDeferred
async def test_list_machines_v09_takes_nic_0(reactor: Any, chassis: FakeSeaMicro) -> None:
    found = await list_machines(reactor, chassis.address, USER, PASSWORD,  # type: ignore
                                "restapi")
    assert [(s.system_id, s.macs) for s in found] == [
        ("0", ("00:22:99:ec:00:00",)), ("5", ("00:22:99:ec:05:00",)),
        ("12", ("00:22:99:ec:0c:00",))]


@pytest_twisted.ensureDeferred
async def test_list_machines_ipmi_falls_back_to_v09(reactor: Any, chassis: FakeSeaMicro) -> None:
    chassis.v2 = False
    found = await list_machines(reactor, chassis.address, USER, PASSWORD)  # type: ignore
    assert len(found) == 3
    assert "GET /v0.9/servers/all" in chassis.paths()


@pytest_twisted.ensureDeferred
async def test_rest_nobody_listening(reactor: Any) -> None:
    with pytest.raises(PowerConnError):
        await driver(reactor).on({"power_address": f"127.0.0.1:{free_udp_port()}",
                                  "system_id": "1", "power_control": "restapi2"})


# -- IPMI (ipmitool against ipmi_sim) --------------------------------------------------


class RecordingRunner:
    """The real run_process, remembering every argv and environment."""

    def __init__(self) -> None:
        self.commands: list[tuple[list[str], dict[str, str]]] = []

    async def __call__(self, reactor: Any, argv: Sequence[str], **kwargs: Any) -> ProcessResult:
        self.commands.append((list(argv), dict(kwargs.get("env") or {})))
        return await run_process(reactor, argv, **kwargs)


@pytest.fixture
def ipmitool() -> str:
    program = find_program("ipmitool")
    if program is None:
        pytest.skip("ipmitool is not installed (tools/system-deps.sh test)")
    return program


@pytest_twisted.ensureDeferred
async def test_ipmi_sends_seamicros_raw_command(
    reactor: Any, bmc: SimulatedBMC, ipmitool: str
) -> None:
    """
    The OEM command reaches a real BMC over an authenticated RMCP+ session.

    ipmi_sim does not implement SeaMicro's netfn 0x2E, so it answers
    "Invalid command" (0xC1): the session was fine, the command arrived.
    """
    runner = RecordingRunner()
    values = {"power_address": bmc.address, "power_user": bmc.user,
              "power_pass": bmc.password, "system_id": "7", "power_control": "ipmi"}
    for action, mode in (("on", "1"), ("off", "6")):
        with pytest.raises(PowerActionError, match=r"(?i)invalid command"):
            await getattr(driver(reactor, runner=runner), action)(values)
        argv, env = runner.commands[-1]
        assert argv[-len(RAW_POWER) - 3:] == [*RAW_POWER, mode, "0", "7"]
        assert argv[:5] == [ipmitool, "-I", "lanplus", "-C", "3"]
        assert ["-H", "127.0.0.1", "-p", str(bmc.port), "-U", bmc.user] == argv[5:11]
        assert argv[11] == "-f"
        assert not any(bmc.password in arg for arg in argv)
        assert not any(bmc.password in value for value in env.values())
    assert bmc.calls() == []  # no chassis control happened


@pytest_twisted.ensureDeferred
async def test_ipmi_wrong_password(reactor: Any, bmc: SimulatedBMC, ipmitool: str) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await driver(reactor).on({"power_address": bmc.address, "power_user": bmc.user,
                                  "power_pass": "Wrong-S3cret-1", "system_id": "7"})
    assert "Wrong-S3cret-1" not in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_ipmi_query_is_unknown(reactor: Any, bmc: SimulatedBMC, ipmitool: str) -> None:
    runner = RecordingRunner()
    values = {"power_address": bmc.address, "system_id": "7", "power_control": "ipmi"}
    assert await driver(reactor, runner=runner).query(values) == "unknown"
    assert runner.commands == []
