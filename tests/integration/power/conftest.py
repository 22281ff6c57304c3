"""
A real IPMI BMC for the power tests: OpenIPMI's ``ipmi_sim`` on a loopback UDP port.

The simulator asks an external ``chassis_control`` program for power and boot
state; ours (``chassis.sh``) keeps the state in files and appends every call
to ``calls.log``, so a test can assert exactly what a driver did and in which
order.  See ../shared/reference/test-peers.md §5b.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

#: A password that needs escaping in a FreeIPMI config file (# and \ and ').
BMC_USER = "maas"
BMC_PASSWORD = "pw#sec'ret\\x"

CHASSIS_SCRIPT = r"""#!/bin/sh
# chassis_control for ipmi_sim: "$0 MC get power boot ..." or "$0 MC set power 1 boot pxe ..."
state="$(dirname "$0")"
echo "$*" >> "$state/calls.log"
shift
action="$1"; shift
if [ "$action" = get ]; then
  for item in "$@"; do
    case "$item" in
      power) echo "power:$(cat "$state/power")" ;;
      boot) echo "boot:$(cat "$state/boot")" ;;
    esac
  done
elif [ "$action" = set ]; then
  while [ $# -ge 2 ]; do
    case "$1" in
      power) echo "$2" > "$state/power" ;;
      shutdown) [ "$2" = 1 ] && echo 0 > "$state/power" ;;  # the OS obeys ACPI at once
      boot) echo "$2" > "$state/boot" ;;
    esac
    shift 2
  done
fi
exit 0
"""

LAN_CONF = """\
name "maastest"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{workdir}/chassis.sh 0x20"
  user 1 true  ""  "test" user   10 none md2 md5 straight
  user 2 true  "{user}" "{password}" admin  10 none md2 md5 straight
"""

SIM_EMU = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


class SimulatedBMC:
    """A running ipmi_sim and the state its chassis script keeps."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.user = BMC_USER
        self.password = BMC_PASSWORD

    @property
    def power(self) -> int:
        return int((self.workdir / "power").read_text().strip())

    @power.setter
    def power(self, value: int) -> None:
        (self.workdir / "power").write_text(f"{value}\n")

    @property
    def boot(self) -> str:
        return (self.workdir / "boot").read_text().strip()

    def calls(self) -> list[str]:
        """The chassis_control calls since the last reset, without the MC address."""
        lines = (self.workdir / "calls.log").read_text().splitlines()
        return [line.split(" ", 1)[1] for line in lines if " " in line]

    def reset(self, power: int = 0) -> None:
        self.power = power
        (self.workdir / "boot").write_text("default\n")
        (self.workdir / "calls.log").write_text("")

    def params(self, **overrides: str) -> dict[str, str]:
        params = {"power_address": self.address, "power_user": self.user,
                  "power_pass": self.password, "power_driver": "LAN_2_0"}
        params.update(overrides)
        return params


@pytest.fixture(scope="session")
def reactor() -> Any:
    """The reactor pytest-twisted runs (asyncio), handed to the code under test."""
    from twisted.internet import reactor as running  # noqa: TID251 (the one place tests get it)

    return running


@pytest.fixture(scope="module")
def simulator(reactor: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedBMC]:
    program = shutil.which("ipmi_sim") or shutil.which("ipmi_sim", path="/usr/sbin:/sbin")
    if program is None:
        pytest.skip("ipmi_sim is not installed (Debian package openipmi: "
                    "tools/system-deps.sh test)")
    workdir = tmp_path_factory.mktemp("bmc")
    port = free_udp_port()
    script = workdir / "chassis.sh"
    script.write_text(CHASSIS_SCRIPT)
    script.chmod(0o755)
    (workdir / "lan.conf").write_text(LAN_CONF.format(
        port=port, workdir=workdir, user=BMC_USER, password=BMC_PASSWORD))
    (workdir / "sim.emu").write_text(SIM_EMU)
    (workdir / "state").mkdir()
    bmc = SimulatedBMC(workdir, port)
    bmc.reset()
    log = (workdir / "ipmi_sim.log").open("wb")
    process = subprocess.Popen(
        [program, "-n", "-c", str(workdir / "lan.conf"), "-f", str(workdir / "sim.emu"),
         "-s", str(workdir / "state")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while not udp_port_taken(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"ipmi_sim did not start:\n{(workdir / 'ipmi_sim.log').read_text()}")
            pytest_twisted.blockon(deferLater(reactor, 0.05, lambda: None))
        yield bmc
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


@pytest.fixture
def bmc(simulator: SimulatedBMC) -> SimulatedBMC:
    """The simulator, powered off with an empty call log."""
    simulator.reset(power=0)
    return simulator
