"""
The ``amt`` power driver: Intel AMT over WS-Management (SOAP 1.2 on HTTP, Digest auth).

MAAS 1.8 ran ``amttool`` for AMT 8 and older and ``wsman`` (openwsman's CLI)
for newer firmware; neither is usable here, so this driver speaks
WS-Management itself (DMTF DSP0226, the CIM profiles AMT implements), which
every AMT since version 6 answers.  The facts it uses:

- endpoint ``http://HOST:16992/wsman`` (``https`` on 16993, certificate not
  checked, as 1.8's ``--noverifypeer``); ``power_address`` may be
  ``host:port``; without it, ``ip_address`` (the cluster's ARP lookup of
  ``mac_address``) is used, as in 1.8;
- user ``admin`` (1.8's only user), password ``power_pass``, HTTP Digest;
- **query**: ``Enumerate`` (optimized, then ``Pull`` while needed)
  ``CIM_AssociatedPowerManagementService``; its ``PowerState`` 2, 3, 4, 5, 7,
  9, 10, 14, 15, 16 is on, 6, 8, 12, 13 is off (1.8's table);
- **on**: set the next boot to PXE (``ChangeBootOrder`` of
  ``CIM_BootConfigSetting`` "Intel(r) AMT: Boot Configuration 0" to the source
  "Intel(r) AMT: Force PXE Boot", then ``SetBootConfigRole`` role 1 on
  ``CIM_BootService``), then ``RequestPowerStateChange`` on
  ``CIM_PowerManagementService`` with ``PowerState`` 10 (master bus reset)
  if the node is on, else 2 (on); then query until it is on;
- **off**: if it is not off, ``RequestPowerStateChange`` 8, then query until
  it is off.

1.8 waited about a second between the queries that follow a change and tried
ten or so times; so do we (:data:`SETTLE_WAITS`), all within the driver's
timeout.  A second 401 is a :class:`PowerAuthError`; a SOAP fault is an action
error (``AccessDenied`` is an auth error); a ``ReturnValue`` other than 0 is an
action error naming the CIM meaning.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from twisted.internet.task import deferLater

from power import soap
from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.errors import PowerActionError, PowerAuthError, PowerSettingError
from power.http import DigestAuth, request

HTTP_PORT = 16992
HTTPS_PORT = 16993
USER = "admin"

WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSEN = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
CIM = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
ANONYMOUS = WSA + "/role/anonymous"

POWER_SERVICE = CIM + "CIM_PowerManagementService"
ASSOCIATED_POWER = CIM + "CIM_AssociatedPowerManagementService"
BOOT_CONFIG = CIM + "CIM_BootConfigSetting"
BOOT_SOURCE = CIM + "CIM_BootSourceSetting"
BOOT_SERVICE = CIM + "CIM_BootService"
COMPUTER_SYSTEM = CIM + "CIM_ComputerSystem"

POWER_SERVICE_SELECTORS = {
    "SystemCreationClassName": "CIM_ComputerSystem",
    "SystemName": "Intel(r) AMT",
    "CreationClassName": "CIM_PowerManagementService",
    "Name": "Intel(r) AMT Power Management Service",
}
BOOT_SERVICE_SELECTORS = {
    "SystemCreationClassName": "CIM_ComputerSystem",
    "SystemName": "Intel(r) AMT",
    "CreationClassName": "CIM_BootService",
    "Name": "Intel(r) AMT Boot Service",
}
BOOT_CONFIG_ID = "Intel(r) AMT: Boot Configuration 0"
PXE_SOURCE_ID = "Intel(r) AMT: Force PXE Boot"

#: RequestPowerStateChange's PowerState values.
POWER_ON, POWER_OFF, POWER_RESTART = "2", "8", "10"

ON_STATES = frozenset({"2", "3", "4", "5", "7", "9", "10", "14", "15", "16"})
OFF_STATES = frozenset({"6", "8", "12", "13"})

#: What a CIM method's ReturnValue means.
RETURN_VALUES = {
    "1": "Not Supported", "2": "Unknown or Unspecified Error",
    "3": "Cannot complete within Timeout Period", "4": "Failed", "5": "Invalid Parameter",
    "6": "In Use", "4096": "Job started",
}

#: Seconds between the queries after a change, until the node reports the new state.
SETTLE_WAITS: tuple[float, ...] = (1.0,) * 10


def power_state(value: str) -> str:
    """MAAS's state for a CIM PowerState value."""
    if value in ON_STATES:
        return "on"
    if value in OFF_STATES:
        return "off"
    raise PowerActionError(f"AMT reported an unknown power state: {value!r}.")


def _selector_set(parent: Any, selectors: Mapping[str, str]) -> None:
    selector_set = soap.sub(parent, WSMAN, "SelectorSet")
    for name, value in selectors.items():
        soap.sub(selector_set, WSMAN, "Selector", value, {"Name": name})


def _reference(parent: Any, resource_uri: str, selectors: Mapping[str, str]) -> None:
    """An endpoint reference (Address + ReferenceParameters) inside parent."""
    soap.sub(parent, WSA, "Address", ANONYMOUS)
    parameters = soap.sub(parent, WSA, "ReferenceParameters")
    soap.sub(parameters, WSMAN, "ResourceURI", resource_uri)
    _selector_set(parameters, selectors)


def envelope(url: str, action: str, resource_uri: str, body: list[Any],
             selectors: Mapping[str, str] | None = None) -> bytes:
    """A WS-Management request."""
    must = {soap.qname(soap.SOAP12, "mustUnderstand"): "true"}
    header = [
        soap.element(WSA, "Action", action, must),
        soap.element(WSA, "To", url, must),
        soap.element(WSMAN, "ResourceURI", resource_uri, must),
        soap.element(WSA, "MessageID", f"uuid:{uuid.uuid4()}", must),
    ]
    reply_to = soap.element(WSA, "ReplyTo")
    soap.sub(reply_to, WSA, "Address", ANONYMOUS)
    header.append(reply_to)
    header.append(soap.element(WSMAN, "OperationTimeout", "PT60S"))
    if selectors:
        holder = soap.element(WSMAN, "Holder")
        _selector_set(holder, selectors)
        header.append(holder[0])
    return soap.envelope(body, header=header, version=soap.SOAP12,
                         nsmap={"wsa": WSA, "wsman": WSMAN, "wsen": WSEN})


class AMTPowerDriver(PowerDriver):
    """
    Power a node through its Intel AMT management engine.

    :param settle_waits: seconds between the queries that follow a change
        (tests make them short).
    :param connect_timeout: seconds for each TCP connect.
    :param request_timeout: seconds for each WS-Management exchange.
    """

    power_type = "amt"
    queryable = True
    default_timeout = 120.0  # a change and its settling queries

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        settle_waits: tuple[float, ...] = SETTLE_WAITS,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.settle_waits = settle_waits
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout

    # -- the target --------------------------------------------------------------

    def address(self, params: Mapping[str, Any]) -> NetworkAddress:
        text = self.get_setting(params, "power_address") or str(params.get("ip_address") or "")
        if not text:
            raise PowerSettingError(
                "The power parameter power_address (Power address) is not set, "
                "and no IP address is known for the MAC address."
            )
        try:
            return parse_address(text)
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None

    @staticmethod
    def url(address: NetworkAddress) -> str:
        port = address.port or HTTP_PORT
        scheme = "https" if port == HTTPS_PORT else "http"
        host = f"[{address.host}]" if address.is_ipv6 else address.host
        return f"{scheme}://{host}:{port}/wsman"

    # -- WS-Management -------------------------------------------------------------

    async def _wsman(self, url: str, auth: DigestAuth, data: bytes) -> Any:
        response = await request(
            self.reactor, "POST", url, body=data, auth=auth,
            headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
            timeout=self.request_timeout, connect_timeout=self.connect_timeout,
            verify_tls=False, clock=self.clock,
        )
        if response.status == 401:
            raise PowerAuthError("AMT refused the password for user admin (HTTP 401).")
        try:
            return soap.payload(response.body)
        except soap.SOAPFault as fault:
            if fault.mentions("AccessDenied"):
                raise PowerAuthError(f"AMT denied access: {fault}") from None
            raise PowerActionError(f"AMT answered with a fault: {fault}") from None
        except soap.SOAPError as error:
            raise PowerActionError(
                f"AMT answered HTTP {response.status} without a usable SOAP body: {error}"
            ) from None

    async def _invoke(self, url: str, auth: DigestAuth, resource_uri: str,
                      selectors: Mapping[str, str], method: str, body: Any) -> None:
        result = await self._wsman(url, auth, envelope(
            url, f"{resource_uri}/{method}", resource_uri, [body], selectors))
        value = soap.child_text(result, "ReturnValue", default="")
        if value != "0":
            meaning = RETURN_VALUES.get(value, "no ReturnValue" if not value else "")
            raise PowerActionError(f"AMT {method} returned {value or '?'} ({meaning}).")

    async def read_power_state(self, url: str, auth: DigestAuth) -> str:
        """The raw CIM PowerState, by enumerating CIM_AssociatedPowerManagementService."""
        enumerate_ = soap.element(WSEN, "Enumerate")
        soap.sub(enumerate_, WSMAN, "OptimizeEnumeration")
        soap.sub(enumerate_, WSMAN, "MaxElements", "10")
        result = await self._wsman(url, auth, envelope(
            url, f"{WSEN}/Enumerate", ASSOCIATED_POWER, [enumerate_]))
        for _ in range(20):
            states = soap.descendants(result, "PowerState")
            if states and states[0].text:
                return str(states[0].text).strip()
            context = soap.child_text(result, "EnumerationContext")
            if not context or soap.descendants(result, "EndOfSequence"):
                break
            pull = soap.element(WSEN, "Pull")
            soap.sub(pull, WSEN, "EnumerationContext", context)
            soap.sub(pull, WSEN, "MaxElements", "10")
            result = await self._wsman(url, auth, envelope(
                url, f"{WSEN}/Pull", ASSOCIATED_POWER, [pull]))
        raise PowerActionError("AMT listed no power state.")

    async def set_pxe_boot(self, url: str, auth: DigestAuth) -> None:
        """Make the next boot (only) a PXE boot."""
        change = soap.element(BOOT_CONFIG, "ChangeBootOrder_INPUT", nsmap={"p": BOOT_CONFIG})
        _reference(soap.sub(change, BOOT_CONFIG, "Source"), BOOT_SOURCE,
                   {"InstanceID": PXE_SOURCE_ID})
        await self._invoke(url, auth, BOOT_CONFIG, {"InstanceID": BOOT_CONFIG_ID},
                           "ChangeBootOrder", change)
        role = soap.element(BOOT_SERVICE, "SetBootConfigRole_INPUT", nsmap={"p": BOOT_SERVICE})
        _reference(soap.sub(role, BOOT_SERVICE, "BootConfigSetting"), BOOT_CONFIG,
                   {"InstanceID": BOOT_CONFIG_ID})
        soap.sub(role, BOOT_SERVICE, "Role", "1")
        await self._invoke(url, auth, BOOT_SERVICE, BOOT_SERVICE_SELECTORS,
                           "SetBootConfigRole", role)

    async def request_power_state(self, url: str, auth: DigestAuth, state: str) -> None:
        change = soap.element(POWER_SERVICE, "RequestPowerStateChange_INPUT",
                              nsmap={"p": POWER_SERVICE})
        soap.sub(change, POWER_SERVICE, "PowerState", state)
        _reference(soap.sub(change, POWER_SERVICE, "ManagedElement"), COMPUTER_SYSTEM,
                   {"CreationClassName": "CIM_ComputerSystem", "Name": "ManagedSystem"})
        await self._invoke(url, auth, POWER_SERVICE, POWER_SERVICE_SELECTORS,
                           "RequestPowerStateChange", change)

    async def _settle(self, url: str, auth: DigestAuth, wanted: str) -> None:
        state = ""
        for wait in self.settle_waits:
            state = power_state(await self.read_power_state(url, auth))
            if state == wanted:
                return
            await deferLater(self.clock, wait, lambda: None)
        raise PowerActionError(f"The node did not power {wanted} (it reports {state or '?'}).")

    # -- the driver --------------------------------------------------------------

    def _target(self, params: Mapping[str, Any]) -> tuple[str, DigestAuth]:
        return self.url(self.address(params)), DigestAuth(
            USER, self.get_setting(params, "power_pass"))

    async def power_query(self, params: Mapping[str, Any]) -> str:
        url, auth = self._target(params)
        return power_state(await self.read_power_state(url, auth))

    async def power_on(self, params: Mapping[str, Any]) -> None:
        url, auth = self._target(params)
        was_on = power_state(await self.read_power_state(url, auth)) == "on"
        await self.set_pxe_boot(url, auth)
        await self.request_power_state(url, auth, POWER_RESTART if was_on else POWER_ON)
        await self._settle(url, auth, "on")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        url, auth = self._target(params)
        if power_state(await self.read_power_state(url, auth)) == "off":
            return
        await self.request_power_state(url, auth, POWER_OFF)
        await self._settle(url, auth, "off")
