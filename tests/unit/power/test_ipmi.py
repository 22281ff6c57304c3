"""The ipmi driver's command lines, credential files and error mapping, with a fake runner."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher

from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
    PowerToolError,
)
from power.ipmi import IPMIPowerDriver
from power.ipmi_tools import FreeIPMI
from power.process import ProcessResult

PASSWORD = 'p#ss "w\\rd'
PARAMS = {"power_address": "10.1.2.3:16230", "power_user": "maas", "power_pass": PASSWORD}
PROGRAMS = {"ipmipower": "/fake/ipmipower", "ipmi-chassis-config": "/fake/ipmi-chassis-config",
            "ipmitool": "/fake/ipmitool"}


class FakeRunner:
    """Records each command (and the files it names, as they were) and answers it."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self.answer: Callable[[list[str]], tuple[int, str]] = self.default_answer
        self.power = "off"

    def default_answer(self, argv: list[str]) -> tuple[int, str]:
        if "--stat" in argv:
            return 0, f"10.1.2.3: {self.power}\n"
        if argv[-2:] == ["power", "status"]:
            return 0, f"Chassis Power is {self.power}\n"
        return 0, "10.1.2.3: ok\n"

    @staticmethod
    def snapshot(argv: list[str]) -> dict[str, tuple[str, int, int]]:
        """The files argv names: (text, mode, mode of the directory), as they are now."""
        files = {}
        for option in ("--config-file", "--filename", "-f"):
            if option in argv:
                path = Path(argv[argv.index(option) + 1])
                files[option] = (path.read_text(), stat.S_IMODE(path.stat().st_mode),
                                 stat.S_IMODE(path.parent.stat().st_mode))
        return files

    async def __call__(self, reactor: Any, argv: Sequence[str], *, env: dict[str, str],
                       **kwargs: Any) -> ProcessResult:
        argv = list(argv)
        self.commands.append({"argv": argv, "env": env, "files": self.snapshot(argv),
                              "timeout": kwargs["timeout"]})
        code, output = self.answer(argv)
        return ProcessResult(code, None, output.encode(), b"")

    @property
    def argvs(self) -> list[list[str]]:
        return [command["argv"] for command in self.commands]


def run(coroutine: Any) -> Any:
    """Run a coroutine that never waits on the reactor (the fake runner answers at once)."""
    d = Deferred.fromCoroutine(coroutine)
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "the call did not finish synchronously"
    if isinstance(results[0], Exception) or hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


def make_driver(runner: FakeRunner, tmp_path: Path, tool: str = "freeipmi") -> IPMIPowerDriver:
    return IPMIPowerDriver(None, clock=Clock(), tool=tool, programs=PROGRAMS, runner=runner,
                           tempdir=str(tmp_path))


def assert_no_password_in_argv_or_env(runner: FakeRunner) -> None:
    for command in runner.commands:
        assert all(PASSWORD not in arg for arg in command["argv"])
        assert all(PASSWORD not in value for value in command["env"].values())


class TestFreeIPMI:
    def test_on_sets_pxe_once_then_cycles_or_powers_on(self, runner: FakeRunner,
                                                       tmp_path: Path) -> None:
        """on = ipmi-chassis-config (PXE, next boot only), then ipmipower --cycle --on-if-off."""
        run(make_driver(runner, tmp_path).on(PARAMS))
        chassis, power = runner.argvs
        assert chassis[0] == "/fake/ipmi-chassis-config"
        assert chassis[-3:-1] == ["--commit", "--filename"]
        boot_file = runner.commands[0]["files"]["--filename"][0]
        assert "Boot_Flags_Persistent\tNo" in boot_file and "Boot_Device\tPXE" in boot_file
        assert power[0] == "/fake/ipmipower"
        assert power[-2:] == ["--cycle", "--on-if-off"]
        for argv in (chassis, power):
            assert argv[argv.index("-h") + 1] == "10.1.2.3:16230"
            assert argv[argv.index("-D") + 1] == "LAN_2_0"
            assert argv[argv.index("-W") + 1] == "opensesspriv"

    def test_password_only_in_private_config_file(self, runner: FakeRunner,
                                                  tmp_path: Path) -> None:
        """The password is in a 0600 config file in a 0700 directory, never in argv or env."""
        run(make_driver(runner, tmp_path).query(PARAMS))
        assert_no_password_in_argv_or_env(runner)
        text, mode, dir_mode = runner.commands[0]["files"]["--config-file"]
        assert (mode, dir_mode) == (0o600, 0o700)
        assert text == 'username "maas"\npassword "p\\#ss \\"w\\\\rd"\n'

    def test_private_directory_removed(self, runner: FakeRunner, tmp_path: Path) -> None:
        """The credentials directory is gone after the call, even after a failure."""
        run(make_driver(runner, tmp_path).off(PARAMS))
        runner.answer = lambda argv: (1, "10.1.2.3: password invalid\n")
        with pytest.raises(PowerAuthError):
            run(make_driver(runner, tmp_path).off(PARAMS))
        assert os.listdir(tmp_path) == []

    def test_off_and_soft_off(self, runner: FakeRunner, tmp_path: Path) -> None:
        """off sets PXE-once (as 1.8 did), then --off, or --soft for power_off_mode=soft."""
        driver = make_driver(runner, tmp_path)
        run(driver.off(PARAMS))
        run(driver.off({**PARAMS, "power_off_mode": "soft"}))
        assert [argv[0] for argv in runner.argvs] == [
            "/fake/ipmi-chassis-config", "/fake/ipmipower"] * 2
        assert [argv[-1] for argv in runner.argvs[1::2]] == ["--off", "--soft"]

    def test_off_despite_boot_flags_refused(self, runner: FakeRunner, tmp_path: Path) -> None:
        """A BMC that refuses the boot flags is still powered off."""
        runner.answer = lambda argv: (
            (1, "ipmi-config: Boot_Device: not supported\n") if "--commit" in argv
            else (0, "10.1.2.3: ok\n"))
        run(make_driver(runner, tmp_path).off(PARAMS))
        assert runner.argvs[-1][-1] == "--off"

    def test_query(self, runner: FakeRunner, tmp_path: Path) -> None:
        """query is --stat, answered by the state after the host name."""
        driver = make_driver(runner, tmp_path)
        assert run(driver.query(PARAMS)) == "off"
        runner.power = "on"
        assert run(driver.query(PARAMS)) == "on"
        assert runner.argvs[0][-1] == "--stat"

    def test_lan_driver_and_ipv6(self, runner: FakeRunner, tmp_path: Path) -> None:
        """power_driver LAN selects IPMI 1.5; an IPv6 address keeps its brackets."""
        run(make_driver(runner, tmp_path).query(
            {**PARAMS, "power_driver": "LAN", "power_address": "[fd00::5]:623"}))
        argv = runner.argvs[0]
        assert argv[argv.index("-D") + 1] == "LAN"
        assert argv[argv.index("-h") + 1] == "[fd00::5]:623"

    def test_ip_address_fallback(self, runner: FakeRunner, tmp_path: Path) -> None:
        """Without power_address, the ARP-resolved ip_address is used (as 1.8 did)."""
        run(make_driver(runner, tmp_path).query(
            {**PARAMS, "power_address": "", "ip_address": "10.9.9.9"}))
        argv = runner.argvs[0]
        assert argv[argv.index("-h") + 1] == "10.9.9.9"

    def test_anonymous_user_and_empty_password(self, runner: FakeRunner,
                                               tmp_path: Path) -> None:
        """No user and no password: the config file names neither."""
        run(make_driver(runner, tmp_path).query({"power_address": "10.1.2.3"}))
        assert runner.commands[0]["files"]["--config-file"][0] == ""

    @pytest.mark.parametrize(("output", "error"), [
        ("10.1.2.3: password invalid", PowerAuthError),
        ("10.1.2.3: username invalid", PowerAuthError),
        ("10.1.2.3: password verification timeout", PowerAuthError),
        ("10.1.2.3: privilege level cannot be obtained for this user", PowerAuthError),
        ("10.1.2.3: connection timeout", PowerConnError),
        ("10.1.2.3: BMC busy", PowerConnError),
        ("bmc.invalid: invalid hostname", PowerConnError),
        ("10.1.2.3: ipmi 2.0 unavailable", PowerSettingError),
        ("10.1.2.3: something odd", PowerActionError),
    ])
    def test_errors_classified(self, runner: FakeRunner, tmp_path: Path, output: str,
                               error: type[PowerError]) -> None:
        """ipmipower's complaints map to auth, connection, setting or action errors."""
        runner.answer = lambda argv: (1, output + "\n")
        with pytest.raises(error) as caught:
            run(make_driver(runner, tmp_path).query(PARAMS))
        assert output in str(caught.value)

    def test_chassis_config_failure_stops_power_on(self, runner: FakeRunner,
                                                   tmp_path: Path) -> None:
        """If the boot device cannot be set, power on is not attempted."""
        runner.answer = lambda argv: (1, "/usr/sbin/ipmi-config: password invalid\n")
        with pytest.raises(PowerAuthError):
            run(make_driver(runner, tmp_path).on(PARAMS))
        assert len(runner.commands) == 1

    def test_echoed_password_is_scrubbed(self, runner: FakeRunner, tmp_path: Path) -> None:
        """A tool that echoes the password does not leak it into the error."""
        runner.answer = lambda argv: (1, f"10.1.2.3: bad thing {PASSWORD}\n")
        with pytest.raises(PowerActionError) as caught:
            run(make_driver(runner, tmp_path).off(PARAMS))
        assert PASSWORD not in str(caught.value)

    def test_no_password_in_log_events(self, runner: FakeRunner, tmp_path: Path) -> None:
        """The driver's log events for good and failed calls never render the password."""
        observer = EventLoggingObserver()
        globalLogPublisher.addObserver(observer)
        try:
            run(make_driver(runner, tmp_path).on(PARAMS))
            runner.answer = lambda argv: (1, f"10.1.2.3: password invalid ({PASSWORD})\n")
            with pytest.raises(PowerAuthError) as caught:
                run(make_driver(runner, tmp_path).off(PARAMS))
        finally:
            globalLogPublisher.removeObserver(observer)
        assert PASSWORD not in str(caught.value)
        assert len(observer) >= 4
        for event in observer:
            assert PASSWORD not in formatEvent(event)
            assert PASSWORD not in repr(event)

    def test_quote(self) -> None:
        """Config-file quoting escapes backslash, double quote and the comment sign."""
        assert FreeIPMI.quote('a b"c#d\\e') == '"a b\\"c\\#d\\\\e"'


class TestIPMITool:
    def test_on_sets_bootdev_then_powers_on(self, runner: FakeRunner, tmp_path: Path) -> None:
        """ipmitool: bootdev pxe, status, then power on (off node) or cycle (on node)."""
        driver = make_driver(runner, tmp_path, tool="ipmitool")
        run(driver.on(PARAMS))
        assert [argv[-3:] for argv in runner.argvs] == [
            ["chassis", "bootdev", "pxe"], ["chassis", "power", "status"],
            ["chassis", "power", "on"]]
        runner.commands.clear()
        runner.power = "on"
        run(driver.on(PARAMS))
        assert runner.argvs[-1][-1] == "cycle"

    def test_options_and_password_file(self, runner: FakeRunner, tmp_path: Path) -> None:
        """lanplus with cipher suite 3, host and port apart, password through -f only."""
        run(make_driver(runner, tmp_path, tool="ipmitool").query(PARAMS))
        argv = runner.argvs[0]
        assert argv[:5] == ["/fake/ipmitool", "-I", "lanplus", "-C", "3"]
        assert argv[argv.index("-H") + 1] == "10.1.2.3"
        assert argv[argv.index("-p") + 1] == "16230"
        assert argv[argv.index("-U") + 1] == "maas"
        assert "-P" not in argv
        assert runner.commands[0]["files"]["-f"][:2] == (PASSWORD + "\n", 0o600)
        assert_no_password_in_argv_or_env(runner)

    def test_lan_and_empty_password(self, runner: FakeRunner, tmp_path: Path) -> None:
        """IPMI 1.5 is -I lan; an empty password is given as -P '' (no prompt)."""
        run(make_driver(runner, tmp_path, tool="ipmitool").query(
            {"power_address": "[::1]", "power_driver": "LAN"}))
        argv = runner.argvs[0]
        assert argv[1:3] == ["-I", "lan"] and "-C" not in argv
        assert argv[argv.index("-H") + 1] == "::1"
        assert argv[argv.index("-P") + 1] == ""

    def test_soft_off(self, runner: FakeRunner, tmp_path: Path) -> None:
        """Soft off is 'chassis power soft'."""
        run(make_driver(runner, tmp_path, tool="ipmitool").off({**PARAMS,
                                                                "power_off_mode": "soft"}))
        assert [argv[-3:] for argv in runner.argvs] == [
            ["chassis", "bootdev", "pxe"], ["chassis", "power", "soft"]]

    @pytest.mark.parametrize(("output", "error"), [
        ("> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session",
         PowerAuthError),
        ("RAKP 2 message indicates an error : unauthorized name\nError: Unable to establish",
         PowerAuthError),
        ("Get Auth Capabilities error\nError: Unable to establish IPMI v2 / RMCP+ session",
         PowerConnError),
    ])
    def test_errors_classified(self, runner: FakeRunner, tmp_path: Path, output: str,
                               error: type[PowerError]) -> None:
        """ipmitool -v's reasons map to auth or connection errors."""
        runner.answer = lambda argv: (1, "Loading IANA PEN Registry...\n" + output)
        with pytest.raises(error) as caught:
            run(make_driver(runner, tmp_path, tool="ipmitool").query(PARAMS))
        assert "IANA" not in str(caught.value)

    def test_unparseable_status(self, runner: FakeRunner, tmp_path: Path) -> None:
        """A status answer without a power state is an action error."""
        runner.answer = lambda argv: (0, "Chassis Power is confused\n")
        with pytest.raises(PowerActionError):
            run(make_driver(runner, tmp_path, tool="ipmitool").query(PARAMS))


class TestSettingsAndTools:
    @pytest.mark.parametrize(("params", "message"), [
        ({"power_user": "u"}, "power_address"),
        ({"power_address": "a,b"}, "power_address"),
        ({"power_address": "h", "power_pass": "x" * 21}, "20 bytes"),
        ({"power_address": "h", "power_pass": "x" * 17, "power_driver": "LAN"}, "16 bytes"),
        ({"power_address": "h", "power_pass": "a\nb"}, "control character"),
    ])
    def test_bad_settings(self, runner: FakeRunner, tmp_path: Path,
                          params: dict[str, str], message: str) -> None:
        """Missing or unusable settings are PowerSettingError, before any tool runs."""
        with pytest.raises(PowerSettingError, match=message):
            run(make_driver(runner, tmp_path).on(params))
        assert runner.commands == []

    def test_no_tool_installed(self, runner: FakeRunner, tmp_path: Path) -> None:
        """With neither FreeIPMI nor ipmitool, the error is a fatal PowerToolError."""
        driver = IPMIPowerDriver(None, clock=Clock(), runner=runner, search_path=str(tmp_path))
        with pytest.raises(PowerToolError, match="No IPMI tool"):
            run(driver.query(PARAMS))

    def test_auto_falls_back_to_ipmitool(self, runner: FakeRunner, tmp_path: Path) -> None:
        """auto uses ipmitool when FreeIPMI is missing."""
        tool = tmp_path / "ipmitool"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
        driver = IPMIPowerDriver(None, clock=Clock(), runner=runner, search_path=str(tmp_path),
                                 tempdir=str(tmp_path))
        run(driver.query(PARAMS))
        assert runner.argvs[0][0] == str(tool)

    def test_forced_freeipmi_missing(self, runner: FakeRunner, tmp_path: Path) -> None:
        """Asking for FreeIPMI when it is not installed names the package."""
        driver = IPMIPowerDriver(None, clock=Clock(), tool="freeipmi", runner=runner,
                                 search_path=str(tmp_path))
        with pytest.raises(PowerToolError, match="freeipmi-tools"):
            run(driver.query(PARAMS))

    def test_bad_tool_name(self) -> None:
        """An unknown tool choice is a programming error."""
        with pytest.raises(ValueError):
            IPMIPowerDriver(None, tool="pyghmi")
