"""
Network address settings (``power_address`` of a BMC or PDU), parsed strictly.

Accepted forms::

    bmc01.example.com         host name
    10.0.0.5                  IPv4 address
    10.0.0.5:623              with a port
    fe80::1  /  fe80::1%eth0  bare IPv6 address (no port possible)
    [fe80::1]  /  [fe80::1]:623

Anything else (spaces, commas, URLs, ``host:``) is rejected with a message that
says what is wrong.  Strictness matters because the value ends up as a tool
argument: FreeIPMI, for one, reads ``a,b`` and ``a[1-9]`` as *several* hosts.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_PORT = re.compile(r"^[0-9]{1,5}$")


class AddressError(ValueError):
    """A network address setting could not be parsed; the message says why."""


@attrs.frozen
class NetworkAddress:
    """A host (name, IPv4 or IPv6 literal, without brackets) and an optional port."""

    host: str
    port: int | None = None

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``: the form FreeIPMI's ``-h`` takes."""
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        return host if self.port is None else f"{host}:{self.port}"


def _parse_port(text: str, original: str) -> int:
    if not _PORT.match(text):
        raise AddressError(f"'{original}' has an invalid port: '{text}' is not a number.")
    port = int(text)
    if not 1 <= port <= 65535:
        raise AddressError(f"'{original}' has an invalid port: {port} is not in 1-65535.")
    return port


def _parse_ipv6(text: str, original: str) -> str:
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise AddressError(f"'{original}' is not a valid IPv6 address.") from None


def _parse_host(text: str, original: str) -> str:
    if not text:
        raise AddressError(f"'{original}' has no host name or address.")
    if re.fullmatch(r"[0-9.]+", text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise AddressError(f"'{original}' is not a valid IPv4 address.") from None
    name = text[:-1] if text.endswith(".") else text
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise AddressError(f"'{original}' is not a valid host name or IP address.")
    return text


def parse_address(text: str) -> NetworkAddress:
    """Parse ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    original = text
    text = text.strip()
    if not text:
        raise AddressError("The address is empty.")
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise AddressError(f"'{original}' has '[' without a closing ']'.")
        host = _parse_ipv6(text[1:close], original)
        rest = text[close + 1 :]
        if not rest:
            return NetworkAddress(host)
        if not rest.startswith(":"):
            raise AddressError(f"'{original}' has something other than ':port' after ']'.")
        return NetworkAddress(host, _parse_port(rest[1:], original))
    if text.count(":") > 1:
        return NetworkAddress(_parse_ipv6(text, original))
    if ":" in text:
        host, _, port = text.partition(":")
        return NetworkAddress(_parse_host(host, original), _parse_port(port, original))
    return NetworkAddress(_parse_host(text, original))

