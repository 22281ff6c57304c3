"""
The configuration items of MAAS 1.8 (``maas/ op=get_config|set_config``).

Each :class:`ConfigItem` says what it is called, what it means, the value
MAAS uses while nobody has set it (the *stored* default of 1.8's
``Config.get_default_config``) and how a value sent through the API is
checked and turned into what is stored.  Values are JSON-able; SQL for
storing them is in ``region.db.config``.

This module is pure: no database, no network, nothing at import time.  The
only default computed on demand is ``maas_name``, the host's name.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
import netaddr

#: Ubuntu releases MAAS knew around 2015, oldest first, then the later LTS
#: releases (so a region run today can name them).
UBUNTU_RELEASES: tuple[str, ...] = (
    "precise", "quantal", "raring", "saucy", "trusty", "utopic", "vivid", "wily",
    "xenial", "bionic", "focal", "jammy", "noble",
)
#: The long-term-support releases among them; only these commission nodes.
UBUNTU_LTS_RELEASES: tuple[str, ...] = (
    "precise", "trusty", "xenial", "bionic", "focal", "jammy", "noble",
)
#: What python-distro-info called the current LTS when MAAS 1.8 shipped.
DEFAULT_LTS = "trusty"
#: Operating systems a node can be deployed with.  Others (CentOS, Windows,
#: ...) become choices only with boot resources for them, which come later.
OPERATING_SYSTEMS: tuple[str, ...] = ("ubuntu",)

_URL_SCHEMES = ("http", "https", "ftp", "ftps")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_FALSE_TEXTS = ("", "false", "0")


class InvalidValue(ValueError):
    """A value that the item does not accept; the message says why, for a person."""


class UnknownItem(LookupError):
    """No configuration item has that name (or it is not reachable through the API)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        valid = ", ".join(sorted(API_ITEMS))
        return f"{self.name!r} is not a valid config setting (valid settings are: {valid})."


# --- value parsers: text from the API -> the stored value ------------------


def _required(text: str) -> str:
    if not text.strip():
        raise InvalidValue("This field is required.")
    return text


def parse_text(text: str) -> str:
    """A required line of text (a Django ``CharField``)."""
    return _required(text)


def parse_optional_text(text: str) -> str:
    """Text that may be empty (an optional ``CharField``: empty is stored as '')."""
    return text


def parse_boolean(text: str) -> bool:
    """A Django ``BooleanField``: 'false', '0' and '' (any case) are false, all else true."""
    return text.strip().lower() not in _FALSE_TEXTS


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            return netaddr.IPAddress(host[1:-1], version=6, flags=netaddr.INET_PTON) is not None
        except (netaddr.AddrFormatError, ValueError):
            return False
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return netaddr.IPAddress(host, version=4, flags=netaddr.INET_PTON) is not None
        except (netaddr.AddrFormatError, ValueError):
            return False
    labels = host.rstrip(".").split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels)


def parse_url(text: str) -> str:
    """
    A required http, https, ftp or ftps URL with a host (a Django ``URLField``).

    As Django does, a URL given without a scheme is taken to be ``http://``.
    Unlike Django 1.6, a host name of one label (``http://mirror/ubuntu``) is
    accepted: local mirrors are often named that way.
    """
    value = _required(text).strip()
    if re.search(r"\s", value):
        raise InvalidValue("Enter a valid URL (it contains whitespace).")
    if "://" not in value:
        value = "http://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidValue("Enter a valid URL.") from None
    if parts.scheme.lower() not in _URL_SCHEMES:
        raise InvalidValue(f"Enter a valid URL (the scheme must be one of "
                           f"{', '.join(_URL_SCHEMES)}).")
    host = parts.netloc.rpartition("@")[2]
    if port is not None or host.endswith(":"):
        host = host.rpartition(":")[0]
    if not host or not _valid_host(host):
        raise InvalidValue("Enter a valid URL (it needs a valid host name or address).")
    return value


def parse_optional_url(text: str) -> str:
    """Like :func:`parse_url`, but empty is allowed (and stored as '')."""
    return parse_url(text) if text.strip() else ""


def parse_ip_list(text: str) -> str:
    """Space-separated IPv4/IPv6 addresses, possibly none; stored single-spaced."""
    addresses = text.split()
    bad = []
    for address in addresses:
        try:
            netaddr.IPAddress(address, flags=netaddr.INET_PTON)
        except (netaddr.AddrFormatError, ValueError):
            bad.append(address)
    if bad:
        raise InvalidValue(f"Invalid IP address: {', '.join(bad)} "
                           "(give IP addresses separated by spaces).")
    return " ".join(addresses)


def choice(options: Iterable[str]) -> Callable[[str], str]:
    """A parser accepting exactly one of options (a Django ``ChoiceField``)."""
    allowed = tuple(options)

    def parse(text: str) -> str:
        if text not in allowed:
            raise InvalidValue(f"Select a valid choice. {text!r} is not one of the "
                               f"available choices: {', '.join(allowed)}.")
        return text

    return parse


def _not_settable(text: str) -> Any:
    raise InvalidValue("This item is internal; it cannot be set through the API.")


# --- the items -----------------------------------------------------------


@attrs.frozen
class ConfigItem:
    """
    One configuration item.

    :param name: its name in the API and in storage.
    :param description: what it means, for people (``describe/``, errors).
    :param parse: turns the API's text into the value to store, or raises
        :class:`InvalidValue`.
    :param default: the value while nothing is stored.
    :param default_factory: computes the default instead, when it depends on
        the host (``maas_name``).
    :param api: reachable through ``maas/``; internal items (the RPC secret)
        are not.
    """

    name: str
    description: str
    parse: Callable[[str], Any]
    default: Any = None
    default_factory: Callable[[], Any] | None = None
    api: bool = True

    def clean(self, text: str) -> Any:
        """The value to store for text sent through the API; raises :class:`InvalidValue`."""
        if "\x00" in text:
            raise InvalidValue("Null characters are not allowed.")
        return self.parse(text)

    def default_value(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return self.default


def _items(*items: ConfigItem) -> Mapping[str, ConfigItem]:
    return {item.name: item for item in items}


ITEMS: Mapping[str, ConfigItem] = _items(
    ConfigItem("maas_name", "MAAS name.", parse_text, default_factory=socket.gethostname),
    ConfigItem(
        "main_archive",
        "Main archive. Archive used by nodes to retrieve packages for Intel "
        "architectures. E.g. http://archive.ubuntu.com/ubuntu.",
        parse_url, default="http://archive.ubuntu.com/ubuntu",
    ),
    ConfigItem(
        "ports_archive",
        "Ports archive. Archive used by nodes to retrieve packages for non-Intel "
        "architectures. E.g. http://ports.ubuntu.com/ubuntu-ports.",
        parse_url, default="http://ports.ubuntu.com/ubuntu-ports",
    ),
    ConfigItem(
        "commissioning_osystem",
        "Operating system used for commissioning (only Ubuntu commissions nodes).",
        choice(["ubuntu"]), default="ubuntu",
    ),
    ConfigItem(
        "commissioning_distro_series", "Default Ubuntu release used for commissioning.",
        choice(UBUNTU_LTS_RELEASES), default=DEFAULT_LTS,
    ),
    ConfigItem(
        "default_osystem", "Default operating system used for deployment.",
        choice(OPERATING_SYSTEMS), default="ubuntu",
    ),
    ConfigItem(
        "default_distro_series", "Default OS release used for deployment.",
        choice(UBUNTU_RELEASES), default=DEFAULT_LTS,
    ),
    ConfigItem(
        "http_proxy",
        "Proxy for HTTP and HTTPS traffic. This is used by the cluster and region "
        "controllers for downloading PXE boot images and other provisioning-related "
        "resources. This will also be passed onto provisioned nodes instead of the "
        "default proxy (the region controller proxy).",
        parse_optional_url,
    ),
    ConfigItem(
        "upstream_dns",
        "Upstream DNS used to resolve domains not managed by this MAAS "
        "(space-separated IP addresses). Only used when MAAS is running its own DNS "
        "server. This value is used as the value of 'forwarders' in the DNS server config.",
        parse_ip_list,
    ),
    ConfigItem(
        "dnssec_validation",
        "Enable DNSSEC validation of upstream zones. Only used when MAAS is running its "
        "own DNS server. This value is used as the value of 'dnssec_validation' in the "
        "DNS server config.",
        choice(["auto", "yes", "no"]), default="auto",
    ),
    ConfigItem(
        "ntp_server",
        "Address of NTP server for nodes. NTP server address passed to nodes via a "
        "DHCP response. e.g. ntp.ubuntu.com",
        parse_optional_text, default="ntp.ubuntu.com",
    ),
    ConfigItem("kernel_opts", "Boot parameters to pass to the kernel by default.",
               parse_optional_text),
    ConfigItem(
        "windows_kms_host",
        "Windows KMS activation host. FQDN or IP address of the host that provides the "
        "KMS Windows activation service. (Only needed for Windows deployments using KMS "
        "activation.)",
        parse_optional_text,
    ),
    ConfigItem("boot_images_auto_import",
               "Automatically import/refresh the boot images every 60 minutes.",
               parse_boolean, default=True),
    ConfigItem("enable_third_party_drivers",
               "Enable the installation of proprietary drivers (i.e. HPVSA).",
               parse_boolean, default=True),
    ConfigItem("enable_disk_erasing_on_release", "Erase nodes' disks prior to releasing.",
               parse_boolean, default=False),
    # Internal: the region keeps these for RPC; an API client has no business
    # reading the shared secret (1.8 would hand it to any admin), so they are
    # not reachable through maas/ at all.
    ConfigItem("rpc_region_certificate", "The region's RPC certificate.", _not_settable,
               api=False),
    ConfigItem("rpc_shared_secret", "The secret clusters share with the region.",
               _not_settable, api=False),
)

#: The items the ``maas/`` resource reads and writes.
API_ITEMS: Mapping[str, ConfigItem] = {
    name: item for name, item in ITEMS.items() if item.api
}


def api_item(name: str) -> ConfigItem:
    """The item called name that the API may read and set; raises :class:`UnknownItem`."""
    try:
        return API_ITEMS[name]
    except KeyError:
        raise UnknownItem(name) from None


def describe_items() -> str:
    """The list of available items, for the API documentation."""
    return "Available configuration items:\n" + "\n".join(
        f"- {item.name}: {item.description}" for item in API_ITEMS.values())
