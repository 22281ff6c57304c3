"""probe_and_enlist_hardware: each model's parameters, checked, become its cluster command."""

from __future__ import annotations

from typing import Any

import pytest

from region.domain.hardware_probe import (
    MODELS,
    ProbeErrors,
    accept_all_flag,
    enlist_request,
)
from rpc.commands.cluster import (
    AddESXi,
    AddSeaMicro15k,
    AddVirsh,
    AddVMware,
    EnlistNodesFromMicrosoftOCS,
    EnlistNodesFromMSCM,
    EnlistNodesFromUCSM,
)


@pytest.mark.parametrize(("model", "values", "command", "arguments"), [
    ("virsh", {"power_address": "qemu+ssh://me@kvm/system", "power_pass": "pw",
               "prefix_filter": "vm-", "accept_all": "true"},
     AddVirsh, {"user": "admin", "poweraddr": "qemu+ssh://me@kvm/system", "password": "pw",
                "prefix_filter": "vm-", "accept_all": True}),
    ("powerkvm", {"power_address": "qemu:///system"},
     AddVirsh, {"user": "admin", "poweraddr": "qemu:///system", "accept_all": False}),
    ("vmware", {"host": "vc.example.com", "username": "u", "password": "p", "port": "8443",
                "protocol": "https", "prefix_filter": "x"},
     AddVMware, {"user": "admin", "host": "vc.example.com", "username": "u", "password": "p",
                 "port": 8443, "protocol": "https", "prefix_filter": "x", "accept_all": False}),
    ("esxi", {"address": "esx1", "username": "root", "password": "p"},
     AddESXi, {"user": "admin", "poweraddr": "esx1", "poweruser": "root", "password": "p",
               "accept_all": False}),
    ("esxi", {"power_address": "esx1", "power_user": "root", "power_pass": "p"},
     AddESXi, {"user": "admin", "poweraddr": "esx1", "poweruser": "root", "password": "p",
               "accept_all": False}),
    ("seamicro15k", {"mac": "00-11-22-33-44-AA", "username": "u", "password": "p",
                     "power_control": "restapi2", "accept_all": "TRUE"},
     AddSeaMicro15k, {"user": "admin", "mac": "00:11:22:33:44:aa", "username": "u",
                      "password": "p", "power_control": "restapi2", "accept_all": True}),
    ("mscm", {"host": "10.0.0.9", "username": "u", "password": "p"},
     EnlistNodesFromMSCM, {"user": "admin", "host": "10.0.0.9", "username": "u",
                           "password": "p", "accept_all": False}),
    ("msftocs", {"ip": "10.0.0.8", "port": "8000", "username": "u", "password": "p"},
     EnlistNodesFromMicrosoftOCS, {"user": "admin", "ip": "10.0.0.8", "port": "8000",
                                   "username": "u", "password": "p", "accept_all": False}),
    ("ucsm", {"url": "https://ucsm/nuova", "username": "u", "password": "p"},
     EnlistNodesFromUCSM, {"user": "admin", "url": "https://ucsm/nuova", "username": "u",
                           "password": "p", "accept_all": False}),
])
def test_each_model_becomes_its_command(model: str, values: dict[str, str], command: Any,
                                        arguments: dict[str, Any]) -> None:
    """The parameters of the 1.8 document map onto the 1.8 command's arguments."""
    found_command, found = enlist_request(model, values, "admin")
    assert found_command is command
    assert found == arguments
    command(**found)  # every required argument is there, nothing unknown
    assert set(found) <= {name.decode() for name, _ in command.arguments}


@pytest.mark.parametrize(("model", "values", "fields"), [
    ("virsh", {}, ["power_address"]),
    ("virsh", {"power_address": "kvm-host"}, ["power_address"]),
    ("vmware", {}, ["host", "username", "password"]),
    ("vmware", {"host": "a b", "username": "u", "password": "p"}, ["host"]),
    ("vmware", {"host": "h", "username": "u", "password": "p", "port": "0"}, ["port"]),
    ("vmware", {"host": "h", "username": "u", "password": "p", "port": "x"}, ["port"]),
    ("vmware", {"host": "h", "username": "u", "password": "p", "protocol": "ftp"},
     ["protocol"]),
    ("esxi", {"username": "u"}, ["address", "password"]),
    ("seamicro15k", {"mac": "zz", "username": "u", "password": "p"}, ["mac"]),
    ("seamicro15k", {"mac": "00:11:22:33:44:55", "username": "u", "password": "p",
                     "power_control": "snmp"}, ["power_control"]),
    ("mscm", {"host": "h"}, ["username", "password"]),
    ("msftocs", {"ip": "h", "username": "u", "password": "p"}, ["port"]),
    ("msftocs", {"ip": "h", "port": "70000", "username": "u", "password": "p"}, ["port"]),
    ("ucsm", {"url": "ucsm.example.com", "username": "u", "password": "p"}, ["url"]),
])
def test_bad_or_missing_parameters_name_their_fields(model: str, values: dict[str, str],
                                                     fields: list[str]) -> None:
    with pytest.raises(ProbeErrors) as raised:
        enlist_request(model, values, "admin")
    assert sorted(raised.value.errors) == sorted(fields)


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ProbeErrors) as raised:
        enlist_request("abacus", {}, "admin")
    [message] = raised.value.errors["model"]
    assert "abacus" in message and all(model in message for model in MODELS)


def test_blank_values_are_missing_values() -> None:
    with pytest.raises(ProbeErrors) as raised:
        enlist_request("mscm", {"host": "", "username": None, "password": "p"}, "admin")
    assert sorted(raised.value.errors) == ["host", "username"]


@pytest.mark.parametrize(("text", "flag"), [
    ("true", True), ("True", True), (" TRUE ", True), ("1", False), ("yes", False),
    ("", False), (None, False), ("false", False),
])
def test_accept_all_is_true_only_for_true(text: str | None, flag: bool) -> None:
    """As in 1.8: accept_all is true only if it reads 'true' (any case)."""
    assert accept_all_flag(text) is flag


def test_errors_never_quote_the_password() -> None:
    """A refused request's messages do not carry the password given."""
    with pytest.raises(ProbeErrors) as raised:
        enlist_request("vmware", {"host": "a b", "username": "u", "password": "hunter2-secret",
                                  "port": "x"}, "admin")
    assert "hunter2-secret" not in str(raised.value)
