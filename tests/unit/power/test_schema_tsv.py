"""The registry's 13 power types against docs/power-types.tsv, row by row."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from power.registry import POWER_TYPES, get_power_type

TSV = Path(__file__).resolve().parents[3] / "docs" / "power-types.tsv"

#: Where the TSV (generated from the rendered 1.8 API doc) differs from 1.8 itself.
#: The doc renders each parameter as "name (label)." and the TSV generator stripped
#: the label's own final period: 1.8's power_schema.py label ends with ".)" and the
#: doc shows "...Y=node number).)."
TSV_ERRATA = {
    ("mscm", "node_id"): (
        "Node ID - Must adhere to cXnY format (X=cartridge number, Y=node number)",
        "Node ID - Must adhere to cXnY format (X=cartridge number, Y=node number).",
    ),
}

#: field_type of every non-plain-string field (maas18.md §7.1); the TSV does not say.
FIELD_TYPES = {
    ("ether_wake", "mac_address"): "mac_address",
    ("amt", "mac_address"): "mac_address",
    ("ipmi", "power_driver"): "choice",
    ("sm15k", "power_control"): "choice",
    ("apc", "power_on_delay"): "password",
}


def tsv_rows() -> list[dict[str, str]]:
    lines = [line for line in TSV.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


#: The TSV quotes values with typographic quotes (U+2018, U+2019).
OPEN, CLOSE = "\u2018", "\u2019"


def parse_choices(text: str) -> tuple[list[tuple[str, str]], str]:
    """("Choices: 'a' (A), 'b' (B) Default: 'a'.", typographic quotes) -> ([(a, A), (b, B)], a)."""
    before_default = text.split("Default:")[0].strip()
    choices = re.findall(rf"{OPEN}([^{CLOSE}]+){CLOSE} \((.*?)\)(?=,|\s+Default|$)", before_default)
    default = re.search(rf"Default: {OPEN}([^{CLOSE}]*){CLOSE}", text)
    return choices, default.group(1) if default else ""


ROWS = tsv_rows()


def test_tsv_has_13_power_types_in_registry_order() -> None:
    """The registry lists exactly the TSV's power types, in the same order."""
    names = list(dict.fromkeys(row["power_type"] for row in ROWS))
    assert len(names) == 13
    assert [t.name for t in POWER_TYPES] == names


@pytest.mark.parametrize("name", sorted({row["power_type"] for row in ROWS}))
def test_power_type_matches_tsv(name: str) -> None:
    """Description, parameter names and order, labels, choices and defaults are 1.8's."""
    rows = [row for row in ROWS if row["power_type"] == name]
    power_type = get_power_type(name)
    assert {row["description"] for row in rows} == {power_type.description}
    assert [s.name for s in power_type.settings] == [row["parameter"] for row in rows]
    for row, setting in zip(rows, power_type.settings, strict=True):
        expected_label = row["label"]
        if (name, setting.name) in TSV_ERRATA:
            tsv_label, real_label = TSV_ERRATA[(name, setting.name)]
            assert expected_label == tsv_label, "the TSV was fixed: drop the erratum"
            expected_label = real_label
        assert setting.label == expected_label
        choices, default = parse_choices(row["choices_and_default"] or "")
        assert list(setting.choices) == choices
        assert setting.default == default
        assert setting.required is False


@pytest.mark.parametrize("power_type", POWER_TYPES, ids=lambda t: t.name)
def test_field_types_are_18s(power_type) -> None:  # type: ignore[no-untyped-def]
    """power_pass is a password field, a few are MACs or choices, the rest strings."""
    for setting in power_type.settings:
        expected = FIELD_TYPES.get((power_type.name, setting.name))
        if expected is None:
            expected = "password" if setting.name == "power_pass" else "string"
        assert setting.field_type == expected, setting.name


def test_choice_parser_reads_the_tsv_format() -> None:
    """The helper above parses labels containing brackets and the default."""
    text = (f"Choices: {OPEN}LAN{CLOSE} (LAN [IPMI 1.5]), {OPEN}LAN_2_0{CLOSE} (LAN_2_0 [IPMI 2.0])"
            f" Default: {OPEN}LAN_2_0{CLOSE}.")
    assert parse_choices(text) == (
        [("LAN", "LAN [IPMI 1.5]"), ("LAN_2_0", "LAN_2_0 [IPMI 2.0]")], "LAN_2_0"
    )
