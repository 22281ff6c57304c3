"""
The two IPMI command-line tools the ``ipmi`` driver can drive, behind one interface.

:class:`FreeIPMI` (``ipmipower`` and ``ipmi-chassis-config``, what MAAS 1.8
used) is preferred; :class:`IPMITool` is the fallback when FreeIPMI is not
installed.  Both take the same :class:`Target`, work inside a private directory
the caller provides, and raise ``power.errors`` errors classified from the
tool's output.

Passwords never appear in a command line (which any local user can read in
``/proc/PID/cmdline``): FreeIPMI reads them from a ``--config-file`` and
ipmitool from ``-f FILE``, both written with mode 0600 in a 0700 directory
that the driver removes afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from power.address import NetworkAddress
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
)
from power.process import ProcessResult
from power.redact import scrub

Runner = Callable[..., Awaitable[ProcessResult]]

#: Output fragments (lower case) that mean the BMC refused the credentials.
AUTH_PHRASES = (
    "password invalid",
    "username invalid",
    "k_g invalid",
    "password verification timeout",
    "privilege level insufficient",
    "privilege level cannot be obtained",
    "rakp 2 hmac is invalid",
    "unauthorized name",
    "invalid user name",
    "insufficient privilege",
    "activate session command failed",
)
#: ... that mean the BMC cannot do what the settings ask (wrong power_driver).
SETTING_PHRASES = ("ipmi 2.0 unavailable", "cipher suite id unavailable")
#: ... that mean the BMC could not be reached or did not answer.
CONN_PHRASES = (
    "connection timeout",
    "session timeout",
    "bmc busy",
    "invalid hostname",
    "unable to establish",
    "no response",
    "get auth capabilities error",
    "connection refused",
    "network is unreachable",
    "no route to host",
)

#: Lines of ``ipmitool -v`` that say nothing about a failure.
NOISE = ("Loading IANA PEN Registry", "Running Get VSO Capabilities", "Discovered IPMB")

BOOT_PXE_ONCE = (
    "Section Chassis_Boot_Flags\n"
    "\tBoot_Flags_Persistent\tNo\n"
    "\tBoot_Device\tPXE\n"
    "EndSection\n"
)


@attrs.frozen(repr=False)
class Target:
    """One BMC and how to log in to it.  ``repr`` leaves the password out."""

    address: NetworkAddress
    username: str
    password: str
    driver: str  # "LAN" (IPMI 1.5) or "LAN_2_0" (IPMI 2.0)

    def __repr__(self) -> str:
        return f"Target({self.address}, user={self.username!r}, driver={self.driver})"


def write_private(path: Path, text: str) -> None:
    """Create path (which must not exist) with mode 0600 and write text to it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def classify(tool: str, result: ProcessResult, secrets: Sequence[str]) -> PowerError:
    """The error a failed run of tool means, judged from its output."""
    output = scrub(result.output, secrets).strip()
    lowered = output.lower()
    lines = [line.strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not line.startswith(NOISE)]
    detail = " | ".join(lines[-4:])
    detail = detail or f"exit status {result.exit_code}"
    message = f"{tool} failed: {detail}"
    if any(phrase in lowered for phrase in AUTH_PHRASES):
        return PowerAuthError(f"The BMC refused the credentials. {message}")
    if any(phrase in lowered for phrase in SETTING_PHRASES):
        return PowerSettingError(f"The BMC does not support this power driver. {message}")
    if any(phrase in lowered for phrase in CONN_PHRASES):
        return PowerConnError(message)
    return PowerActionError(message)


class IPMIBackend(Protocol):
    name: str

    async def set_pxe_boot_once(self, target: Target, workdir: Path) -> None: ...
    async def power_on(self, target: Target, workdir: Path) -> None: ...
    async def power_off(self, target: Target, workdir: Path, *, soft: bool) -> None: ...
    async def query(self, target: Target, workdir: Path) -> str: ...


class _Tool:
    name = ""

    def __init__(self, reactor: Any, run: Runner, timeout: float) -> None:
        self._reactor = reactor
        self._run = run
        self._timeout = timeout

    async def _execute(self, argv: list[str], target: Target, workdir: Path) -> str:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LC_ALL": "C",
            "HOME": str(workdir),
        }
        result = await self._run(self._reactor, argv, env=env, timeout=self._timeout)
        if not result.ok:
            raise classify(Path(argv[0]).name, result, [target.password])
        return scrub(result.output, [target.password])


class FreeIPMI(_Tool):
    """``ipmipower`` for power, ``ipmi-chassis-config`` for the boot device."""

    name = "freeipmi"

    def __init__(
        self, reactor: Any, run: Runner, timeout: float, *, ipmipower: str, chassis_config: str
    ) -> None:
        super().__init__(reactor, run, timeout)
        self.ipmipower = ipmipower
        self.chassis_config = chassis_config

    @staticmethod
    def quote(value: str) -> str:
        """value as a FreeIPMI config-file argument: quoted, with \\ " # escaped."""
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("#", "\\#")
        return f'"{escaped}"'

    def _options(self, target: Target, workdir: Path) -> list[str]:
        config = workdir / "freeipmi.conf"
        if not config.exists():
            lines = []
            if target.username:
                lines.append(f"username {self.quote(target.username)}\n")
            if target.password:
                lines.append(f"password {self.quote(target.password)}\n")
            write_private(config, "".join(lines))
        return [
            "--config-file", str(config),
            "-h", str(target.address),
            "-D", target.driver,
            "-W", "opensesspriv",  # needed by many BMCs (and ipmi_sim), as MAAS passes
        ]

    async def _ipmipower(self, target: Target, workdir: Path, *action: str) -> str:
        argv = [self.ipmipower, *self._options(target, workdir), *action]
        output = await self._execute(argv, target, workdir)
        # "HOST: ok" / "HOST: on"; an error may still exit 0 for some versions.
        answer = output.strip().rsplit(":", 1)[-1].strip().lower()
        if answer not in ("ok", "on", "off"):
            raise classify("ipmipower", ProcessResult(1, None, output.encode(), b""), [])
        return answer

    async def set_pxe_boot_once(self, target: Target, workdir: Path) -> None:
        boot = workdir / "boot.conf"
        if not boot.exists():
            write_private(boot, BOOT_PXE_ONCE)
        argv = [self.chassis_config, *self._options(target, workdir),
                "--commit", "--filename", str(boot)]
        await self._execute(argv, target, workdir)

    async def power_on(self, target: Target, workdir: Path) -> None:
        # Reboot into the PXE boot just set if already on, else power on.
        await self._ipmipower(target, workdir, "--cycle", "--on-if-off")

    async def power_off(self, target: Target, workdir: Path, *, soft: bool) -> None:
        await self._ipmipower(target, workdir, "--soft" if soft else "--off")

    async def query(self, target: Target, workdir: Path) -> str:
        return await self._ipmipower(target, workdir, "--stat")


_POWER_IS = re.compile(r"Chassis Power is (on|off)", re.IGNORECASE)


class IPMITool(_Tool):
    """``ipmitool`` (``-I lanplus -C 3`` for IPMI 2.0, ``-I lan`` for 1.5)."""

    name = "ipmitool"

    def __init__(self, reactor: Any, run: Runner, timeout: float, *, ipmitool: str) -> None:
        super().__init__(reactor, run, timeout)
        self.ipmitool = ipmitool

    def _options(self, target: Target, workdir: Path) -> list[str]:
        # -C 3 (the suite FreeIPMI defaults to) avoids ipmitool's slow cipher probe.
        interface = ["-I", "lanplus", "-C", "3"] if target.driver == "LAN_2_0" else ["-I", "lan"]
        options = [*interface, "-H", target.address.host]
        if target.address.port is not None:
            options += ["-p", str(target.address.port)]
        if target.username:
            options += ["-U", target.username]
        if target.password:
            secret = workdir / "password"
            if not secret.exists():
                write_private(secret, target.password + "\n")
            options += ["-f", str(secret)]
        else:
            options += ["-P", ""]  # an empty -f file makes ipmitool prompt on the tty
        return [*options, "-v"]  # -v says *why* a session failed (RAKP 2 HMAC...)

    async def _chassis(self, target: Target, workdir: Path, *command: str) -> str:
        argv = [self.ipmitool, *self._options(target, workdir), "chassis", *command]
        return await self._execute(argv, target, workdir)

    async def set_pxe_boot_once(self, target: Target, workdir: Path) -> None:
        await self._chassis(target, workdir, "bootdev", "pxe")  # next boot only

    async def power_on(self, target: Target, workdir: Path) -> None:
        state = await self.query(target, workdir)
        await self._chassis(target, workdir, "power", "cycle" if state == "on" else "on")

    async def power_off(self, target: Target, workdir: Path, *, soft: bool) -> None:
        await self._chassis(target, workdir, "power", "soft" if soft else "off")

    async def query(self, target: Target, workdir: Path) -> str:
        output = await self._chassis(target, workdir, "power", "status")
        match = _POWER_IS.search(output)
        if match is None:
            raise PowerActionError(f"ipmitool gave no power state: {output.strip()[-200:]}")
        return match.group(1).lower()
