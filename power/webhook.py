"""
The ``webhook`` power driver (beyond MAAS 1.8): HTTP calls with templated URLs, for anything else.

When a device has no driver — a home-grown relay board, a cloud API behind a
small proxy, a lab's own power service — an administrator describes three
HTTP calls:

- **on**: ``power_method`` (POST by default) to ``power_on_uri`` with the
  body ``power_on_body``;
- **off**: the same with ``power_off_uri`` and ``power_off_body``;
- **query**: ``GET power_query_uri``; the answer (or, with
  ``power_query_json_pointer``, the JSON value at that RFC 6901 pointer,
  ``true``/``false``/numbers written as JSON) is searched with
  ``power_query_on_regex`` and ``power_query_off_regex`` (defaults: the
  words ``on`` and ``off``, any case).  Exactly one must match.  Without a
  ``power_query_uri`` the state is "unknown", which the cluster accepts as
  "cannot tell".

Templates: ``{name}`` in a URI or body is replaced by the node's power
parameter ``name`` (``{system_id}``, ``{mac_address}``, any custom key the
node has); ``{`` and ``}`` around anything else are left alone, so JSON bodies
need no escaping (and a literal ``{word}`` cannot be written).
Values are escaped for where they land: percent-encoded in URIs, JSON-string
escaped in a body whose ``Content-Type`` is JSON (the default), form-encoded
in ``application/x-www-form-urlencoded`` bodies, verbatim otherwise.  Secret
parameters (``power_pass``, ``power_headers``) cannot be used in templates:
they go only where they belong (``power_user``/``power_pass`` as HTTP Basic
credentials, ``power_headers`` — ``Name: value`` lines, e.g. an API token —
as headers), so they never end up in a URL or a log.

Answers: 2xx is success; 401/403 a :class:`PowerAuthError`; 408, 429 and 5xx
a retryable :class:`PowerActionError`; any other status a
:class:`PowerSettingError` (the call as configured is wrong).  TLS
certificates are checked unless ``power_verify_tls`` is ``no``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from power.base import PowerDriver
from power.errors import PowerActionError, PowerAuthError, PowerSettingError
from power.http import BasicAuth, HTTPResponse, request
from power.redact import scrub

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
SECRET_PARAMS = frozenset({"power_pass", "power_headers"})
METHODS = ("POST", "PUT", "GET", "PATCH", "DELETE")
RETRYABLE = frozenset({408, 429})


def render(template: str, params: Mapping[str, Any], escape: Any, where: str) -> str:
    """template with every ``{name}`` replaced by ``escape(params[name])``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in SECRET_PARAMS:
            raise PowerSettingError(f"{where} may not use the secret parameter {{{name}}}.")
        if params.get(name) in (None, ""):
            raise PowerSettingError(f"{where} uses {{{name}}}, which this node does not have.")
        return str(escape(str(params[name])))

    return _FIELD.sub(replace, template)


def json_pointer(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 JSON pointer; PowerActionError if there is none."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise PowerSettingError("power_query_json_pointer must start with '/' (RFC 6901).")
    value = document
    for token in pointer[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise PowerActionError(f"The answer has nothing at {pointer}.")
    return value


def parse_headers(text: str) -> dict[str, str]:
    headers = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not _HEADER_NAME.match(name) or any(c in value for c in "\r\n\0"):
            raise PowerSettingError("power_headers must hold 'Name: value' lines.")
        headers[name] = value.strip()
    return headers


def _json_escape(value: str) -> str:
    return json.dumps(value)[1:-1]


class WebhookPowerDriver(PowerDriver):
    """Power a node by calling URLs the administrator configured."""

    power_type = "webhook"
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

    def url(self, params: Mapping[str, Any], name: str) -> str:
        template = self.require_setting(params, name)
        url = render(template, params, lambda v: quote(v, safe=""), name)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PowerSettingError(f"{name} must be an http:// or https:// URL.")
        return url

    async def call(self, params: Mapping[str, Any], method: str, uri_name: str,
                   body_name: str | None = None) -> HTTPResponse:
        url = self.url(params, uri_name)
        headers = parse_headers(self.get_setting(params, "power_headers"))
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"),
                            None)
        body = None
        template = self.get_setting(params, body_name) if body_name else ""
        if template:
            content_type = content_type or "application/json"
            headers.setdefault("Content-Type", content_type)
            kind = content_type.split(";")[0].strip().lower()
            escape: Any = (_json_escape if kind == "application/json" or kind.endswith("+json")
                           else quote_plus if kind == "application/x-www-form-urlencoded"
                           else str)
            body = render(template, params, escape, body_name or "").encode()
        user = self.get_setting(params, "power_user")
        password = self.get_setting(params, "power_pass")
        response = await request(
            self.reactor, method, url, headers=headers, body=body,
            auth=BasicAuth(user, password) if user or password else None,
            timeout=self.request_timeout, connect_timeout=self.connect_timeout,
            verify_tls=self.get_setting(params, "power_verify_tls") != "no", clock=self.clock)
        where = f"{method} {uri_name}"
        if response.status in (401, 403):
            raise PowerAuthError(f"{where} was refused (HTTP {response.status}).")
        if response.status in RETRYABLE or response.status >= 500:
            raise PowerActionError(f"{where} failed (HTTP {response.status}).")
        if not 200 <= response.status < 300:
            raise PowerSettingError(f"{where} answered HTTP {response.status}: "
                                    f"check the URI, method and body.")
        return response

    def method(self, params: Mapping[str, Any]) -> str:
        method = self.get_setting(params, "power_method").upper()
        if method not in METHODS:
            raise PowerSettingError(f"power_method must be one of {', '.join(METHODS)}.")
        return method

    async def power_on(self, params: Mapping[str, Any]) -> None:
        await self.call(params, self.method(params), "power_on_uri", "power_on_body")

    async def power_off(self, params: Mapping[str, Any]) -> None:
        await self.call(params, self.method(params), "power_off_uri", "power_off_body")

    async def power_query(self, params: Mapping[str, Any]) -> str:
        if not self.get_setting(params, "power_query_uri"):
            return "unknown"
        response = await self.call(params, "GET", "power_query_uri")
        text = response.text
        pointer = self.get_setting(params, "power_query_json_pointer")
        if pointer:
            try:
                document = json.loads(response.body)
            except ValueError:
                raise PowerActionError("The query answer is not JSON.") from None
            value = json_pointer(document, pointer)
            text = value if isinstance(value, str) else json.dumps(value)
        try:
            on = re.search(self.get_setting(params, "power_query_on_regex"), text)
            off = re.search(self.get_setting(params, "power_query_off_regex"), text)
        except re.error as error:
            raise PowerSettingError(f"Bad power_query_*_regex: {error}") from None
        if bool(on) == bool(off):
            # The base scrubs whole secret values; an answer may echo a single header's.
            hidden = [*parse_headers(self.get_setting(params, "power_headers")).values(),
                      self.get_setting(params, "power_pass")]
            shown = scrub(text.strip()[:200], [h for h in hidden if len(h) >= 4])
            raise PowerActionError(
                f"The query answer matches {'both' if on else 'neither'} of the on and off "
                f"patterns: {shown!r}.")
        return "on" if on else "off"
