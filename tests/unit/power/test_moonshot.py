"""moonshot: the bridging-option parser, the ipmitool command line and the password file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock

from power.errors import PowerActionError, PowerAuthError, PowerSettingError
from power.moonshot import MoonshotPowerDriver, parse_hwaddress
from power.process import ProcessResult
from tests.unit.power.test_ipmi import run

PASSWORD = "mo'on \"shot"
PARAMS = {"power_address": "10.0.0.9:6230", "power_user": "Administrator",
          "power_pass": PASSWORD, "power_hwaddress": "-B 0 -T 0x82 -b 7 -t 0x72"}


class Runner:
    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.commands: list[dict[str, Any]] = []
        self.answers = answers or {}

    async def __call__(self, reactor: Any, argv: list[str], **kwargs: Any) -> ProcessResult:
        secret = Path(argv[argv.index("-f") + 1]) if "-f" in argv else None
        self.commands.append({"argv": list(argv), "env": kwargs["env"],
                              "file": (secret.read_text(), stat.S_IMODE(secret.stat().st_mode))
                              if secret else None})
        key = " ".join(argv[-2:])
        code, out = self.answers.get(key, (0, {
            "bootdev pxe": "Set Boot Device to pxe\n", "power status": "Chassis Power is on\n",
        }.get(key, "Chassis Power Control: Up/On\n")))
        return ProcessResult(code, None, out.encode(), b"")


def driver(runner: Runner, tmp_path: Path) -> MoonshotPowerDriver:
    return MoonshotPowerDriver(None, clock=Clock(), ipmitool="/fake/ipmitool", runner=runner,
                               tempdir=str(tmp_path))


@pytest.mark.parametrize(("text", "argv"), [
    ("-B 0 -T 0x82 -b 7 -t 0x72", ["-B", "0", "-T", "0x82", "-b", "7", "-t", "0x72"]),
    ("-t0x72 -b7", ["-t", "0x72", "-b", "7"]),
    ("  -t 114 ", ["-t", "114"]),
    ("", []),
])
def test_hwaddress_accepted(text: str, argv: list[str]) -> None:
    assert parse_hwaddress(text) == argv


@pytest.mark.parametrize("text", [
    "-t 0x72 -P secret", "-t", "-t 0x72 -t 0x74", "-t 0x1ff", "-t 256", "-t abc", "-o x",
    "0x72", "-t -P", "-t;reboot",
])
def test_hwaddress_refused(text: str) -> None:
    with pytest.raises(PowerSettingError):
        parse_hwaddress(text)


def test_on_argv_and_password_file(tmp_path: Path) -> None:
    runner = Runner()
    run(driver(runner, tmp_path).on(PARAMS))
    bootdev, power = (c["argv"] for c in runner.commands)
    assert bootdev[:7] == ["/fake/ipmitool", "-I", "lanplus", "-C", "3", "-H", "10.0.0.9"]
    assert bootdev[bootdev.index("-p") + 1] == "6230"
    assert bootdev[bootdev.index("-U") + 1] == "Administrator"
    assert bootdev[-12:-3] == ["-v", "-B", "0", "-T", "0x82", "-b", "7", "-t", "0x72"]
    assert bootdev[-3:] == ["chassis", "bootdev", "pxe"] and power[-2:] == ["power", "on"]
    for command in runner.commands:
        assert command["file"] == (PASSWORD + "\n", 0o600)
        assert not any(PASSWORD in arg for arg in command["argv"])
        assert not any(PASSWORD in value for value in command["env"].values())
    assert list(tmp_path.iterdir()) == []  # private directories removed


def test_refused_bootdev_is_an_error(tmp_path: Path) -> None:
    runner = Runner({"bootdev pxe": (0, "Set Chassis Boot Parameter 5 failed: Unknown\n")})
    with pytest.raises(PowerActionError):
        run(driver(runner, tmp_path).on(PARAMS))
    assert len(runner.commands) == 1  # no power on after a failed PXE setting


def test_auth_error_mapping(tmp_path: Path) -> None:
    runner = Runner({"power off": (1, "RAKP 2 HMAC is invalid\n")})
    with pytest.raises(PowerAuthError):
        run(driver(runner, tmp_path).off(PARAMS))


def test_not_queryable_but_power_query_works(tmp_path: Path) -> None:
    assert MoonshotPowerDriver.queryable is False  # 1.8: not in QUERY_POWER_TYPES
    assert run(driver(Runner(), tmp_path).power_query(PARAMS)) == "on"
