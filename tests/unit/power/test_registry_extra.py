"""The two power types beyond 1.8 (redfish, webhook) and the drivers of the 1.8 types."""

from __future__ import annotations

import pytest

from power.registry import (
    EXTRA_POWER_TYPES,
    POWER_TYPES,
    describe_power_types,
    driver_class,
    get_power_type,
    is_queryable,
    power_type_names,
    redact,
    validate_power_parameters,
)
from power.schema import ParameterErrors


def test_describe_stays_18_unless_asked() -> None:
    assert len(describe_power_types()) == 13
    assert "redfish" not in power_type_names()
    described = describe_power_types(include_extra=True)
    assert len(described) == 15
    assert [e["description"] for e in described] == sorted(e["description"] for e in described)
    assert {"redfish", "webhook"} <= {e["name"] for e in described}
    assert power_type_names(include_extra=True)[-2:] == ["redfish", "webhook"]


@pytest.mark.parametrize("power_type", EXTRA_POWER_TYPES, ids=lambda t: t.name)
def test_extra_types_are_marked_and_driven(power_type) -> None:  # type: ignore[no-untyped-def]
    assert "beyond MAAS 1.8" in power_type.description
    cls = driver_class(power_type.name)
    assert cls.power_type == power_type.name and cls.queryable == power_type.queryable
    assert is_queryable(power_type.name)
    assert get_power_type(power_type.name) is power_type


def test_every_18_type_has_a_driver_now() -> None:
    for power_type in POWER_TYPES:
        assert driver_class(power_type.name).power_type == power_type.name


def test_redfish_validation() -> None:
    cleaned = validate_power_parameters("redfish", {
        "power_address": " 127.0.0.14:8443 ", "power_auth": "session", "power_pass": "x"})
    assert cleaned["power_address"] == "127.0.0.14:8443"
    with pytest.raises(ParameterErrors) as caught:
        validate_power_parameters("redfish", {"power_verify_tls": "maybe",
                                              "power_address": "https://bmc/"})
    assert set(caught.value.errors) == {"power_verify_tls", "power_address"}
    verify = get_power_type("redfish").setting("power_verify_tls")
    assert verify is not None and verify.default == "no"


def test_webhook_secrets_are_redacted_everywhere() -> None:
    params = {"power_headers": "Authorization: Bearer t0k", "power_pass": "p",
              "power_on_uri": "http://h/{system_id}"}
    assert redact("webhook", params) == {"power_headers": "********", "power_pass": "********",
                                         "power_on_uri": "http://h/{system_id}"}
    assert redact("ipmi", {"power_headers": "x"}) == {"power_headers": "********"}
