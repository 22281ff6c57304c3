"""
The ``dli`` power driver: one outlet of a Digital Loggers, Inc. web power switch, over HTTP.

The facts (the DLI web UI that MAAS 1.8 drove with ``wget --auth-no-challenge
http://USER:PASS@ADDRESS/outlet?N=ON|OFF``):

- **on** / **off**: ``GET /outlet?<outlet>=ON`` / ``=OFF`` with HTTP Basic
  credentials sent up front (the switch answers with the index page or a
  redirect to it; either is success);
- **query**: ``GET /index.htm``, whose HTML carries a comment
  ``<!-- state=XX lock=YY -->``: ``XX`` is a hexadecimal bit mask of the
  outlets that are on, outlet N being bit ``1 << (N - 1)``.  A page without
  the comment is an error (it is not the switch's status page: a login page,
  another device), not "unknown".

``system_id`` (labelled "Outlet ID") is the outlet number, 1 to 16.
``power_address`` is ``host``, ``host:port`` or ``[v6]:port``.  A 401 is a
:class:`PowerAuthError`; a connection failure or timeout a retryable
:class:`PowerConnError`; another non-2xx/3xx answer a :class:`PowerActionError`.
Each request: 10 s to connect, 30 s in all; the whole call is bounded by the
driver's timeout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from power.address import AddressError, NetworkAddress, parse_address
from power.base import PowerDriver
from power.errors import PowerActionError, PowerAuthError, PowerSettingError
from power.http import BasicAuth, HTTPResponse, request

MAX_OUTLET = 16
_STATE = re.compile(r"<!--\s*state=([0-9A-Fa-f]+)")


def outlet_is_on(page: str, outlet: int) -> bool:
    """Whether page (``/index.htm``) says outlet is on; PowerActionError if it says nothing."""
    match = _STATE.search(page)
    if match is None:
        raise PowerActionError(
            "The switch's /index.htm has no '<!-- state=XX -->' comment: "
            "is power_address a Digital Loggers web power switch?")
    return bool(int(match.group(1), 16) & (1 << (outlet - 1)))


class DLIPowerDriver(PowerDriver):
    """Switch a Digital Loggers outlet through its web interface."""

    power_type = "dli"
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

    def address(self, params: Mapping[str, Any]) -> NetworkAddress:
        try:
            return parse_address(self.require_setting(params, "power_address"))
        except AddressError as error:
            raise PowerSettingError(f"Bad power_address: {error}") from None

    def outlet(self, params: Mapping[str, Any]) -> int:
        text = self.require_setting(params, "system_id").strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_OUTLET:
            raise PowerSettingError(
                f"system_id (Outlet ID) must be an outlet number from 1 to {MAX_OUTLET}, "
                f"not '{text}'.")
        return int(text)

    async def _get(self, params: Mapping[str, Any], path: str) -> HTTPResponse:
        url = f"http://{self.address(params)}{path}"
        auth = BasicAuth(self.get_setting(params, "power_user"),
                         self.get_setting(params, "power_pass"))
        response = await request(
            self.reactor, "GET", url, auth=auth, timeout=self.request_timeout,
            connect_timeout=self.connect_timeout, clock=self.clock)
        if response.status == 401:
            raise PowerAuthError("The power switch refused the user name or password (HTTP 401).")
        if not 200 <= response.status < 400:
            raise PowerActionError(f"The power switch answered HTTP {response.status} for {path}.")
        return response

    async def _switch(self, params: Mapping[str, Any], state: str) -> None:
        await self._get(params, f"/outlet?{self.outlet(params)}={state}")

    async def power_on(self, params: Mapping[str, Any]) -> None:
        await self._switch(params, "ON")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self._switch(params, "OFF")

    async def power_query(self, params: Mapping[str, Any]) -> str:
        outlet = self.outlet(params)
        response = await self._get(params, "/index.htm")
        return "on" if outlet_is_on(response.text, outlet) else "off"
