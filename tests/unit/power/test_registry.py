"""describe_power_types, parameter validation and redaction (power.registry)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from power.errors import PowerNotSupportedError
from power.redact import PLACEHOLDER, scrub
from power.registry import (
    POWER_TYPES,
    UnknownPowerType,
    describe_power_types,
    driver_class,
    get_power_type,
    is_queryable,
    redact,
    validate_power_parameters,
)
from power.schema import ParameterErrors, Setting, normalise_mac

QUERY_POWER_TYPES_18 = {"amt", "dli", "ipmi", "mscm", "msftocs", "sm15k", "ucsm", "virsh", "vmware"}


class TestDescribe:
    def test_sorted_by_description(self) -> None:
        """describe_power_types lists all 13 types sorted by description, as 1.8 did."""
        described = describe_power_types()
        assert len(described) == 13
        descriptions = [entry["description"] for entry in described]
        assert descriptions == sorted(descriptions)
        assert descriptions[0] == "American Power Conversion (APC) PDU"
        assert descriptions[-1] == "Wake-on-LAN"

    def test_json_shape_is_18s(self) -> None:
        """Each type is {name, description, fields}; each field has 1.8's six keys only."""
        for entry in describe_power_types():
            assert list(entry) == ["name", "description", "fields"]
            for field in entry["fields"]:
                assert list(field) == [
                    "name", "label", "required", "field_type", "choices", "default",
                ]
                assert field["required"] is False
        json.dumps(describe_power_types())  # serialisable as it is

    def test_ipmi_power_driver_field(self) -> None:
        """The ipmi power_driver field publishes its choices as [value, label] lists."""
        ipmi = next(e for e in describe_power_types() if e["name"] == "ipmi")
        assert ipmi["fields"][0] == {
            "name": "power_driver",
            "label": "Power driver",
            "required": False,
            "field_type": "choice",
            "choices": [["LAN", "LAN [IPMI 1.5]"], ["LAN_2_0", "LAN_2_0 [IPMI 2.0]"]],
            "default": "LAN_2_0",
        }

    def test_apc_delay_is_published_as_password_but_not_secret(self) -> None:
        """1.8's quirk: power_on_delay is a "password" field; we do not hide it."""
        delay = get_power_type("apc").setting("power_on_delay")
        assert delay is not None
        assert delay.describe()["field_type"] == "password"
        assert delay.secret is False
        assert redact("apc", {"power_on_delay": "5"}) == {"power_on_delay": "5"}


class TestRegistryFlags:
    def test_queryable_types_are_18s_query_power_types(self) -> None:
        """Exactly 1.8's QUERY_POWER_TYPES are queryable."""
        assert {t.name for t in POWER_TYPES if t.queryable} == QUERY_POWER_TYPES_18
        assert is_queryable("ipmi") and not is_queryable("ether_wake")
        assert not is_queryable("nonsense")

    def test_only_power_pass_is_secret(self) -> None:
        """Every power_pass is secret; nothing else is."""
        for power_type in POWER_TYPES:
            for setting in power_type.settings:
                assert setting.secret == (setting.name == "power_pass"), setting.name

    @pytest.mark.parametrize("power_type", [t for t in POWER_TYPES if t.has_driver],
                             ids=lambda t: t.name)
    def test_driver_agrees_with_registry(self, power_type) -> None:  # type: ignore[no-untyped-def]
        """A driver implements the type it is registered for, with the same queryability."""
        cls = driver_class(power_type.name)
        assert cls.power_type == power_type.name
        assert cls.queryable == power_type.queryable

    def test_drivers_exist_for_ipmi_and_ether_wake(self) -> None:
        """ipmi and ether_wake have drivers; a type without one says so."""
        assert {t.name for t in POWER_TYPES if t.has_driver} >= {"ipmi", "ether_wake"}
        for power_type in POWER_TYPES:
            if power_type.has_driver:
                assert isinstance(driver_class(power_type.name), type)
            else:
                with pytest.raises(PowerNotSupportedError):
                    driver_class(power_type.name)
        with pytest.raises(UnknownPowerType):
            driver_class("nonsense")

    def test_registry_does_not_import_twisted(self) -> None:
        """The region can import the registry without Twisted's process machinery."""
        code = (
            "import sys, power.registry, power.schema; "
            "print(sorted(m for m in sys.modules if m.startswith(('twisted', 'power.'))))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout
        assert "twisted" not in out
        assert "power.process" not in out and "power.base" not in out


class TestValidate:
    def test_valid_parameters_are_cleaned(self) -> None:
        """Known fields are checked, MACs normalised, addresses stripped."""
        cleaned = validate_power_parameters("ipmi", {
            "power_driver": "LAN", "power_address": " 10.0.0.5:623 ",
            "power_user": "admin", "power_pass": "s3cret", "mac_address": "AA-BB-CC-DD-EE-FF",
        })
        assert cleaned["power_address"] == "10.0.0.5:623"
        assert cleaned["power_driver"] == "LAN"
        # ipmi's mac_address is a plain string in 1.8; ether_wake's is a MAC field.
        assert cleaned["mac_address"] == "AA-BB-CC-DD-EE-FF"
        assert validate_power_parameters(
            "ether_wake", {"mac_address": "AA-BB-CC-DD-EE-FF"}
        ) == {"mac_address": "aa:bb:cc:dd:ee:ff"}

    def test_unknown_power_type(self) -> None:
        """An unknown power type is an error on the power_type field."""
        with pytest.raises(ParameterErrors) as caught:
            validate_power_parameters("bogus", {})
        assert list(caught.value.errors) == ["power_type"]

    def test_unset_power_type_checks_nothing(self) -> None:
        """power_type "" (not configured) accepts anything, as 1.8 did."""
        assert validate_power_parameters("", {"x": "y"}) == {"x": "y"}

    def test_bad_choice(self) -> None:
        """A value outside a choice field's choices is rejected with Django's message."""
        with pytest.raises(ParameterErrors) as caught:
            validate_power_parameters("ipmi", {"power_driver": "LAN_3"})
        assert caught.value.errors == {"power_driver": [
            "Select a valid choice. LAN_3 is not one of the available choices."]}

    def test_bad_mac_address(self) -> None:
        """A mac_address field must hold a MAC address."""
        with pytest.raises(ParameterErrors) as caught:
            validate_power_parameters("ether_wake", {"mac_address": "00:11:22:33:44"})
        assert caught.value.errors == {"mac_address": [
            "'00:11:22:33:44' is not a valid MAC address."]}

    @pytest.mark.parametrize("address", ["bmc1", "10.0.0.1", "10.0.0.1:623", "[fe80::1]:623",
                                         "fe80::1", "bmc-1.example.com"])
    def test_network_address_forms_accepted(self, address: str) -> None:
        """host, host:port, [v6]:port and bare IPv6 are valid power addresses."""
        assert validate_power_parameters("ipmi", {"power_address": address})

    @pytest.mark.parametrize("address", ["a,b", "host:", "host:99999", "10.0.0.300",
                                         "[fe80::1", "http://x/", "a b"])
    def test_bad_network_address(self, address: str) -> None:
        """Malformed addresses are rejected on the power_address field."""
        with pytest.raises(ParameterErrors) as caught:
            validate_power_parameters("ipmi", {"power_address": address})
        assert list(caught.value.errors) == ["power_address"]

    def test_uri_fields_are_not_network_addresses(self) -> None:
        """virsh's power_address is a libvirt URI and ucsm's a URL: not host:port checked."""
        assert validate_power_parameters("virsh", {"power_address": "qemu+ssh://u@h/system"})
        assert validate_power_parameters("ucsm", {"power_address": "http://ucsm/nuova"})

    def test_unknown_keys_are_kept(self) -> None:
        """Keys the schema does not know are kept unchanged (documented decision)."""
        cleaned = validate_power_parameters("ipmi", {"power_off_mode": "soft", "n": 3})
        assert cleaned == {"power_off_mode": "soft", "n": 3}

    def test_missing_keys_are_not_filled(self) -> None:
        """Validation does not invent values: drivers apply defaults."""
        assert validate_power_parameters("ipmi", {}) == {}

    def test_several_errors_at_once(self) -> None:
        """Every bad field is reported, not just the first."""
        with pytest.raises(ParameterErrors) as caught:
            validate_power_parameters("ipmi", {"power_driver": "x", "power_address": "a,b"})
        assert set(caught.value.errors) == {"power_driver", "power_address"}

    def test_skip_check(self) -> None:
        """skip_check returns the parameters untouched (power_parameters_skip_check)."""
        params = {"power_driver": "whatever"}
        assert validate_power_parameters("ipmi", params, skip_check=True) == params

    def test_numbers_become_strings_and_lists_are_rejected(self) -> None:
        """JSON numbers are accepted as text; structures are not."""
        assert validate_power_parameters("apc", {"power_on_delay": 7}) == {"power_on_delay": "7"}
        with pytest.raises(ParameterErrors):
            validate_power_parameters("apc", {"node_outlet": [1]})

    def test_required_setting(self) -> None:
        """A setting declared required must be present (no built-in one is)."""
        from power.schema import PowerType

        power_type = PowerType("t", "T", [Setting("a", "A", required=True)])
        with pytest.raises(ParameterErrors) as caught:
            power_type.clean({})
        assert caught.value.errors == {"a": ["This field is required."]}


class TestRedact:
    def test_password_replaced(self) -> None:
        """redact hides power_pass and keeps everything else."""
        params = {"power_address": "10.0.0.1", "power_user": "root", "power_pass": "hunter2"}
        assert redact("ipmi", params) == {
            "power_address": "10.0.0.1", "power_user": "root", "power_pass": PLACEHOLDER}
        assert params["power_pass"] == "hunter2"  # a copy was redacted

    def test_empty_password_left_empty(self) -> None:
        """An unset password stays visibly unset."""
        assert redact("virsh", {"power_pass": ""}) == {"power_pass": ""}

    def test_secret_of_another_type_or_unknown_type(self) -> None:
        """A stray power_pass is hidden even for a type without one, or an unknown type."""
        assert redact("ether_wake", {"power_pass": "x"}) == {"power_pass": PLACEHOLDER}
        assert redact("bogus", {"power_pass": "x"}) == {"power_pass": PLACEHOLDER}

    def test_scrub_text(self) -> None:
        """scrub removes every occurrence of each secret from text or bytes."""
        assert scrub(b"pw=hunter2 again hunter2", ["hunter2"]) == (
            f"pw={PLACEHOLDER} again {PLACEHOLDER}")


@pytest.mark.parametrize(("text", "mac"), [
    ("00:11:22:33:44:55", "00:11:22:33:44:55"),
    ("00-11-22-AA-BB-CC", "00:11:22:aa:bb:cc"),
    ("001122aabbcc", "00:11:22:aa:bb:cc"),
])
def test_normalise_mac(text: str, mac: str) -> None:
    """The usual MAC spellings normalise to lower-case colon form."""
    assert normalise_mac(text) == mac


@pytest.mark.parametrize("text", ["00:11:22:33:44", "00:11-22:33:44:55", "gg:11:22:33:44:55"])
def test_normalise_mac_rejects(text: str) -> None:
    """Short, mixed-separator or non-hex MACs are rejected."""
    with pytest.raises(ValueError, match="not a valid MAC address"):
        normalise_mac(text)
