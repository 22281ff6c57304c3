"""The moonshot driver bridging through ipmi_sim's BMC (0x20) to a cartridge MC at 0x72."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet.task import deferLater

from power.errors import PowerAuthError, PowerSettingError
from power.moonshot import MoonshotPowerDriver
from power.process import find_program
from tests.integration.power.conftest import (
    BMC_PASSWORD,
    BMC_USER,
    LAN_CONF,
    SIM_EMU,
    free_udp_port,
    udp_port_taken,
)

#: chassis_control keeping one state per MC: "$0 MC get|set ..." → files MC.power, MC.boot.
CHASSIS = r"""#!/bin/sh
state="$(dirname "$0")"
mc="$1"; echo "$*" >> "$state/calls.log"; shift
action="$1"; shift
if [ "$action" = get ]; then
  for item in "$@"; do
    case "$item" in
      power) echo "power:$(cat "$state/$mc.power")" ;;
      boot) echo "boot:$(cat "$state/$mc.boot")" ;;
    esac
  done
else
  while [ $# -ge 2 ]; do
    case "$1" in
      power) echo "$2" > "$state/$mc.power" ;;
      boot) echo "$2" > "$state/$mc.boot" ;;
    esac
    shift 2
  done
fi
exit 0
"""

CARTRIDGE = "0x72"
HWADDRESS = f"-b 0 -t {CARTRIDGE}"


class Chassis:
    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.address = f"127.0.0.1:{port}"

    def power(self, mc: str) -> int:
        return int((self.workdir / f"{mc}.power").read_text())

    def boot(self, mc: str) -> str:
        return (self.workdir / f"{mc}.boot").read_text().strip()

    def calls(self) -> list[str]:
        return (self.workdir / "calls.log").read_text().splitlines()

    def reset(self) -> None:
        for mc in ("0x20", CARTRIDGE):
            (self.workdir / f"{mc}.power").write_text("0\n")
            (self.workdir / f"{mc}.boot").write_text("default\n")
        (self.workdir / "calls.log").write_text("")

    def params(self, **overrides: str) -> dict[str, str]:
        values = {"power_address": self.address, "power_user": BMC_USER,
                  "power_pass": BMC_PASSWORD, "power_hwaddress": HWADDRESS}
        values.update(overrides)
        return values


@pytest.fixture(scope="module")
def chassis_sim(reactor: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chassis]:
    program = find_program("ipmi_sim")
    if program is None or find_program("ipmitool") is None:
        pytest.skip("ipmi_sim/ipmitool not installed (openipmi, ipmitool: "
                    "tools/system-deps.sh test)")
    workdir = tmp_path_factory.mktemp("moonshot")
    port = free_udp_port()
    script = workdir / "chassis.sh"
    script.write_text(CHASSIS)
    script.chmod(0o755)
    lan = LAN_CONF.format(port=port, workdir=workdir, user=BMC_USER, password=BMC_PASSWORD)
    lan += f'\nset_working_mc {CARTRIDGE}\n  chassis_control "{workdir}/chassis.sh {CARTRIDGE}"\n'
    (workdir / "lan.conf").write_text(lan)
    (workdir / "sim.emu").write_text(
        SIM_EMU + f"mc_add {CARTRIDGE} 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
                  f"mc_enable {CARTRIDGE}\n")
    (workdir / "state").mkdir()
    chassis = Chassis(workdir, port)
    chassis.reset()
    process = subprocess.Popen(
        [program, "-n", "-c", str(workdir / "lan.conf"), "-f", str(workdir / "sim.emu"),
         "-s", str(workdir / "state")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not udp_port_taken(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ipmi_sim did not start")
            pytest_twisted.blockon(deferLater(reactor, 0.05, lambda: None))
        yield chassis
    finally:
        process.terminate()
        process.wait(5)


@pytest.fixture
def chassis(chassis_sim: Chassis) -> Chassis:
    chassis_sim.reset()
    return chassis_sim


@pytest_twisted.ensureDeferred
async def test_on_sets_pxe_then_powers_on_the_cartridge(reactor: Any, chassis: Chassis) -> None:
    await MoonshotPowerDriver(reactor).on(chassis.params(), system_id="node-moonshot")
    assert chassis.power(CARTRIDGE) == 1 and chassis.boot(CARTRIDGE) == "pxe"
    assert chassis.power("0x20") == 0  # the chassis BMC itself untouched
    calls = chassis.calls()
    assert all(call.startswith(CARTRIDGE) for call in calls)
    assert calls.index(f"{CARTRIDGE} set boot pxe") < calls.index(f"{CARTRIDGE} set power 1")


@pytest_twisted.ensureDeferred
async def test_off_and_query(reactor: Any, chassis: Chassis) -> None:
    driver = MoonshotPowerDriver(reactor)
    (chassis.workdir / f"{CARTRIDGE}.power").write_text("1\n")
    assert await driver.power_query(chassis.params()) == "on"
    await driver.off(chassis.params())
    assert chassis.power(CARTRIDGE) == 0
    assert await driver.power_query(chassis.params()) == "off"


@pytest_twisted.ensureDeferred
async def test_wrong_password(reactor: Any, chassis: Chassis) -> None:
    with pytest.raises(PowerAuthError) as caught:
        await MoonshotPowerDriver(reactor).off(chassis.params(power_pass="Wrong-77"))
    assert "Wrong-77" not in str(caught.value)


@pytest_twisted.ensureDeferred
async def test_hwaddress_cannot_smuggle_options(reactor: Any, chassis: Chassis) -> None:
    with pytest.raises(PowerSettingError):
        await MoonshotPowerDriver(reactor).off(
            chassis.params(power_hwaddress="-t 0x72 -P secret"))
    assert chassis.calls() == []
