"""
The ``moonshot`` power driver: an HP Moonshot cartridge through the chassis iLO, by IPMI bridging.

What MAAS 1.8 did, with ``ipmitool -I lanplus``:

- **on**: ``chassis bootdev pxe`` (next boot only), then ``power on``;
- **off**: ``power off``;
- **query**: ``power status`` (``Chassis Power is on|off``).  1.8 did not
  poll moonshot nodes (not in ``QUERY_POWER_TYPES``), so the driver is not
  ``queryable``; :meth:`MoonshotPowerDriver.power_query` is still there for
  callers that want it.

``power_hwaddress`` holds the bridging options that reach one cartridge
behind the chassis manager, e.g. ``-B 0 -T 0x82 -b 7 -t 0x72``.  1.8 split it
on white space and appended whatever it held to the command line; we accept
only ``-B`` (transit channel), ``-T`` (transit address), ``-b`` (target
channel) and ``-t`` (target address), each at most once, each with a decimal
or ``0x`` hexadecimal value (``-Bvalue`` and ``-B value`` both work).  Anything
else is a :class:`PowerSettingError`: the value never smuggles another option
(``-P``, ``-E``, ``-o``...) into the command.

The password goes to ipmitool in a 0600 file (``-f``) in a private directory,
never in argv or the environment.  ``-C 3`` skips ipmitool's slow cipher-suite
probe (iLO 4 supports suite 3).  ``-p PORT`` is passed when ``power_address``
is ``host:port``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.errors import PowerActionError, PowerSettingError, PowerToolError
from power.ipmi_tools import Runner, classify, write_private
from power.process import find_program, run_process
from power.redact import scrub

#: The bridging options power_hwaddress may hold.
BRIDGING_OPTIONS = ("-B", "-T", "-b", "-t")
_VALUE = re.compile(r"^(0[xX][0-9A-Fa-f]{1,2}|[0-9]{1,3})$")
_POWER_IS = re.compile(r"Chassis Power is (on|off)", re.IGNORECASE)


def parse_hwaddress(text: str) -> list[str]:
    """
    The bridging options in power_hwaddress, as ipmitool arguments.

    >>> parse_hwaddress("-B 0 -T 0x82 -b 7 -t 0x72")
    ['-B', '0', '-T', '0x82', '-b', '7', '-t', '0x72']
    """
    tokens = text.split()
    argv: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        option, value = token[:2], token[2:]
        if option not in BRIDGING_OPTIONS:
            raise PowerSettingError(
                f"power_hwaddress may only hold the bridging options -B, -T, -b and -t; "
                f"'{token}' is not one of them."
            )
        if option in seen:
            raise PowerSettingError(f"power_hwaddress gives {option} twice.")
        seen.add(option)
        if not value:
            i += 1
            if i == len(tokens):
                raise PowerSettingError(f"power_hwaddress has no value after {option}.")
            value = tokens[i]
        if not _VALUE.match(value) or int(value, 0) > 255:
            raise PowerSettingError(
                f"power_hwaddress: {option} needs a number from 0 to 255 "
                f"(decimal or 0x hexadecimal), not '{value}'."
            )
        argv += [option, value]
        i += 1
    return argv


class MoonshotPowerDriver(PowerDriver):
    """
    Power a Moonshot cartridge with ipmitool through the chassis iLO.

    :param ipmitool: path of ipmitool (default: looked up in ``PATH`` and sbin).
    :param runner: runs a process (``power.process.run_process`` unless a test
        substitutes a fake).
    :param tempdir: where the private per-call directories are made.
    """

    power_type = "moonshot"
    queryable = False

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        ipmitool: str | None = None,
        runner: Runner = run_process,
        tempdir: str | None = None,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.ipmitool = ipmitool
        self.runner = runner
        self.tempdir = tempdir

    def _program(self) -> str:
        program = self.ipmitool or find_program("ipmitool")
        if program is None:
            raise PowerToolError("ipmitool is not installed (Debian package ipmitool).")
        return program

    def _address(self, params: Mapping[str, Any]) -> NetworkAddress:
        try:
            return parse_address(self.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None

    @asynccontextmanager
    async def _workdir(self) -> AsyncIterator[Path]:
        path = Path(tempfile.mkdtemp(prefix="maas-moonshot-", dir=self.tempdir))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    async def _ipmitool(self, params: Mapping[str, Any], *command: str) -> str:
        address = self._address(params)
        bridging = parse_hwaddress(self.require_setting(params, "power_hwaddress"))
        user = self.get_setting(params, "power_user")
        password = self.get_setting(params, "power_pass")
        if any(ord(char) < 32 or ord(char) == 127 for char in user + password):
            raise PowerSettingError("power_user or power_pass contains a control character.")
        program = self._program()
        async with self._workdir() as workdir:
            argv = [program, "-I", "lanplus", "-C", "3", "-H", address.host]
            if address.port is not None:
                argv += ["-p", str(address.port)]
            if user:
                argv += ["-U", user]
            if password:
                secret = workdir / "password"
                write_private(secret, password + "\n")
                argv += ["-f", str(secret)]
            else:
                argv += ["-P", ""]  # an empty -f file makes ipmitool prompt on the tty
            # -v: ipmitool then says *why* a session failed (RAKP 2 HMAC is invalid...).
            argv += ["-v", *bridging, *command]
            env = {
                "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                "LC_ALL": "C",
                "HOME": str(workdir),
            }
            result = await self.runner(self.reactor, argv, env=env, timeout=self.timeout)
        if not result.ok:
            raise classify("ipmitool", result, [password])
        return scrub(result.output, [password])

    async def power_on(self, params: Mapping[str, Any]) -> None:
        output = await self._ipmitool(params, "chassis", "bootdev", "pxe")
        if "Set Boot Device to pxe" not in output:  # ipmitool exits 0 even when refused
            raise PowerActionError(f"ipmitool could not set PXE boot: {output.strip()[-200:]}")
        await self._ipmitool(params, "power", "on")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._ipmitool(params, "power", "off")

    async def power_query(self, params: Mapping[str, Any]) -> str:
        output = await self._ipmitool(params, "power", "status")
        match = _POWER_IS.search(output)
        if match is None:
            raise PowerActionError(f"ipmitool gave no power state: {output.strip()[-200:]}")
        return match.group(1).lower()
