"""
The ``ipmi`` power driver: IPMI over LAN through FreeIPMI, or ipmitool.

What it does, as MAAS 1.8 did:

- **on**: set the next boot (only) to PXE (``ipmi-chassis-config --commit``
  with ``Boot_Flags_Persistent No`` / ``Boot_Device PXE``), then
  ``ipmipower --cycle --on-if-off``: a node that is on reboots into PXE, one
  that is off powers on;
- **off**: the same one-time PXE boot first (so a node someone switches on
  by hand boots from MAAS, which decides what it does), then
  ``ipmipower --off``, or ``--soft`` (ACPI shutdown) when the parameter
  ``power_off_mode`` is ``soft`` (the API's ``stop_mode``).  A BMC that
  refuses the boot flags does not stop the power off: that is logged;
- **query**: ``ipmipower --stat``.

Every FreeIPMI call passes ``--driver-type`` from ``power_driver`` (``LAN`` or
``LAN_2_0``, default ``LAN_2_0``) and ``-W opensesspriv``.  The BMC is
``power_address`` (``host``, ``host:port``, ``[v6]:port``), or ``ip_address``
(which the cluster resolves from ``mac_address`` through ARP, as 1.8 did) when
``power_address`` is empty.

Tool choice: FreeIPMI when both its programs are installed (it is what MAAS
used, and ``--cycle --on-if-off`` is one call), otherwise ipmitool with
``-I lanplus -C 3`` (see ``power.ipmi_tools``).  Tool paths come from the
constructor, never from node parameters.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from power.address import AddressError, parse_address
from power.base import PowerDriver
from power.errors import PowerActionError, PowerSettingError, PowerToolError
from power.ipmi_tools import FreeIPMI, IPMIBackend, IPMITool, Runner, Target
from power.process import find_program, run_process

#: Longest password (bytes) each IPMI version can carry.
MAX_PASSWORD = {"LAN": 16, "LAN_2_0": 20}

TOOLS = ("auto", "freeipmi", "ipmitool")


class IPMIPowerDriver(PowerDriver):
    """
    Power a node through its BMC.

    :param tool: ``"auto"`` (FreeIPMI if installed, else ipmitool),
        ``"freeipmi"`` or ``"ipmitool"``.
    :param programs: paths of ``ipmipower``, ``ipmi-chassis-config`` and
        ``ipmitool`` to use instead of looking them up in ``PATH``.
    :param search_path: where to look for the tools (default: ``PATH`` and sbin).
    :param runner: runs a process; ``power.process.run_process`` unless a test
        substitutes a fake.
    :param tempdir: where the private per-call directories are made.
    """

    power_type = "ipmi"
    queryable = True

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        tool: str = "auto",
        programs: Mapping[str, str] | None = None,
        search_path: str | None = None,
        runner: Runner = run_process,
        tempdir: str | None = None,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, not {tool!r}")
        self.tool = tool
        self.programs = dict(programs or {})
        self.search_path = search_path
        self.runner = runner
        self.tempdir = tempdir

    def _program(self, name: str) -> str | None:
        return self.programs.get(name) or find_program(name, self.search_path)

    def backend(self) -> IPMIBackend:
        """The tool to use now (looked up on every call: packages come and go)."""
        if self.tool in ("auto", "freeipmi"):
            ipmipower = self._program("ipmipower")
            chassis = self._program("ipmi-chassis-config")
            if ipmipower and chassis:
                return FreeIPMI(self.reactor, self.runner, self.timeout,
                                ipmipower=ipmipower, chassis_config=chassis)
            if self.tool == "freeipmi":
                raise PowerToolError(
                    "FreeIPMI is not installed (need ipmipower and ipmi-chassis-config; "
                    "Debian package freeipmi-tools)."
                )
        ipmitool = self._program("ipmitool")
        if ipmitool:
            return IPMITool(self.reactor, self.runner, self.timeout, ipmitool=ipmitool)
        if self.tool == "ipmitool":
            raise PowerToolError("ipmitool is not installed (Debian package ipmitool).")
        raise PowerToolError(
            "No IPMI tool is installed: need FreeIPMI (freeipmi-tools) or ipmitool."
        )

    def target(self, params: Mapping[str, Any]) -> Target:
        """The BMC and credentials from params; PowerSettingError if unusable."""
        address_text = self.get_setting(params, "power_address") or str(
            params.get("ip_address") or ""
        )
        if not address_text:
            raise PowerSettingError(
                "The power parameter power_address (IP address) is not set, "
                "and no IP address is known for the power MAC."
            )
        try:
            address = parse_address(address_text)
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None
        driver = self.get_setting(params, "power_driver")
        password = self.get_setting(params, "power_pass")
        username = self.get_setting(params, "power_user")
        for name, value in (("power_user", username), ("power_pass", password)):
            if any(ord(char) < 32 or ord(char) == 127 for char in value):
                raise PowerSettingError(f"{name} contains a control character.")
        if len(password.encode("utf-8")) > MAX_PASSWORD[driver]:
            raise PowerSettingError(
                f"power_pass is longer than the {MAX_PASSWORD[driver]} bytes "
                f"IPMI allows with power_driver {driver}."
            )
        return Target(address, username, password, driver)

    @asynccontextmanager
    async def _workdir(self) -> AsyncIterator[Path]:
        """A private (0700) directory for credential files, removed afterwards."""
        path = Path(tempfile.mkdtemp(prefix="maas-ipmi-", dir=self.tempdir))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    async def power_on(self, params: Mapping[str, Any]) -> None:
        target = self.target(params)
        backend = self.backend()
        async with self._workdir() as workdir:
            await backend.set_pxe_boot_once(target, workdir)
            await backend.power_on(target, workdir)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        target = self.target(params)
        soft = str(params.get("power_off_mode") or "") == "soft"
        backend = self.backend()
        async with self._workdir() as workdir:
            try:
                await backend.set_pxe_boot_once(target, workdir)
            except PowerActionError as error:
                self.log.warn(
                    "Could not set the next boot to PXE on {address} before power off: {error}",
                    address=str(target.address), error=str(error),
                )
            await backend.power_off(target, workdir, soft=soft)

    async def power_query(self, params: Mapping[str, Any]) -> str:
        target = self.target(params)
        backend = self.backend()
        async with self._workdir() as workdir:
            return await backend.query(target, workdir)
