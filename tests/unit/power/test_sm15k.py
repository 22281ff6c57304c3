"""sm15k: the IPMI command line and password file, modes, settings, a silent chassis."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock

from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerSettingError,
    PowerToolError,
)
from power.process import ProcessResult
from power.sm15k import SM15KPowerDriver
from tests.unit.power.test_ipmi import run

PASSWORD = "sea'micro \"pw"
PARAMS = {"power_address": "127.0.0.11:6230", "power_user": "admin", "power_pass": PASSWORD,
          "system_id": "12"}


class Runner:
    def __init__(self, code: int = 0, output: str = "") -> None:
        self.code, self.output = code, output
        self.commands: list[dict[str, Any]] = []

    async def __call__(self, reactor: Any, argv: list[str], **kwargs: Any) -> ProcessResult:
        secret = Path(argv[argv.index("-f") + 1]) if "-f" in argv else None
        self.commands.append({"argv": list(argv), "env": kwargs["env"],
                              "file": (secret.read_text(), stat.S_IMODE(secret.stat().st_mode))
                              if secret else None, "path": secret})
        return ProcessResult(self.code, None, self.output.encode(), b"")


def driver(runner: Runner, tmp_path: Path, **kwargs: Any) -> SM15KPowerDriver:
    return SM15KPowerDriver(None, clock=Clock(), ipmitool="/fake/ipmitool", runner=runner,
                            tempdir=str(tmp_path), **kwargs)


@pytest.mark.parametrize(("action", "mode"), [("on", "1"), ("off", "6")])
def test_ipmi_argv(tmp_path: Path, action: str, mode: str) -> None:
    runner = Runner()
    run(getattr(driver(runner, tmp_path), action)(PARAMS))
    command = runner.commands[0]
    argv = command["argv"]
    assert argv[:7] == ["/fake/ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.11"]
    assert argv[7:11] == ["-p", "6230", "-U", "admin"]
    assert argv[11] == "-f"
    assert argv[13:] == ["-v", "raw", "0x2E", "1", "0x00", "0x7d", "0xab", mode, "0", "12"]
    assert command["file"] == (PASSWORD + "\n", 0o600)
    assert not command["path"].exists()  # removed afterwards
    assert all(PASSWORD not in arg for arg in argv)
    assert all(PASSWORD not in value for value in command["env"].values())


def test_ipmi_is_the_default_mode_and_query_is_unknown(tmp_path: Path) -> None:
    runner = Runner()
    assert run(driver(runner, tmp_path).query(PARAMS)) == "unknown"
    assert run(driver(runner, tmp_path).query({**PARAMS, "power_control": "restapi"})) \
        == "unknown"
    assert runner.commands == []


def test_ipmi_failures_are_classified(tmp_path: Path) -> None:
    with pytest.raises(PowerAuthError):
        run(driver(Runner(1, "Error: Unable to establish IPMI v2 / RMCP+ session\n"
                             "RAKP 2 HMAC is invalid"), tmp_path).on(PARAMS))
    with pytest.raises(PowerActionError, match="Invalid command"):
        run(driver(Runner(1, "Unable to send RAW command (rsp=0xc1): Invalid command"),
                   tmp_path).on(PARAMS))


def test_no_ipmitool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("power.sm15k.find_program", lambda name: None)
    sm = SM15KPowerDriver(None, clock=Clock(), runner=Runner(), tempdir=str(tmp_path))
    with pytest.raises(PowerToolError):
        run(sm.on(PARAMS))


@pytest.mark.parametrize("changes", [
    {"system_id": ""}, {"system_id": "1/0"}, {"system_id": "256"}, {"system_id": "-1"},
    {"power_pass": "a\nb"}, {"power_control": "telnet"}, {"power_address": "a b"},
])
def test_bad_settings(tmp_path: Path, changes: dict[str, str]) -> None:
    runner = Runner()
    with pytest.raises(PowerSettingError):
        run(driver(runner, tmp_path).on({**PARAMS, **changes}))
    assert runner.commands == []


def test_rest_deadline_on_a_silent_chassis() -> None:
    reactor = MemoryReactorClock()
    sm = SM15KPowerDriver(reactor, timeout=25)
    results: list[Any] = []
    Deferred.fromCoroutine(sm.query({**PARAMS, "power_address": "127.0.0.11",
                                     "power_control": "restapi2"})).addBoth(results.append)
    assert reactor.tcpClients[0][1] == 80
    reactor.advance(26)
    assert isinstance(results[0].value, PowerConnError)
