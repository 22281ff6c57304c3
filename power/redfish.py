"""
The ``redfish`` power driver (beyond MAAS 1.8): any BMC that speaks DMTF Redfish.

The facts (DMTF DSP0266 Redfish and the ``ComputerSystem`` schema):

- the service root ``/redfish/v1/`` links ``Systems`` (a collection whose
  ``Members`` are ``{"@odata.id": path}``); a system has ``PowerState``
  (``On``, ``Off``, ``PoweringOn``, ``PoweringOff``), ``Boot`` and
  ``Actions["#ComputerSystem.Reset"].target`` (plus, optionally,
  ``ResetType@Redfish.AllowableValues``);
- ``POST <target>`` ``{"ResetType": "On" | "ForceOff" | "GracefulShutdown" |
  "ForceRestart"}`` changes the power;
- ``PATCH <system>`` ``{"Boot": {"BootSourceOverrideTarget": "Pxe",
  "BootSourceOverrideEnabled": "Once"}}`` makes the next boot a PXE boot
  (with ``If-Match`` when the system carries an ETag, which some BMCs demand);
- authentication is HTTP Basic, or a session: ``POST
  /redfish/v1/SessionService/Sessions`` ``{"UserName", "Password"}`` → the
  ``X-Auth-Token`` header for later requests and a ``Location`` to ``DELETE``
  at the end;
- errors come as ``{"error": {"message", "@Message.ExtendedInfo": [...]}}``.

The driver's semantics follow 1.8's IPMI driver:

- **on**: next boot PXE (once), then ``On``, or ``ForceRestart`` if the
  system is already on (``ForceOff`` + ``On`` if the BMC offers no restart);
- **off**: ``ForceOff`` (``GracefulShutdown`` when ``power_off_mode`` is
  ``soft``), nothing if it is already off;
- **query**: ``On``/``PoweringOff`` → on, ``Off``/``PoweringOn`` → off, no
  ``PowerState`` → unknown.

Settings: ``power_address`` (``host``, ``host:port``, ``[v6]:port``),
``power_user``, ``power_pass`` (secret), ``node_id`` (the system's id in
``/redfish/v1/Systems/<id>``, or a full ``/redfish/v1/...`` path; empty means
"the only system", an error if there are several), ``power_protocol``
(``https`` by default), ``power_auth`` (``basic`` or ``session``) and
``power_verify_tls`` — **off by default**, because BMCs ship self-signed
certificates; turn it on where BMCs have certificates the cluster trusts.

Redirects (a 307 from an alias to the canonical system URL) are followed
within the same scheme, host and port only, so credentials never leave the BMC.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from power.address import AddressError, parse_address
from power.base import PowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerError,
    PowerSettingError,
)
from power.http import BasicAuth, HTTPResponse, request

ROOT = "/redfish/v1/"
SESSIONS = "/redfish/v1/SessionService/Sessions"
ON_STATES = frozenset({"On", "PoweringOff"})
OFF_STATES = frozenset({"Off", "PoweringOn"})
MAX_REDIRECTS = 3


def error_message(response: HTTPResponse) -> str:
    """The most specific message in a Redfish error body, else the status."""
    try:
        error = json.loads(response.body).get("error") or {}
    except (ValueError, AttributeError):
        return f"HTTP {response.status}"
    for info in error.get("@Message.ExtendedInfo") or []:
        if isinstance(info, dict) and info.get("Message"):
            return f"HTTP {response.status}: {info['Message']}"
    return f"HTTP {response.status}: {error.get('message') or error.get('code') or ''}".rstrip(": ")


class RedfishClient:
    """Requests to one BMC, with its authentication."""

    def __init__(self, driver: RedfishPowerDriver, params: Mapping[str, Any]) -> None:
        self.driver = driver
        try:
            address = parse_address(driver.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None
        self.base = f"{driver.get_setting(params, 'power_protocol')}://{address}"
        self.verify_tls = driver.get_setting(params, "power_verify_tls") == "yes"
        self.user = driver.get_setting(params, "power_user")
        self.password = driver.get_setting(params, "power_pass")
        self.basic: BasicAuth | None = BasicAuth(self.user, self.password)
        self.token: str | None = None

    async def call(self, method: str, path: str, body: Any = None,
                   headers: Mapping[str, str] | None = None) -> HTTPResponse:
        """One request (redirects on the same origin followed); errors raised."""
        url = urljoin(self.base, path)
        sent = {"Accept": "application/json", "OData-Version": "4.0", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.token is not None:
            sent["X-Auth-Token"] = self.token
        driver = self.driver
        for _ in range(MAX_REDIRECTS + 1):
            response = await request(
                driver.reactor, method, url, headers=sent, body=data,
                auth=self.basic if self.token is None else None,
                timeout=driver.request_timeout, connect_timeout=driver.connect_timeout,
                verify_tls=self.verify_tls, clock=driver.clock)
            location = response.header("location")
            if response.status in (301, 302, 303, 307, 308) and location:
                target = urljoin(url, location)
                here, there = urlsplit(url), urlsplit(target)
                if (here.scheme, here.netloc) != (there.scheme, there.netloc):
                    raise PowerActionError(f"The BMC redirected {path} to another host.")
                url = target
                continue
            break
        if response.status in (401, 403):
            raise PowerAuthError(f"The BMC refused the credentials for {path} "
                                 f"({error_message(response)}).")
        if response.status == 404:
            raise PowerSettingError(f"The BMC has no {urlsplit(url).path}.")
        if not 200 <= response.status < 300:
            raise PowerActionError(f"The BMC failed {method} {urlsplit(url).path}: "
                                   f"{error_message(response)}.")
        return response

    async def get(self, path: str) -> tuple[dict[str, Any], HTTPResponse]:
        response = await self.call("GET", path)
        try:
            document = json.loads(response.body)
        except ValueError:
            raise PowerActionError(f"The BMC's {path} is not JSON.") from None
        if not isinstance(document, dict):
            raise PowerActionError(f"The BMC's {path} is not a JSON object.")
        return document, response

    @asynccontextmanager
    async def session(self) -> AsyncIterator[RedfishClient]:
        """A Redfish session (X-Auth-Token), deleted afterwards."""
        response = await self.call("POST", SESSIONS, {"UserName": self.user,
                                                      "Password": self.password})
        token, location = response.header("x-auth-token"), response.header("location")
        if not token:
            raise PowerAuthError("The BMC created a session without an X-Auth-Token.")
        self.token, self.basic = token, None
        try:
            yield self
        finally:
            if location:
                try:
                    await self.call("DELETE", location)
                except PowerError as error:
                    self.driver.log.warn("Could not delete the Redfish session: {error}",
                                         error=str(error))
            self.token = None


def _link(document: Mapping[str, Any], name: str) -> str | None:
    value = document.get(name)
    if isinstance(value, dict) and isinstance(value.get("@odata.id"), str):
        return str(value["@odata.id"])
    return None


class RedfishPowerDriver(PowerDriver):
    """Power a server through its Redfish service."""

    power_type = "redfish"
    queryable = True

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout

    @asynccontextmanager
    async def client(self, params: Mapping[str, Any]) -> AsyncIterator[RedfishClient]:
        client = RedfishClient(self, params)
        if self.get_setting(params, "power_auth") == "session":
            async with client.session():
                yield client
        else:
            yield client

    async def system_path(self, client: RedfishClient, params: Mapping[str, Any]) -> str:
        node_id = self.get_setting(params, "node_id").strip()
        if node_id.startswith("/redfish/"):
            return node_id
        root, _ = await client.get(ROOT)
        systems = _link(root, "Systems") or "/redfish/v1/Systems"
        if node_id:
            return systems.rstrip("/") + "/" + quote(node_id, safe="")
        collection, _ = await client.get(systems)
        members = [m.get("@odata.id") for m in collection.get("Members") or []
                   if isinstance(m, dict) and m.get("@odata.id")]
        if len(members) != 1:
            raise PowerSettingError(
                f"The BMC has {len(members)} systems: set node_id to one of "
                f"{', '.join(str(m).rsplit('/', 1)[-1] for m in members) or '(none)'}.")
        return str(members[0])

    @staticmethod
    def reset_target(system: Mapping[str, Any], path: str) -> tuple[str, list[str] | None]:
        action = (system.get("Actions") or {}).get("#ComputerSystem.Reset") or {}
        target = action.get("target") or path.rstrip("/") + "/Actions/ComputerSystem.Reset"
        allowed = action.get("ResetType@Redfish.AllowableValues")
        return str(target), list(allowed) if isinstance(allowed, list) else None

    async def reset(self, client: RedfishClient, system: Mapping[str, Any], path: str,
                    *kinds: str) -> None:
        """Reset with the first kind the BMC allows (or the first, if it does not say)."""
        target, allowed = self.reset_target(system, path)
        kind = next((k for k in kinds if allowed is None or k in allowed), None)
        if kind is None:
            raise PowerActionError(f"The BMC allows none of {', '.join(kinds)} "
                                   f"(it allows {', '.join(allowed or [])}).")
        await client.call("POST", target, {"ResetType": kind})

    async def power_on(self, params: Mapping[str, Any]) -> None:
        async with self.client(params) as client:
            path = await self.system_path(client, params)
            system, response = await client.get(path)
            etag = response.header("etag") or system.get("@odata.etag")
            await client.call("PATCH", path, {"Boot": {
                "BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once",
            }}, headers={"If-Match": str(etag)} if etag else None)
            if system.get("PowerState") in ON_STATES:
                _, allowed = self.reset_target(system, path)
                if allowed is None or "ForceRestart" in allowed:
                    await self.reset(client, system, path, "ForceRestart")
                else:
                    await self.reset(client, system, path, "ForceOff")
                    await self.reset(client, system, path, "On")
            else:
                await self.reset(client, system, path, "On")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        soft = str(params.get("power_off_mode") or "") == "soft"
        async with self.client(params) as client:
            path = await self.system_path(client, params)
            system, _ = await client.get(path)
            if system.get("PowerState") == "Off":
                return
            await self.reset(client, system, path,
                             *(("GracefulShutdown",) if soft else ("ForceOff",)))

    async def power_query(self, params: Mapping[str, Any]) -> str:
        async with self.client(params) as client:
            system, _ = await client.get(await self.system_path(client, params))
        state = system.get("PowerState")
        if state in ON_STATES:
            return "on"
        if state in OFF_STATES:
            return "off"
        if state is None:
            return "unknown"
        raise PowerActionError(f"The BMC reported an unknown PowerState: {state!r}.")
