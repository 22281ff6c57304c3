"""
The ``apc`` power driver: one outlet of an APC switched rack PDU, over SNMP v1.

The facts (APC PowerNet MIB, what MAAS 1.8's template did with
``snmpset``/``snmpget -v1``):

- the object is ``rPDUOutletControlOutletCommand``,
  ``.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.<outlet>`` (INTEGER: 1 immediateOn,
  2 immediateOff, 3 immediateReboot; a GET reads 1 on, 2 off);
- **on**: SET 2 (off), wait ``power_on_delay`` seconds (default 5), SET 1
  (on) — so a node that was on reboots, and one that was off starts;
- **off**: SET 2;
- **query**: GET; 1 → on, 2 → off.  1.8 did not poll ``apc`` (it is not in
  ``QUERY_POWER_TYPES``), so the driver is not ``queryable``;
  :meth:`APCPowerDriver.power_query` is there for callers that want it.

SETs go with the community ``private`` and GETs with ``public`` (the PDU's
factory read-write and read-only communities); both can be changed per driver.
``power_address`` is ``host``, ``host:port`` or ``[v6]:port`` (UDP port 161
unless given).  ``node_outlet`` must be a number from 1 to 64 (the 1.8 label
says 1-16; larger PDUs exist).  ``power_on_delay`` must be a number of
seconds from 0 to :data:`MAX_ON_DELAY`.

Every SNMP request waits 2 s for an answer and is sent 3 times at most; the
whole call is bounded by the driver's timeout (90 s by default, which covers
two requests and the longest delay).  The wait runs on the injected clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.task import deferLater

from power import snmp
from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.errors import PowerActionError, PowerSettingError

OUTLET_COMMAND_OID = ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"
IMMEDIATE_ON, IMMEDIATE_OFF = 1, 2
STATES = {1: "on", 2: "off"}
MAX_OUTLET = 64
MAX_ON_DELAY = 60.0


def outlet_oid(outlet: int) -> str:
    return f"{OUTLET_COMMAND_OID}.{outlet}"


class APCPowerDriver(PowerDriver):
    """
    Switch an APC PDU outlet with SNMP.

    :param set_community: community for SETs (``private``).
    :param get_community: community for GETs (``public``).
    :param snmp_timeout: seconds per SNMP try (2).
    :param snmp_retries: extra tries per SNMP request (2).
    """

    power_type = "apc"
    queryable = False  # 1.8: not in QUERY_POWER_TYPES
    default_timeout = 90.0

    def __init__(
        self,
        reactor: Any,
        *,
        clock: Any | None = None,
        timeout: float | None = None,
        set_community: str = "private",
        get_community: str = "public",
        snmp_timeout: float = snmp.TIMEOUT,
        snmp_retries: int = snmp.RETRIES,
    ) -> None:
        super().__init__(reactor, clock=clock, timeout=timeout)
        self.set_community = set_community
        self.get_community = get_community
        self.snmp_timeout = snmp_timeout
        self.snmp_retries = snmp_retries

    # -- settings ----------------------------------------------------------------

    def address(self, params: Mapping[str, Any]) -> NetworkAddress:
        try:
            return parse_address(self.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None

    def outlet(self, params: Mapping[str, Any]) -> int:
        text = self.require_setting(params, "node_outlet").strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_OUTLET:
            raise PowerSettingError(
                f"node_outlet must be an outlet number from 1 to {MAX_OUTLET}, not '{text}'.")
        return int(text)

    def on_delay(self, params: Mapping[str, Any]) -> float:
        text = self.get_setting(params, "power_on_delay").strip()
        try:
            delay = float(text)
        except ValueError:
            delay = -1.0
        if not 0 <= delay <= MAX_ON_DELAY:
            raise PowerSettingError(
                f"power_on_delay must be a number of seconds from 0 to {MAX_ON_DELAY:g}, "
                f"not '{text}'.")
        return delay

    # -- SNMP ----------------------------------------------------------------------

    async def _set(self, target: NetworkAddress, outlet: int, command: int) -> None:
        await snmp.set_integer(target, self.set_community, outlet_oid(outlet), command,
                               timeout=self.snmp_timeout, retries=self.snmp_retries)

    # -- the driver ------------------------------------------------------------------

    async def power_on(self, params: Mapping[str, Any]) -> None:
        target, outlet, delay = self.address(params), self.outlet(params), self.on_delay(params)
        await self._set(target, outlet, IMMEDIATE_OFF)
        await deferLater(self.clock, delay, lambda: None)
        await self._set(target, outlet, IMMEDIATE_ON)

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._set(self.address(params), self.outlet(params), IMMEDIATE_OFF)

    async def power_query(self, params: Mapping[str, Any]) -> str:
        outlet = self.outlet(params)
        value = await snmp.get_integer(
            self.address(params), self.get_community, outlet_oid(outlet),
            timeout=self.snmp_timeout, retries=self.snmp_retries)
        if value not in STATES:
            raise PowerActionError(f"The PDU reported state {value} for outlet {outlet}.")
        return STATES[value]
