"""
The ``sm15k`` power driver: a server card of a SeaMicro 15000 chassis, three ways.

``power_control`` picks how (MAAS 1.8's three modes):

``ipmi`` (default)
    ``ipmitool -I lanplus -H HOST [-p PORT] -U USER -f PASSFILE raw 0x2E 1
    0x00 0x7d 0xab <mode> 0 <system_id>`` — SeaMicro's OEM command (netfn
    0x2E, command 1, SeaMicro's IANA bytes), ``mode`` 1 for on, 6 for off.
    The password is in a 0600 file in a private directory, never in argv.
    ``-C 3`` skips ipmitool's slow cipher-suite probe.

``restapi`` — the chassis REST API v0.9 (``http://HOST/v0.9/``, JSON-RPC-like)
    ``GET login?USER&PASS`` → ``result`` is a token; ``GET servers?TOKEN`` →
    ``result.serverId`` maps an index to ``"<card>/<cpu>"``; the card's index
    ``i`` then gets ``PUT servers/<i>?action=Power-On&using-pxe=true&TOKEN``
    or ``?action=Power-Off&force=true&TOKEN``.  Parameters are positional, in
    that order.  Every answer is ``{"error": {"code": N}, "result": ...}``;
    ``N`` other than 200/202/304 is an error.  The chassis allows one login at
    a time, so an error 401 is retried (5 tries, 1 s apart, as 1.8 did).

``restapi2`` — the chassis REST API v2.0 (``http://HOST/v2.0``, JSON)
    ``POST /login`` ``{"username", "password"}`` → a JSON string token
    (``OpaqueRef:...``); GETs carry ``?authtoken=TOKEN``, PUTs carry
    ``"authtoken"`` in the JSON body.  ``GET /servers/<card>/0`` → the server
    (``"active": true|false``); ``PUT /servers/<card>/0``
    ``{"action": "power-on", "using-pxe": true}`` or
    ``{"action": "power-off", "force": true}``.  ``GET /servers`` lists every
    server keyed by id, with ``nic: {"0": {"macAddr": ...}}``.

In every mode the server is ``<system_id>/0`` (CPU 0 of the card).  **on**
boots from the network (PXE) this once; **off** is forced.  **query** works
only with ``restapi2`` (``active``); the other modes answer "unknown", as in
1.8, which the cluster accepts as "cannot tell".

``power_address`` is ``host``, ``host:port`` or ``[v6]:port`` (for IPMI the
port is the RMCP+ UDP port, for REST the HTTP port).  :func:`list_machines`
lists the servers and their MACs for the probe (v0.9: NIC 0 of each card;
v2.0: all NICs; ``ipmi`` tries v2.0, then v0.9, as 1.8 did).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
from twisted.internet import defer
from twisted.internet.task import deferLater

from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
    PowerToolError,
)
from power.http import HTTPResponse, request
from power.ipmi_tools import Runner, classify, write_private
from power.process import find_program, run_process
from power.redact import scrub
from power.schema import normalise_mac

#: ``raw`` arguments of SeaMicro's OEM power command, then mode, 0, system_id.
RAW_POWER = ("raw", "0x2E", "1", "0x00", "0x7d", "0xab")
IPMI_ON, IPMI_OFF = "1", "6"
V09_OK = frozenset({200, 202, 304})
V09_LOGIN_TRIES = 5
CONTROLS = ("ipmi", "restapi", "restapi2")


@attrs.frozen
class SM15KServer:
    system_id: str
    macs: tuple[str, ...]


def _json(response: HTTPResponse, what: str) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        raise PowerActionError(f"The chassis answered {what} without JSON "
                               f"(HTTP {response.status}).") from None


class V09Error(PowerActionError):
    """A v0.9 answer whose JSON-RPC error code is not a success."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code

    def with_message(self, message: str) -> V09Error:
        return V09Error(message, self.code)


class SM15KPowerDriver(PowerDriver):
    """
    Power a SeaMicro 15000 server card.

    :param ipmitool: path of ipmitool (default: looked up in ``PATH`` and sbin).
    :param runner: runs a process (``power.process.run_process``).
    :param tempdir: where the private per-call directories are made.
    :param login_wait: seconds between v0.9 login retries.
    """

    power_type = "sm15k"
    queryable = True

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        ipmitool: str | None = None,
        runner: Runner = run_process,
        tempdir: str | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
        login_wait: float = 1.0,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.ipmitool = ipmitool
        self.runner = runner
        self.tempdir = tempdir
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.login_wait = login_wait

    # -- settings ------------------------------------------------------------------

    def address(self, params: Mapping[str, Any]) -> NetworkAddress:
        try:
            return parse_address(self.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None

    def card(self, params: Mapping[str, Any]) -> str:
        text = self.require_setting(params, "system_id").strip()
        if not text.isdigit() or int(text) > 255:
            raise PowerSettingError(
                f"system_id must be the server card number (0-255), not '{text}'.")
        return str(int(text))

    def control(self, params: Mapping[str, Any]) -> str:
        return self.get_setting(params, "power_control")

    # -- IPMI ----------------------------------------------------------------------

    @asynccontextmanager
    async def _workdir(self) -> AsyncIterator[Path]:
        path = Path(tempfile.mkdtemp(prefix="maas-sm15k-", dir=self.tempdir))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    async def ipmi_power(self, params: Mapping[str, Any], mode: str) -> None:
        address, card = self.address(params), self.card(params)
        user = self.get_setting(params, "power_user")
        password = self.get_setting(params, "power_pass")
        if any(ord(char) < 32 or ord(char) == 127 for char in user + password):
            raise PowerSettingError("power_user or power_pass contains a control character.")
        program = self.ipmitool or find_program("ipmitool")
        if program is None:
            raise PowerToolError("ipmitool is not installed (Debian package ipmitool).")
        async with self._workdir() as workdir:
            argv = [program, "-I", "lanplus", "-C", "3", "-H", address.host]
            if address.port is not None:
                argv += ["-p", str(address.port)]
            if user:
                argv += ["-U", user]
            if password:
                write_private(workdir / "password", password + "\n")
                argv += ["-f", str(workdir / "password")]
            else:
                argv += ["-P", ""]
            argv += ["-v", *RAW_POWER, mode, "0", card]
            env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                   "LC_ALL": "C", "HOME": str(workdir)}
            result = await self.runner(self.reactor, argv, env=env, timeout=self.timeout)
        if not result.ok:
            raise classify("ipmitool", result, [password])

    # -- HTTP ------------------------------------------------------------------------

    async def _http(self, method: str, url: str, body: Any = None,
                    content_type: str = "application/json") -> HTTPResponse:
        data = None if body is None else json.dumps(body).encode()
        return await request(
            self.reactor, method, url, body=data,
            headers={"Content-Type": content_type, "Accept": "application/json"},
            timeout=self.request_timeout, connect_timeout=self.connect_timeout,
            clock=self.clock)

    # -- REST v0.9 -----------------------------------------------------------------------

    def _v09_url(self, params: Mapping[str, Any], location: str, *args: str) -> str:
        return f"http://{self.address(params)}/v0.9/{location}?" + "&".join(args)

    async def v09(self, params: Mapping[str, Any], method: str, location: str,
                  *args: str) -> Any:
        """One v0.9 call; its ``result``."""
        response = await self._http(method, self._v09_url(params, location, *args),
                                    content_type="text/json")
        if response.status == 401:
            raise V09Error(f"The chassis refused {location} (HTTP 401).", 401)
        if response.status not in V09_OK:
            raise V09Error(f"The chassis answered HTTP {response.status} to {location}.",
                           response.status)
        data = _json(response, location)
        try:
            code = int(data["error"]["code"])
        except (KeyError, TypeError, ValueError):
            raise PowerActionError(f"The chassis' answer to {location} has no error code.") \
                from None
        if code not in V09_OK:
            raise V09Error(f"The chassis answered {location} with error {code}.", code)
        return data.get("result")

    async def v09_login(self, params: Mapping[str, Any]) -> str:
        user = quote(self.get_setting(params, "power_user"), safe="")
        password = quote(self.get_setting(params, "power_pass"), safe="")
        try:
            token = await self.v09(params, "GET", "login", user, password)
        except V09Error as error:
            if error.code == 401:
                raise PowerAuthError("The chassis refused the user name or password.") from None
            raise
        if not isinstance(token, str) or not token:
            raise PowerActionError("The chassis gave no login token.")
        return quote(token, safe="")

    async def v09_logout(self, params: Mapping[str, Any]) -> None:
        try:
            await self.v09(params, "GET", "logout")
        except PowerError as error:
            self.log.warn("Could not log out of the SeaMicro chassis: {error}", error=str(error))

    @asynccontextmanager
    async def v09_session(self, params: Mapping[str, Any]) -> AsyncIterator[str]:
        token = await self.v09_login(params)
        try:
            yield token
        finally:
            await self.v09_logout(params)

    async def v09_power(self, params: Mapping[str, Any], on: bool) -> None:
        server_id = f"{self.card(params)}/0"
        for attempt in range(V09_LOGIN_TRIES):
            try:
                async with self.v09_session(params) as token:
                    servers = await self.v09(params, "GET", "servers", token)
                    ids = (servers or {}).get("serverId") or {}
                    index = next((i for i, name in ids.items() if name == server_id), None)
                    if index is None:
                        raise PowerSettingError(f"The chassis has no server {server_id}.")
                    action = (["action=Power-On", "using-pxe=true"] if on
                              else ["action=Power-Off", "force=true"])
                    await self.v09(params, "PUT", f"servers/{index}", *action, token)
                return
            except V09Error as error:
                # One login at a time: another session may hold it; try again.
                if error.code != 401 or attempt == V09_LOGIN_TRIES - 1:
                    raise
                await deferLater(self.clock, self.login_wait, lambda: None)

    async def v09_servers(self, params: Mapping[str, Any]) -> list[SM15KServer]:
        async with self.v09_session(params) as token:
            listing = await self.v09(params, "GET", "servers/all", token) or {}
        found = []
        for entry in listing.values():
            if not isinstance(entry, dict) or str(entry.get("serverNIC")) != "0":
                continue  # eight NICs per card; MAAS PXE-boots from NIC 0
            try:
                mac = normalise_mac(str(entry.get("serverMacAddr", "")))
            except ValueError:
                continue
            found.append(SM15KServer(str(entry.get("serverId", "")).split("/")[0], (mac,)))
        return found

    # -- REST v2.0 -----------------------------------------------------------------------

    def _v2_url(self, params: Mapping[str, Any], path: str) -> str:
        return f"http://{self.address(params)}/v2.0{path}"

    async def v2_login(self, params: Mapping[str, Any]) -> str:
        response = await self._http("POST", self._v2_url(params, "/login"), {
            "username": self.get_setting(params, "power_user"),
            "password": self.get_setting(params, "power_pass"),
        })
        if response.status in (401, 403):
            raise PowerAuthError("The chassis refused the user name or password.")
        if response.status not in (200, 201):
            raise PowerActionError(f"The chassis answered HTTP {response.status} to login.")
        token = _json(response, "login")
        if not isinstance(token, str) or "OpaqueRef" not in token:
            raise PowerAuthError("The chassis gave no login token.")
        return token

    async def v2(self, params: Mapping[str, Any], token: str, method: str, path: str,
                 body: dict[str, Any] | None = None) -> Any:
        url = self._v2_url(params, path)
        if method in ("GET", "DELETE"):
            url += "?authtoken=" + quote(token, safe="")
            response = await self._http(method, url)
        else:
            response = await self._http(method, url, {**(body or {}), "authtoken": token})
        if response.status == 401:
            raise PowerAuthError("The chassis refused the login token.")
        if response.status == 404:
            raise PowerSettingError(f"The chassis has no {path}.")
        if response.status >= 400:
            raise PowerActionError(f"The chassis answered HTTP {response.status} to {path}.")
        return _json(response, path) if response.body.strip() else None

    async def v2_power(self, params: Mapping[str, Any], on: bool) -> None:
        token = await self.v2_login(params)
        body = ({"action": "power-on", "using-pxe": True} if on
                else {"action": "power-off", "force": True})
        await self.v2(params, token, "PUT", f"/servers/{self.card(params)}/0", body)

    async def v2_query(self, params: Mapping[str, Any]) -> str:
        token = await self.v2_login(params)
        server = await self.v2(params, token, "GET", f"/servers/{self.card(params)}/0")
        if not isinstance(server, dict) or not isinstance(server.get("active"), bool):
            raise PowerActionError("The chassis did not say whether the server is active.")
        return "on" if server["active"] else "off"

    async def v2_servers(self, params: Mapping[str, Any]) -> list[SM15KServer]:
        token = await self.v2_login(params)
        listing = await self.v2(params, token, "GET", "/servers") or {}
        found = []
        for server_id, server in listing.items():
            nics = (server or {}).get("nic") or {}
            macs = []
            for nic in nics.values():
                try:
                    macs.append(normalise_mac(str((nic or {}).get("macAddr", ""))))
                except ValueError:
                    continue
            if macs:
                found.append(SM15KServer(str(server_id).split("/")[0], tuple(macs)))
        return found

    # -- the driver ------------------------------------------------------------------------

    async def _power(self, params: Mapping[str, Any], on: bool) -> None:
        control = self.control(params)
        if control == "restapi":
            await self.v09_power(params, on)
        elif control == "restapi2":
            await self.v2_power(params, on)
        else:
            await self.ipmi_power(params, IPMI_ON if on else IPMI_OFF)

    async def power_on(self, params: Mapping[str, Any]) -> None:
        await self._power(params, True)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._power(params, False)

    async def power_query(self, params: Mapping[str, Any]) -> str:
        self.card(params)  # a bad setting is an error in every mode
        if self.control(params) == "restapi2":
            return await self.v2_query(params)
        return "unknown"  # 1.8: only REST v2.0 can tell

    async def servers(self, params: Mapping[str, Any]) -> list[SM15KServer]:
        control = self.control(params)
        if control == "restapi":
            return await self.v09_servers(params)
        if control == "restapi2":
            return await self.v2_servers(params)
        try:
            return await self.v2_servers(params)
        except (PowerConnError, PowerSettingError, PowerActionError):
            return await self.v09_servers(params)  # no v2.0 API: try v0.9, as 1.8 did


async def list_machines(
    reactor: Any,
    address: str,
    username: str,
    password: str,
    power_control: str = "ipmi",
    *,
    timeout: float = 300.0,  # noqa: ASYNC109 (enforced with addTimeout)
    clock: Any | None = None,
    **driver_options: Any,
) -> list[SM15KServer]:
    """The servers of a SeaMicro chassis with their MACs, for ``probe_and_enlist_hardware``."""
    if power_control not in CONTROLS:
        raise PowerSettingError(f"power_control must be one of {', '.join(CONTROLS)}.")
    driver = SM15KPowerDriver(reactor, clock=clock, **driver_options)
    params = {"power_address": address, "power_user": username, "power_pass": password,
              "power_control": power_control}
    call = defer.Deferred.fromCoroutine(driver.servers(params))
    call.addTimeout(timeout, clock if clock is not None else reactor)
    try:
        return await call
    except defer.TimeoutError:
        error: PowerError = PowerConnError(f"Listing the servers took longer than {timeout:g} s.")
    except PowerError as failed:
        error = failed.with_message(scrub(str(failed), [password]))
    raise error
