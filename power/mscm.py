"""
The ``mscm`` power driver: a Moonshot cartridge node through the HP iLO
Chassis Manager CLI over SSH.

What MAAS 1.8 did (paramiko, one SSH connection and one ``exec`` per command):

- **query**: ``show node power <node_id>``; the output's ``Power State:`` is
  ``On`` (or ``PoweringOn``) → on, ``Off`` (or ``Unavailable``) → off;
- **on**: if the node is on, ``set node power off force <node_id>`` first;
  then ``set node bootonce pxe <node_id>`` and ``set node power on <node_id>``;
- **off**: ``set node power off force <node_id>``.

``node_id`` must be ``cXnY`` (cartridge X, node Y): it is part of a command
line, so nothing else is sent.  ``power_address`` may be ``host:port``.  SSH is
Twisted Conch (``power.ssh``), with the accept-new host key policy.

:func:`list_machines` lists the nodes for the probe: ``show node list`` (the
node ids), ``show node macaddr all`` (their MACs) and ``show node info <id>``
(``Product Name:``, mapped to an architecture as 1.8 did: m400 cartridges are
``arm64/xgene-uboot``, m800 ``armhf/keystone``, the rest ``amd64/generic``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
from twisted.internet import defer

from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.errors import PowerActionError, PowerConnError, PowerError, PowerSettingError
from power.redact import scrub
from power.ssh import HostKeys, SSHResult, run_command

NODE_ID = re.compile(r"^c[0-9]+n[0-9]+$")
_POWER_STATE = re.compile(r"Power State:\s*(\w+)")
_MAC = re.compile(r"\b(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}\b")
_NODE_IN_LIST = re.compile(r"\bc[0-9]+n[0-9]+\b")
_PRODUCT = re.compile(r"Product Name:\s*([A-Za-z0-9 ]+)")

ON_STATES = ("On", "PoweringOn")
OFF_STATES = ("Off", "Unavailable")

#: Cartridge product name → MAAS architecture (1.8's mapping).
CARTRIDGES = {
    "ProLiant Moonshot Cartridge": "amd64/generic",
    "ProLiant m300 Server Cartridge": "amd64/generic",
    "ProLiant m350 Server Cartridge": "amd64/generic",
    "ProLiant m400 Server Cartridge": "arm64/xgene-uboot",
    "ProLiant m500 Server Cartridge": "amd64/generic",
    "ProLiant m710 Server Cartridge": "amd64/generic",
    "ProLiant m800 Server Cartridge": "armhf/keystone",
}
DEFAULT_ARCHITECTURE = "amd64/generic"

#: Host keys shared by every driver instance of this process (accept-new, in memory),
#: unless the cluster passes a HostKeys with a file.
_HOST_KEYS = HostKeys()


@attrs.frozen
class MSCMNode:
    node_id: str
    macs: tuple[str, ...]
    product: str
    architecture: str


def check_node_id(node_id: str) -> str:
    if not NODE_ID.fullmatch(node_id):
        raise PowerSettingError(
            f"node_id must be cXnY (X = cartridge, Y = node), like c1n1, not '{node_id}'.")
    return node_id


class MSCMPowerDriver(PowerDriver):
    """
    Power a Moonshot node through the chassis manager's SSH CLI.

    :param host_keys: known host keys (default: one in-memory store per process).
    :param connect_timeout: seconds for each TCP connect.
    :param command_timeout: seconds for each command (connection included).
    """

    power_type = "mscm"
    queryable = True

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        host_keys: HostKeys | None = None,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.host_keys = host_keys if host_keys is not None else _HOST_KEYS
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout

    def address(self, params: Mapping[str, Any]) -> NetworkAddress:
        try:
            return parse_address(self.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None

    async def run(self, params: Mapping[str, Any], command: str) -> str:
        """One CLI command on the chassis manager; its output."""
        password = self.get_setting(params, "power_pass")
        result: SSHResult = await run_command(
            self.reactor, self.address(params), self.get_setting(params, "power_user"),
            password, command, host_keys=self.host_keys, timeout=self.command_timeout,
            connect_timeout=self.connect_timeout, clock=self.clock,
        )
        output = scrub(result.output, [password])
        if result.exit_status not in (0, None):
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            raise PowerActionError(
                f"The chassis manager failed '{command}' (exit status {result.exit_status}): "
                f"{' | '.join(lines[-3:])}")
        return output

    async def power_query(self, params: Mapping[str, Any]) -> str:
        node_id = check_node_id(self.require_setting(params, "node_id"))
        output = await self.run(params, f"show node power {node_id}")
        match = _POWER_STATE.search(output)
        if match is None:
            detail = " | ".join(line.strip() for line in output.splitlines() if line.strip())
            raise PowerActionError(
                f"The chassis manager gave no power state for {node_id}: {detail[-300:]}")
        state = match.group(1)
        if state in ON_STATES:
            return "on"
        if state in OFF_STATES:
            return "off"
        raise PowerActionError(f"Node {node_id} is in an unknown power state: '{state}'.")

    async def power_on(self, params: Mapping[str, Any]) -> None:
        node_id = check_node_id(self.require_setting(params, "node_id"))
        if await self.power_query(params) == "on":
            await self.run(params, f"set node power off force {node_id}")
        await self.run(params, f"set node bootonce pxe {node_id}")
        await self.run(params, f"set node power on {node_id}")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        node_id = check_node_id(self.require_setting(params, "node_id"))
        await self.run(params, f"set node power off force {node_id}")

    async def nodes(self, params: Mapping[str, Any]) -> list[MSCMNode]:
        listing = await self.run(params, "show node list")
        node_ids = list(dict.fromkeys(_NODE_IN_LIST.findall(listing)))
        macs: dict[str, list[str]] = {}
        for line in (await self.run(params, "show node macaddr all")).splitlines():
            ids = _NODE_IN_LIST.findall(line)
            if ids:
                macs.setdefault(ids[0], []).extend(m.lower() for m in _MAC.findall(line))
        found = []
        for node_id in node_ids:
            info = await self.run(params, f"show node info {node_id}")
            match = _PRODUCT.search(info)
            product = match.group(1).strip() if match else ""
            found.append(MSCMNode(node_id, tuple(macs.get(node_id, [])), product,
                                  CARTRIDGES.get(product, DEFAULT_ARCHITECTURE)))
        return found


async def list_machines(
    reactor: Any,
    host: str,
    username: str,
    password: str,
    *,
    timeout: float = 600.0,  # noqa: ASYNC109 (enforced with addTimeout)
    clock: Any | None = None,
    **driver_options: Any,
) -> list[MSCMNode]:
    """The nodes behind a chassis manager, for ``probe_and_enlist_hardware``."""
    driver = MSCMPowerDriver(reactor, clock=clock, **driver_options)
    params = {"power_address": host, "power_user": username, "power_pass": password}
    call = defer.Deferred.fromCoroutine(driver.nodes(params))
    call.addTimeout(timeout, clock if clock is not None else reactor)
    try:
        return await call
    except defer.TimeoutError:
        error: PowerError = PowerConnError(f"Listing the nodes took longer than {timeout:g} s.")
    except PowerError as failed:
        error = failed.with_message(scrub(str(failed), [password]))
    raise error
