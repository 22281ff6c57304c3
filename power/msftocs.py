"""
The ``msftocs`` power driver: a blade of a Microsoft Open CloudServer chassis, via its manager.

The facts (the Chassis Manager's REST API, what MAAS 1.8 called):

- ``GET http://HOST:PORT/<Command>?bladeid=N`` with HTTP Basic credentials;
  the port is 8000 unless ``power_port`` (or ``power_address`` as
  ``host:port``, which wins) says otherwise;
- every answer is an XML document in the namespace
  ``http://schemas.datacontract.org/2004/07/Microsoft.GFS.WCS.Contracts``
  (``BladeStateResponse``, ``BladeResponse``, ``BootResponse``,
  ``ChassisInfoResponse``, ``BladeInfoResponse``) with a ``completionCode``
  (``Success``, or ``Failure``, ``Timeout``, ``Unknown``,
  ``ParameterOutOfRange``... ) and a ``statusDescription``;
- ``GetBladeState`` → ``bladeState`` ``ON``/``OFF`` (compared without case);
- ``SetBladeOn`` / ``SetBladeOff`` switch the blade;
- ``SetNextBoot?bladeid=N&bootType=T&uefi=false&persistent=P`` sets the boot
  device: ``bootType`` 2 is PXE (``nextBoot`` ``ForcePxe``), 3 the hard disk;
- ``GetChassisInfo`` lists the blades (``bladeCollections/BladeInfo`` with
  ``bladeNumber``); ``GetBladeInfo?bladeid=N`` gives a blade's NICs
  (``bladeMacAddress/NicInfo/macAddress``, empty for absent NICs).

1.8's semantics:

- **on**: if the blade is on, ``SetBladeOff``; then the persistent boot
  device becomes the hard disk (``bootType=3&persistent=true``), the next boot
  (only) PXE (``bootType=2&persistent=false``), then ``SetBladeOn``;
- **off**: ``SetBladeOff``;
- **query**: ``GetBladeState``.

A 401 is a :class:`PowerAuthError`; a ``completionCode`` other than
``Success`` a retryable :class:`PowerActionError` (``ParameterOutOfRange``:
a :class:`PowerSettingError`); connection failures and timeouts
:class:`PowerConnError`.  :func:`list_machines` lists the blades and their
MACs for the probe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import attrs
from lxml import etree
from twisted.internet import defer

from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.errors import (
    PowerActionError,
    PowerAuthError,
    PowerConnError,
    PowerError,
    PowerSettingError,
)
from power.http import BasicAuth, request
from power.redact import scrub
from power.schema import normalise_mac

NS = "http://schemas.datacontract.org/2004/07/Microsoft.GFS.WCS.Contracts"
DEFAULT_PORT = 8000
BOOT_PXE, BOOT_HDD = "2", "3"
MAX_BLADE = 48


@attrs.frozen
class Blade:
    blade_id: str
    name: str
    macs: tuple[str, ...]


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           load_dtd=False)


def _find(root: Any, path: str) -> Any:
    """The elements at path (``a/b``), in the contracts namespace or in none."""
    for namespace in (NS, None):
        steps = "/".join(f"{{{namespace}}}{step}" if namespace else step
                         for step in path.split("/"))
        found = root.findall(f".//{steps}")
        if found:
            return found
    return []


def _text(root: Any, name: str) -> str:
    found = _find(root, name)
    return (found[0].text or "").strip() if found else ""


def parse(body: bytes, command: str) -> Any:
    """The response document, checked: PowerError unless ``completionCode`` is Success."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        raise PowerActionError(f"The chassis manager's answer to {command} is not XML.") from None
    code = _text(root, "completionCode")
    if code.lower() == "success":
        return root
    detail = _text(root, "statusDescription")
    message = (f"The chassis manager answered {command} with {code or 'no completionCode'}"
               f"{': ' + detail if detail else ''}.")
    if code == "ParameterOutOfRange":
        raise PowerSettingError(message)
    raise PowerActionError(message)


class MicrosoftOCSPowerDriver(PowerDriver):
    """Power an OCS blade through the chassis manager."""

    power_type = "msftocs"
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

    # -- settings --------------------------------------------------------------------

    def address(self, params: Mapping[str, Any]) -> NetworkAddress:
        try:
            address = parse_address(self.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None
        if address.port is not None:
            return address
        text = self.get_setting(params, "power_port").strip()
        if not text:
            return NetworkAddress(address.host, DEFAULT_PORT)
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            raise PowerSettingError(f"power_port must be a TCP port number, not '{text}'.")
        return NetworkAddress(address.host, int(text))

    def blade(self, params: Mapping[str, Any]) -> str:
        text = self.require_setting(params, "blade_id").strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_BLADE:
            raise PowerSettingError(
                f"blade_id must be a blade number from 1 to {MAX_BLADE}, not '{text}'.")
        return str(int(text))

    # -- the API ---------------------------------------------------------------------

    async def call(self, params: Mapping[str, Any], command: str,
                   query: Mapping[str, str] | None = None) -> Any:
        """``GET /command?query``; the checked response document."""
        url = f"http://{self.address(params)}/{command}"
        if query:
            url += "?" + urlencode(query)
        auth = BasicAuth(self.get_setting(params, "power_user"),
                         self.get_setting(params, "power_pass"))
        response = await request(
            self.reactor, "GET", url, auth=auth, timeout=self.request_timeout,
            connect_timeout=self.connect_timeout, clock=self.clock)
        if response.status == 401:
            raise PowerAuthError("The chassis manager refused the user name or password "
                                 "(HTTP 401).")
        if response.status != 200:
            raise PowerActionError(
                f"The chassis manager answered HTTP {response.status} to {command}.")
        return parse(response.body, command)

    async def blade_state(self, params: Mapping[str, Any], blade: str) -> str:
        root = await self.call(params, "GetBladeState", {"bladeid": blade})
        state = _text(root, "bladeState").lower()
        if state not in ("on", "off"):
            raise PowerActionError(f"Blade {blade} is in an unknown power state: '{state}'.")
        return state

    async def set_next_boot(self, params: Mapping[str, Any], blade: str, boot_type: str,
                            *, persistent: bool) -> None:
        await self.call(params, "SetNextBoot", {
            "bladeid": blade, "bootType": boot_type, "uefi": "false",
            "persistent": "true" if persistent else "false",
        })

    # -- the driver -------------------------------------------------------------------

    async def power_on(self, params: Mapping[str, Any]) -> None:
        blade = self.blade(params)
        if await self.blade_state(params, blade) == "on":
            await self.call(params, "SetBladeOff", {"bladeid": blade})
        await self.set_next_boot(params, blade, BOOT_HDD, persistent=True)
        await self.set_next_boot(params, blade, BOOT_PXE, persistent=False)
        await self.call(params, "SetBladeOn", {"bladeid": blade})

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self.call(params, "SetBladeOff", {"bladeid": self.blade(params)})

    async def power_query(self, params: Mapping[str, Any]) -> str:
        return await self.blade_state(params, self.blade(params))

    async def blades(self, params: Mapping[str, Any]) -> list[Blade]:
        """Every blade the chassis lists that has at least one MAC address."""
        info = await self.call(params, "GetChassisInfo")
        found = []
        for blade_info in _find(info, "bladeCollections/BladeInfo"):
            number = _text(blade_info, "bladeNumber")
            if not number.isdigit():
                continue
            details = await self.call(params, "GetBladeInfo", {"bladeid": number})
            macs = []
            for text in (element.text for element in _find(details, "macAddress")):
                if text and text.strip():
                    try:
                        macs.append(normalise_mac(text))
                    except ValueError:
                        continue
            if macs:
                found.append(Blade(number, _text(blade_info, "bladeName"), tuple(macs)))
        return found


async def list_machines(
    reactor: Any,
    address: str,
    port: str | int,
    username: str,
    password: str,
    *,
    timeout: float = 300.0,  # noqa: ASYNC109 (enforced with addTimeout)
    clock: Any | None = None,
    **driver_options: Any,
) -> list[Blade]:
    """The blades behind a chassis manager (with their MACs), for ``probe_and_enlist_hardware``."""
    driver = MicrosoftOCSPowerDriver(reactor, clock=clock, **driver_options)
    params = {"power_address": address, "power_port": str(port or ""),
              "power_user": username, "power_pass": password}
    call = defer.Deferred.fromCoroutine(driver.blades(params))
    call.addTimeout(timeout, clock if clock is not None else reactor)
    try:
        return await call
    except defer.TimeoutError:
        error: PowerError = PowerConnError(f"Listing the blades took longer than {timeout:g} s.")
    except PowerError as failed:
        error = failed.with_message(scrub(str(failed), [password]))
    raise error
