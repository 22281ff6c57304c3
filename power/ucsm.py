"""
The ``ucsm`` power driver: a Cisco UCS server, through UCS Manager's XML API.

The facts (UCS Manager XML API, what MAAS 1.8 sent):

- every method is an XML element POSTed to ``<power_address>/nuova`` (the URL
  joined with ``nuova`` as a relative reference); the answer is an element of
  the same name with ``response="yes"``, and on failure ``errorCode`` and
  ``errorDescr`` attributes;
- ``aaaLogin inName= inPassword=`` → ``outCookie``; every later method carries
  ``cookie=``; ``aaaLogout inCookie=`` frees the session (UCS Manager allows
  only so many; we always log out, even after a failure);
- the server: ``configResolveClass classId="computeItem"`` with
  ``<inFilter><eq class="computeItem" property="uuid" value="UUID"/></inFilter>``
  → ``outConfigs/*`` (a ``computeBlade`` or ``computeRackUnit`` with ``dn``
  and ``assignedToDn``, its service profile);
- its power object: ``configResolveChildren inDn=<assignedToDn>
  classId="lsPower"`` → ``outConfigs/lsPower`` (``dn``, ``state``);
- a change: ``configConfMo dn=<lsPower dn>`` with
  ``<inConfig><lsPower dn=".." state=".."/></inConfig>``.

1.8's semantics: **on** is ``admin-up``, or ``cycle-immediate`` when the
state is already ``up`` (reboot into PXE); **off** is ``admin-down``;
**query** reads ``lsPower.state``: ``up`` → on, ``down`` → off (anything else
is an error).

``power_address`` is a URL (``https://ucsm.example.com/``); a bare
``host[:port]`` means ``http://host[:port]/``.  Certificates are not checked
(UCS Managers ship self-signed ones, and 1.8 did not check either).  A failed
``aaaLogin`` is a :class:`PowerAuthError`; no server with the UUID, or one
without a service profile, a :class:`PowerSettingError`; another
``errorCode`` a :class:`PowerActionError`.

:func:`list_machines` lists the servers with their UUIDs and MACs (children
``adaptorUnit`` of each server, then their ``adaptorHostEthIf`` ``mac``) for
the probe; servers without MACs are left out, as in 1.8.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urljoin, urlsplit

import attrs
from lxml import etree
from twisted.internet import defer

from power.address import AddressError, parse_address
from power.base import PowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
)
from power.http import request
from power.redact import scrub
from power.schema import normalise_mac

#: lsPower states to set, and what the states read mean.
ADMIN_UP, CYCLE_IMMEDIATE, ADMIN_DOWN = "admin-up", "cycle-immediate", "admin-down"
STATES = {"up": "on", "down": "off"}


@attrs.frozen
class UCSMServer:
    dn: str
    uuid: str
    macs: tuple[str, ...]
    service_profile: str


class UCSMError(PowerActionError):
    """UCS Manager answered with an ``errorCode``."""


def api_url(power_address: str) -> str:
    """The ``nuova`` endpoint for power_address (a URL, or a bare host[:port])."""
    text = power_address.strip()
    if "://" not in text:
        try:
            parse_address(text)
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None
        text = f"http://{text}/"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PowerSettingError(
            f"power_address must be an http:// or https:// URL, not '{power_address}'.")
    return urljoin(text, "nuova")


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           load_dtd=False)


def method(name: str, attributes: Mapping[str, str],
           children: list[Any] | None = None) -> bytes:
    """One XML API method call."""
    root = etree.Element(name, dict(attributes))
    for child in children or []:
        root.append(child)
    return etree.tostring(root)


def check(body: bytes, name: str) -> Any:
    """The answer to method name; UCSMError if it carries an ``errorCode``."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        raise PowerActionError(f"UCS Manager's answer to {name} is not XML.") from None
    code = root.get("errorCode")
    if code is not None:
        raise UCSMError(f"UCS Manager refused {name}: {root.get('errorDescr') or ''} "
                        f"(errorCode {code}).")
    if root.tag != name:
        raise PowerActionError(f"UCS Manager answered {name} with <{root.tag}>.")
    return root


class UCSMSession:
    """One logged-in XML API session (a cookie)."""

    def __init__(self, driver: UCSMPowerDriver, url: str) -> None:
        self.driver = driver
        self.url = url
        self.cookie = ""

    async def call(self, name: str, attributes: Mapping[str, str],
                   children: list[Any] | None = None) -> Any:
        driver = self.driver
        response = await request(
            driver.reactor, "POST", self.url, body=method(name, attributes, children),
            headers={"Content-Type": "application/xml"}, timeout=driver.request_timeout,
            connect_timeout=driver.connect_timeout, verify_tls=False, clock=driver.clock)
        if response.status != 200:
            raise PowerActionError(f"UCS Manager answered HTTP {response.status} to {name}.")
        return check(response.body, name)

    async def login(self, user: str, password: str) -> None:
        try:
            answer = await self.call("aaaLogin", {"inName": user, "inPassword": password})
        except UCSMError as error:
            raise PowerAuthError(str(error)) from None
        self.cookie = answer.get("outCookie") or ""
        if not self.cookie:
            raise PowerAuthError("UCS Manager gave no session cookie.")

    async def logout(self) -> None:
        if self.cookie:
            cookie, self.cookie = self.cookie, ""
            await self.call("aaaLogout", {"inCookie": cookie})

    async def resolve_class(self, class_id: str, filters: list[Any] | None = None) -> list[Any]:
        in_filter = etree.Element("inFilter")
        for item in filters or []:
            in_filter.append(item)
        answer = await self.call("configResolveClass", {
            "cookie": self.cookie, "classId": class_id, "inHierarchical": "false",
        }, [in_filter])
        return list(answer.xpath("outConfigs/*"))

    async def resolve_children(self, dn: str, class_id: str) -> list[Any]:
        answer = await self.call("configResolveChildren", {
            "cookie": self.cookie, "inDn": dn, "classId": class_id,
            "inHierarchical": "false",
        })
        return list(answer.xpath("outConfigs/*[local-name() = $c]", c=class_id))

    async def conf_mo(self, dn: str, item: Any) -> None:
        in_config = etree.Element("inConfig")
        in_config.append(item)
        await self.call("configConfMo", {
            "cookie": self.cookie, "dn": dn, "inHierarchical": "false",
        }, [in_config])


class UCSMPowerDriver(PowerDriver):
    """Power a UCS server through its service profile's ``lsPower``."""

    power_type = "ucsm"
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
    async def session(self, params: Mapping[str, Any]) -> AsyncIterator[UCSMSession]:
        """A logged-in session, logged out afterwards whatever happened."""
        session = UCSMSession(self, api_url(self.require_setting(params, "power_address")))
        await session.login(self.get_setting(params, "power_user"),
                            self.get_setting(params, "power_pass"))
        try:
            yield session
        finally:
            try:
                await session.logout()
            except (PowerError, defer.CancelledError) as error:
                self.log.warn("Could not log out of UCS Manager: {error}", error=str(error))

    async def power_control(self, session: UCSMSession, uuid: str) -> Any:
        """The ``lsPower`` element of the server with this UUID."""
        match = etree.Element("eq", {"class": "computeItem", "property": "uuid", "value": uuid})
        servers = await session.resolve_class("computeItem", [match])
        if len(servers) != 1:
            raise PowerSettingError(
                f"UCS Manager has {len(servers) or 'no'} servers with UUID {uuid}.")
        profile = servers[0].get("assignedToDn") or ""
        if not profile:
            raise PowerSettingError(
                f"Server {uuid} is not associated with a service profile.")
        controls = await session.resolve_children(profile, "lsPower")
        if not controls:
            raise PowerActionError(f"Service profile {profile} has no lsPower object.")
        return controls[0]

    async def _change(self, params: Mapping[str, Any], wanted: str) -> None:
        uuid = self.require_setting(params, "uuid").strip()
        async with self.session(params) as session:
            control = await self.power_control(session, uuid)
            state = wanted
            if wanted == ADMIN_UP and control.get("state") == "up":
                state = CYCLE_IMMEDIATE
            dn = control.get("dn") or ""
            await session.conf_mo(dn, etree.Element("lsPower", {"dn": dn, "state": state}))

    async def power_on(self, params: Mapping[str, Any]) -> None:
        await self._change(params, ADMIN_UP)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._change(params, ADMIN_DOWN)

    async def power_query(self, params: Mapping[str, Any]) -> str:
        uuid = self.require_setting(params, "uuid").strip()
        async with self.session(params) as session:
            state = (await self.power_control(session, uuid)).get("state") or ""
        if state not in STATES:
            raise PowerActionError(f"Server {uuid} is in an unknown power state: '{state}'.")
        return STATES[state]

    async def servers(self, params: Mapping[str, Any]) -> list[UCSMServer]:
        """Every server with at least one MAC address."""
        found = []
        async with self.session(params) as session:
            for server in await session.resolve_class("computeItem"):
                dn = server.get("dn") or ""
                macs: list[str] = []
                for adaptor in await session.resolve_children(dn, "adaptorUnit"):
                    for nic in await session.resolve_children(
                            adaptor.get("dn") or "", "adaptorHostEthIf"):
                        try:
                            macs.append(normalise_mac(nic.get("mac") or ""))
                        except ValueError:
                            continue
                if macs:
                    found.append(UCSMServer(dn, server.get("uuid") or "", tuple(macs),
                                            server.get("assignedToDn") or ""))
        return found


async def list_machines(
    reactor: Any,
    url: str,
    username: str,
    password: str,
    *,
    timeout: float = 300.0,  # noqa: ASYNC109 (enforced with addTimeout)
    clock: Any | None = None,
    **driver_options: Any,
) -> list[UCSMServer]:
    """The servers UCS Manager manages (UUIDs, MACs), for ``probe_and_enlist_hardware``."""
    driver = UCSMPowerDriver(reactor, clock=clock, **driver_options)
    params = {"power_address": url, "power_user": username, "power_pass": password}
    call = defer.Deferred.fromCoroutine(driver.servers(params))
    call.addTimeout(timeout, clock if clock is not None else reactor)
    try:
        return await call
    except defer.TimeoutError:
        error: PowerError = PowerConnError(f"Listing the servers took longer than {timeout:g} s.")
    except PowerError as failed:
        error = failed.with_message(scrub(str(failed), [password]))
    raise error
