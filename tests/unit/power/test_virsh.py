"""virsh: URI checks, command lines, state mapping, error classes, the askpass helper."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock

from power.errors import PowerAuthError, PowerConnError, PowerSettingError
from power.process import ProcessResult
from power.virsh import VirshPowerDriver, check_uri, classify, parse_domain_xml
from tests.unit.power.test_ipmi import run


class Runner:
    def __init__(self, state: str = "shut off") -> None:
        self.state = state
        self.commands: list[dict[str, Any]] = []

    async def __call__(self, reactor: Any, argv: list[str], **kwargs: Any) -> ProcessResult:
        env = kwargs["env"]
        helper = env.get("SSH_ASKPASS")
        record: dict[str, Any] = {"argv": list(argv), "env": dict(env)}
        if helper:
            path = Path(helper)
            record["helper_mode"] = stat.S_IMODE(path.stat().st_mode)
            record["dir_mode"] = stat.S_IMODE(path.parent.stat().st_mode)
            record["answers"] = {prompt: subprocess.run(
                [helper, prompt], capture_output=True, text=True, check=False)
                for prompt in ("root@host's password: ",
                               "Are you sure you want to continue connecting (yes/no/"
                               "[fingerprint])? ", "Something else? ")}
        self.commands.append(record)
        if argv[4] == "domstate":
            return ProcessResult(0, None, f"{self.state}\n\n".encode(), b"")
        return ProcessResult(0, None, b"", b"")


def driver(runner: Runner, tmp_path: Path) -> VirshPowerDriver:
    return VirshPowerDriver(None, clock=Clock(), virsh="/fake/virsh", runner=runner,
                            tempdir=str(tmp_path))


@pytest.mark.parametrize("uri", [
    "qemu+ssh://maas@10.0.0.1/system", "qemu:///system", "test:///default",
    "test+unix:///default?socket=/run/x/libvirt-sock", "qemu+ssh://h/system?no_verify=1",
])
def test_uri_accepted(uri: str) -> None:
    assert check_uri(uri) == uri


@pytest.mark.parametrize("uri", [
    "qemu+ssh://h/system?command=/bin/evil", "qemu+ssh://h/system?netcat=/tmp/x",
    "qemu+ssh://h/system?keyfile=/etc/shadow", "qemu+ssh://u:pw@h/system", "-c",
    "not a uri", "qemu:///system\n", "",
])
def test_uri_refused(uri: str) -> None:
    with pytest.raises(PowerSettingError):
        check_uri(uri)


@pytest.mark.parametrize(("state", "expected"), [
    ("running", "on"), ("in shutdown", "on"), ("shut off", "off"), ("paused", "off"),
    ("crashed", "off"), ("pmsuspended", "off"), ("idle", "off"), ("no state", "off"),
])
def test_query_states(tmp_path: Path, state: str, expected: str) -> None:
    runner = Runner(state)
    params = {"power_address": "qemu:///system", "power_id": "-node"}
    assert run(driver(runner, tmp_path).query(params)) == expected
    assert runner.commands[0]["argv"] == ["/fake/virsh", "--quiet", "-c", "qemu:///system",
                                          "domstate", "--", "-node"]


@pytest.mark.parametrize(("state", "command"), [
    ("shut off", "start"), ("crashed", "start"), ("paused", "resume"),
    ("pmsuspended", "dompmwakeup"), ("running", None),
])
def test_on(tmp_path: Path, state: str, command: str | None) -> None:
    runner = Runner(state)
    run(driver(runner, tmp_path).on({"power_address": "qemu:///system", "power_id": "n1"}))
    actions = [c["argv"][4] for c in runner.commands[1:]]
    assert actions == ([command] if command else [])


@pytest.mark.parametrize(("state", "destroyed"), [("running", True), ("paused", True),
                                                   ("shut off", False)])
def test_off(tmp_path: Path, state: str, destroyed: bool) -> None:
    runner = Runner(state)
    run(driver(runner, tmp_path).off({"power_id": "n1"}))
    assert runner.commands[0]["argv"][3] == "qemu://localhost/system"  # 1.8's default
    assert [c["argv"][4] for c in runner.commands[1:]] == (["destroy"] if destroyed else [])


def test_ssh_password_through_askpass(tmp_path: Path) -> None:
    secret = "s3cr'et \"pw\""
    runner = Runner("running")
    run(driver(runner, tmp_path).query({"power_address": "qemu+ssh://maas@h/system",
                                        "power_id": "n1", "power_pass": secret}))
    command = runner.commands[0]
    assert not any(secret in arg for arg in command["argv"])
    assert not any(secret in value for value in command["env"].values())
    assert command["env"]["DISPLAY"] and command["env"]["SSH_ASKPASS_REQUIRE"] == "force"
    assert (command["helper_mode"], command["dir_mode"]) == (0o700, 0o700)
    answers = command["answers"]
    password, hostkey, other = answers.values()
    assert password.stdout == secret + "\n" and password.returncode == 0
    assert hostkey.stdout == "yes\n"  # accept-new, as 1.8 typed "yes"
    assert other.returncode != 0 and other.stdout == ""
    assert list(tmp_path.iterdir()) == []  # removed after the call


def test_no_askpass_without_ssh(tmp_path: Path) -> None:
    runner = Runner("running")
    run(driver(runner, tmp_path).query({"power_address": "qemu:///system", "power_id": "n",
                                        "power_pass": "pw"}))
    assert "SSH_ASKPASS" not in runner.commands[0]["env"]


@pytest.mark.parametrize(("output", "error"), [
    ("error: failed to get domain 'x'\n", PowerSettingError),
    ("error: failed to connect to the hypervisor\nerror: Cannot recv data: Connection refused",
     PowerConnError),
    ("error: failed to connect to the hypervisor\nerror: Cannot read CA certificate '/x'",
     PowerSettingError),
    ("error: authentication failed: Permission denied (publickey,password).", PowerAuthError),
])
def test_classify(output: str, error: type) -> None:
    found = classify(ProcessResult(1, None, b"", output.encode()), [], "x")
    assert type(found) is error


def test_parse_domain_xml() -> None:
    machine = parse_domain_xml(
        "<domain type='kvm'><name>n1</name><uuid>u-1</uuid><os><type arch='x86_64'>hvm</type>"
        "</os><devices><interface type='network'><mac address='52:54:00:AA:00:01'/></interface>"
        "<interface type='bridge'><mac address='52:54:00:aa:00:02'/></interface></devices>"
        "</domain>", "running")
    assert machine.macs == ("52:54:00:aa:00:01", "52:54:00:aa:00:02")
    assert (machine.uuid, machine.architecture, machine.power_state) == (
        "u-1", "amd64/generic", "on")


def test_askpass_helper_is_not_world_readable_even_with_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        test_ssh_password_through_askpass(tmp_path)
    finally:
        os.umask(old)
