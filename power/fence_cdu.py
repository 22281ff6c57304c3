"""
The ``fence_cdu`` power driver: an outlet of a Sentry Switched CDU, through
fence-agents' ``fence_cdu``.

What MAAS 1.8 did: ask the outlet's state with ``fence_cdu ... -o status``
and switch it (``-o on`` / ``-o off``) only when it differs.  ``power_id``
is the outlet *name* as the CDU lists it (``fence_cdu``'s plug).  1.8 did not
poll CDU outlets (``fence_cdu`` is not in ``QUERY_POWER_TYPES``), so the
driver is not ``queryable``; :meth:`FenceCDUPowerDriver.power_query` still
works for callers that want it.

``fence_cdu`` speaks telnet to the CDU.  It is run with **no arguments**:
fence agents then read their options from standard input, one ``name=value``
a line, which is how the password reaches it without appearing in argv, the
environment or a file.  Every value is written quoted (the agent strips one
pair of surrounding quotes), so a password with quotes or spaces at its ends
survives; values with control characters are refused.  ``power_address``
may be ``host:port`` (the agent's ``ipport``; telnet's 23 otherwise).

Exit statuses: ``status`` exits 0 for ON and 2 for OFF.  Any failure to log
in or connect is "Unable to connect/login to fencing device"; to tell a dead
CDU (retryable) from wrong credentials (fatal) the driver first opens a TCP
connection itself (bounded by ``connect_timeout``), then closes it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol

from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.endpoints import client_endpoint
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
    PowerToolError,
)
from power.ipmi_tools import Runner
from power.process import ProcessResult, find_program, run_process
from power.redact import scrub

TELNET_PORT = 23
_STATUS = re.compile(r"Status:\s*(ON|OFF)\b", re.IGNORECASE)


def stdin_options(options: Mapping[str, str]) -> bytes:
    """The agent's standard input: ``name="value"`` lines."""
    lines = []
    for name, value in options.items():
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise PowerSettingError(f"The value for {name} contains a control character.")
        lines.append(f'{name}="{value}"\n')
    return "".join(lines).encode("utf-8")


def classify(result: ProcessResult, secrets: list[str], outlet: str) -> PowerError:
    output = scrub(result.output, secrets)
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    lines = [re.sub(r"^\S+ \S+ (ERROR|WARNING): ", "", line) for line in lines]
    detail = " | ".join(lines[-3:]) or f"exit status {result.exit_code}"
    lowered = output.lower()
    message = f"fence_cdu failed: {detail}"
    if "unable to connect/login" in lowered:
        return PowerAuthError(f"The CDU refused the login. {message}")
    if "plug status or plug is not available" in lowered:
        return PowerSettingError(f"The CDU has no outlet named '{outlet}'. {message}")
    if "connection lost" in lowered or ("timed out" in lowered and "waiting" not in lowered):
        return PowerConnError(message)
    if "failed: you have to" in lowered or "parse error" in lowered:
        return PowerSettingError(message)
    return PowerActionError(message)


class _Nothing(Protocol):
    pass


async def probe_tcp(reactor: Any, address: NetworkAddress, port: int,
                    timeout: float,  # noqa: ASYNC109 - a Deferred deadline, not asyncio's
                    clock: Any | None = None) -> None:
    """Open and close a TCP connection; PowerConnError if that fails within timeout."""
    endpoint = client_endpoint(reactor, address.host, port, timeout=timeout)
    d = endpoint.connect(Factory.forProtocol(_Nothing))
    d.addTimeout(timeout + 1, clock if clock is not None else reactor)
    try:
        protocol = await d
    except defer.TimeoutError:
        raise PowerConnError(f"{address.host}:{port} did not accept a connection "
                             f"within {timeout:g} seconds.") from None
    except Exception as error:
        raise PowerConnError(f"Cannot connect to {address.host}:{port}: {error}") from None
    assert protocol.transport is not None
    protocol.transport.abortConnection()


class FenceCDUPowerDriver(PowerDriver):
    """
    Switch a Sentry CDU outlet with fence-agents' ``fence_cdu``.

    :param fence_cdu: path of the agent (default: looked up in ``PATH`` and sbin).
    :param telnet: path of the telnet client the agent drives (checked, not
        passed: the agent uses ``/usr/bin/telnet``).
    :param runner: runs a process (``power.process.run_process`` unless a test
        substitutes a fake).
    :param connect_timeout: seconds for the TCP reachability check.
    :param probe: the reachability check (:func:`probe_tcp`; tests substitute one).
    """

    power_type = "fence_cdu"
    queryable = False

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        fence_cdu: str | None = None,
        telnet: str | None = None,
        runner: Runner = run_process,
        connect_timeout: float = 10.0,
        probe: Any = probe_tcp,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.probe = probe
        self.fence_cdu = fence_cdu
        self.telnet = telnet
        self.runner = runner
        self.connect_timeout = connect_timeout

    def _program(self) -> str:
        program = self.fence_cdu or find_program("fence_cdu")
        if program is None:
            raise PowerToolError("fence_cdu is not installed (Debian package fence-agents).")
        if not (self.telnet or find_program("telnet")):
            raise PowerToolError("fence_cdu needs a telnet client (Debian package telnet).")
        return program

    async def _agent(self, params: Mapping[str, Any], action: str) -> ProcessResult:
        try:
            address = parse_address(self.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None
        outlet = self.require_setting(params, "power_id")
        password = self.get_setting(params, "power_pass")
        options = {
            "ip": address.host,
            "ipport": str(address.port or TELNET_PORT),
            "username": self.get_setting(params, "power_user"),
            "password": password,
            "plug": outlet,
            "action": action,
        }
        stdin = stdin_options(options)
        program = self._program()
        await self.probe(self.reactor, address, address.port or TELNET_PORT,
                        self.connect_timeout, self.clock)
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}
        result = await self.runner(self.reactor, [program], stdin=stdin, env=env,
                                   timeout=self.timeout)
        if result.ok or (action == "status" and result.exit_code == 2):
            return result
        raise classify(result, [password], outlet)

    async def power_query(self, params: Mapping[str, Any]) -> str:
        result = await self._agent(params, "status")
        match = _STATUS.search(result.stdout.decode("utf-8", errors="replace"))
        if match is None:
            raise PowerActionError(
                f"fence_cdu gave no outlet status (exit status {result.exit_code}).")
        return match.group(1).lower()

    async def power_on(self, params: Mapping[str, Any]) -> None:
        if await self.power_query(params) != "on":
            await self._agent(params, "on")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        if await self.power_query(params) != "off":
            await self._agent(params, "off")
