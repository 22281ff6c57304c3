"""
``probe_and_enlist_hardware``: which cluster command a hardware model needs,
and with which arguments.

The REST parameters of each model are those of MAAS 1.8's API document; the
cluster commands and their argument names are 1.8's RPC (``AddVirsh``,
``AddVMware``, ...).  :func:`enlist_request` checks the parameters of one
model — the required ones are there, the MAC, port, protocol and URL are
well formed — and returns the command and its arguments, or raises
:class:`ProbeErrors` (field → messages).  ``accept_all`` is true only when it
is ``true`` (any case), as in 1.8.

Models: ``virsh`` and ``powerkvm`` (both libvirt), ``vmware``, ``esxi``,
``seamicro15k``, ``mscm``, ``msftocs``, ``ucsm``.  1.8's document does not
list ``esxi``'s parameters; we take ``address``, ``username``, ``password``
and an optional ``prefix_filter`` (``power_address``, ``power_user`` and
``power_pass`` are accepted as the same, the names virsh uses).

Pure: no I/O.  The passwords among the arguments must never be logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from twisted.protocols import amp

from region.domain.macs import normalise_mac
from rpc.commands.cluster import (
    AddESXi,
    AddSeaMicro15k,
    AddVirsh,
    AddVMware,
    EnlistNodesFromMicrosoftOCS,
    EnlistNodesFromMSCM,
    EnlistNodesFromUCSM,
)

#: Every parameter any model takes (besides ``model``).
PARAMETERS = ("accept_all", "mac", "username", "password", "power_control", "power_address",
              "power_user", "power_pass", "prefix_filter", "host", "protocol", "port", "ip",
              "url", "address")

SEAMICRO_POWER_CONTROLS = ("ipmi", "restapi", "restapi2")
VMWARE_PROTOCOLS = ("http", "https")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_HTTP_URL = re.compile(r"https?://[^\s/]+\S*", re.IGNORECASE)
_HOST = re.compile(r"[^\s/]+")
_REQUIRED = "This field is required."


class ProbeErrors(ValueError):
    """The parameters do not fit the model; ``errors`` maps fields to messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in self.errors.items()))


class _Params:
    """The submitted text values, and the errors found reading them."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self.values = {key: value for key, value in values.items()
                       if value is not None and value != ""}
        self.errors: dict[str, list[str]] = {}

    def error(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def required(self, field: str, *aliases: str) -> str:
        for name in (field, *aliases):
            if name in self.values:
                return self.values[name]
        self.error(field, _REQUIRED)
        return ""

    def optional(self, field: str, *aliases: str) -> str | None:
        for name in (field, *aliases):
            if name in self.values:
                return self.values[name]
        return None

    def matching(self, field: str, pattern: re.Pattern[str], message: str,
                 required: bool = True) -> str | None:
        value = self.required(field) if required else self.optional(field)
        if value and not pattern.fullmatch(value):
            self.error(field, message)
        return value

    def choice(self, field: str, choices: tuple[str, ...]) -> str | None:
        value = self.optional(field)
        if value is not None and value not in choices:
            self.error(field, f"Select a valid choice. {value} is not one of the available "
                              f"choices ({', '.join(choices)}).")
        return value

    def port(self, field: str, required: bool) -> int | None:
        value = self.required(field) if required else self.optional(field)
        if not value:
            return None
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            self.error(field, f"Enter a port number from 1 to 65535 ({value!r} is not one).")
            return None
        return int(value)


def _host_message(what: str) -> str:
    return f"Enter the {what}'s host name or IP address."


def _optional(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _virsh(p: _Params, user: str, accept_all: bool) -> tuple[type[amp.Command], dict[str, Any]]:
    address = p.matching("power_address", _URI, "Enter a libvirt connection URI, e.g. "
                         "qemu+ssh://user@host/system.")
    return AddVirsh, {"user": user, "poweraddr": address, "accept_all": accept_all,
                      **_optional(password=p.optional("power_pass"),
                                  prefix_filter=p.optional("prefix_filter"))}


def _esxi(p: _Params, user: str, accept_all: bool) -> tuple[type[amp.Command], dict[str, Any]]:
    address = p.required("address", "power_address")
    if address and not _HOST.fullmatch(address):
        p.error("address", _host_message("ESXi host"))
    return AddESXi, {"user": user, "poweraddr": address,
                     "poweruser": p.required("username", "power_user"),
                     "password": p.required("password", "power_pass"),
                     "accept_all": accept_all,
                     **_optional(prefix_filter=p.optional("prefix_filter"))}


def _vmware(p: _Params, user: str, accept_all: bool) -> tuple[type[amp.Command], dict[str, Any]]:
    host = p.matching("host", _HOST, _host_message("VMware server"))
    return AddVMware, {"user": user, "host": host, "username": p.required("username"),
                       "password": p.required("password"), "accept_all": accept_all,
                       **_optional(port=p.port("port", required=False),
                                   protocol=p.choice("protocol", VMWARE_PROTOCOLS),
                                   prefix_filter=p.optional("prefix_filter"))}


def _seamicro(p: _Params, user: str, accept_all: bool) -> tuple[type[amp.Command], dict[str, Any]]:
    mac = p.required("mac")
    if mac:
        try:
            mac = normalise_mac(mac)
        except ValueError as error:
            p.error("mac", str(error))
    return AddSeaMicro15k, {"user": user, "mac": mac, "username": p.required("username"),
                            "password": p.required("password"), "accept_all": accept_all,
                            **_optional(power_control=p.choice("power_control",
                                                               SEAMICRO_POWER_CONTROLS))}


def _mscm(p: _Params, user: str, accept_all: bool) -> tuple[type[amp.Command], dict[str, Any]]:
    host = p.matching("host", _HOST, _host_message("Moonshot Chassis Manager"))
    return EnlistNodesFromMSCM, {"user": user, "host": host, "username": p.required("username"),
                                 "password": p.required("password"), "accept_all": accept_all}


def _msftocs(p: _Params, user: str, accept_all: bool) -> tuple[type[amp.Command], dict[str, Any]]:
    ip = p.matching("ip", _HOST, _host_message("Microsoft OCS chassis manager"))
    port = p.port("port", required=True)
    return EnlistNodesFromMicrosoftOCS, {
        "user": user, "ip": ip, "port": "" if port is None else str(port),
        "username": p.required("username"), "password": p.required("password"),
        "accept_all": accept_all}


def _ucsm(p: _Params, user: str, accept_all: bool) -> tuple[type[amp.Command], dict[str, Any]]:
    url = p.matching("url", _HTTP_URL, "Enter the http(s) URL of the UCS Manager's XML API.")
    return EnlistNodesFromUCSM, {"user": user, "url": url, "username": p.required("username"),
                                 "password": p.required("password"), "accept_all": accept_all}


_Builder = Callable[[_Params, str, bool], tuple[type[amp.Command], dict[str, Any]]]

#: model → how to build its command, and what the model is (for messages).
MODELS: Mapping[str, tuple[_Builder, str]] = {
    "virsh": (_virsh, "virtual machines managed by virsh"),
    "powerkvm": (_virsh, "virtual machines on Power KVM, managed by virsh"),
    "esxi": (_esxi, "virtual machines on a VMware ESXi host"),
    "vmware": (_vmware, "virtual machines on VMware"),
    "seamicro15k": (_seamicro, "a SeaMicro 15000 chassis"),
    "mscm": (_mscm, "an HP Moonshot chassis (iLO Chassis Manager)"),
    "msftocs": (_msftocs, "a Microsoft OCS chassis"),
    "ucsm": (_ucsm, "a Cisco UCS Manager"),
}


def accept_all_flag(value: str | None) -> bool:
    """1.8's reading of ``accept_all``: true only for ``true``, in any case."""
    return value is not None and value.strip().lower() == "true"


def enlist_request(model: str, values: Mapping[str, str | None],
                   user: str) -> tuple[type[amp.Command], dict[str, Any]]:
    """
    The cluster command that probes ``model`` hardware and enlists what it
    finds, and its arguments; user is the requesting user's name (the
    cluster enlists nodes on their behalf).  Raises ProbeErrors.
    """
    if model not in MODELS:
        raise ProbeErrors({"model": [
            f"Select a valid choice. {model} is not one of the available choices "
            f"({', '.join(sorted(MODELS))})."]})
    params = _Params(values)
    build, _ = MODELS[model]
    command, arguments = build(params, user, accept_all_flag(values.get("accept_all")))
    if params.errors:
        raise ProbeErrors(params.errors)
    return command, arguments
